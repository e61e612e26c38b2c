// Names and errors of the files beside the binary, shared by the staging and the swap.
#pragma once

#include <cerrno>
#include <cstring>
#include <string>

namespace molt::internal {

inline std::string dir_of(const std::string& path) {
  std::size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

inline std::string base_of(const std::string& path) {
  std::size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// "<step> <path>: <strerror(errno)>", the one line a failed file operation reports.
inline std::string cause(const std::string& step, const std::string& path) {
  return step + " " + path + ": " + std::strerror(errno);
}

}  // namespace molt::internal
