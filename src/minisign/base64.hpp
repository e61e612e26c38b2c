// Standard base64 (RFC 4648, with padding), decoded as strictly as minisign does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace molt::internal {

std::string base64_encode(const std::uint8_t* data, std::size_t size);

// Nullopt unless `text` is whole 4-character groups of the standard alphabet, with '=' padding
// only at the end; no whitespace is skipped.
std::optional<std::vector<std::uint8_t>> base64_decode(std::string_view text);

}  // namespace molt::internal
