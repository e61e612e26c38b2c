// One-shot BLAKE2b (RFC 7693) with any digest length from 1 to 64 bytes, unkeyed.
//
// OpenSSL 3.0 offers BLAKE2b only with a 64-byte digest (its "size" parameter arrives in 3.2),
// and a shorter BLAKE2b is not a truncation of the long one. minisign's secret key checksum is
// BLAKE2b-256, so molt computes it here; streaming file digests still use OpenSSL.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace molt::internal {

std::vector<std::uint8_t> blake2b(std::size_t digest_size, const void* data, std::size_t size);

}  // namespace molt::internal
