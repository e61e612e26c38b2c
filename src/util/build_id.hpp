// The BuildID reader of molt/build_id.hpp, for callers that name the file themselves.
#pragma once

#include <optional>
#include <string>

namespace molt::internal {

// The BuildID of the file at `path`, or nullopt with `cause` (without the path): a malformed
// ELF, an empty file, or the error of open(2).
std::optional<std::string> build_id_or_cause(const std::string& path, std::string& cause);

// Whether the file starts as an ELF file does (an unreadable one is not).
bool is_elf_file(const std::string& path);

}  // namespace molt::internal
