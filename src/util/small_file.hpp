// Reading a small file that comes from outside the process (a key, a state file, a list of
// headers) without trusting what sits at the path: only a regular file is read, the open never
// blocks (a FIFO would wait for a writer for ever) and the size is bounded. Header-only so the
// fetchers (a library of their own) use the same rule.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <string>

namespace molt::internal {

// "a directory", "a FIFO", ...: what a path is when it is not a regular file.
inline const char* file_kind(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISLNK(mode)) return "a symbolic link";
  return S_ISREG(mode) ? "a regular file" : "not a file";
}

// The whole file, or nullopt with `error` = "<path>: <cause>". ENOENT is left in errno so a
// caller can tell "absent" from "unreadable".
inline std::optional<std::string> read_small_file(const std::string& path, std::size_t max_size,
                                                  std::string& error) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    int cause = errno;
    error = path + ": " + std::strerror(cause);
    errno = cause;
    return std::nullopt;
  }
  struct stat st {};
  std::optional<std::string> text;
  if (::fstat(fd, &st) != 0) {
    error = path + ": " + std::strerror(errno);
  } else if (!S_ISREG(st.st_mode)) {
    error = path + ": is " + file_kind(st.st_mode) + ", not a regular file";
  } else if (static_cast<std::uint64_t>(st.st_size) > max_size) {
    error = path + ": larger than " + std::to_string(max_size) + " bytes";
  } else {
    text.emplace();
    char buffer[4096];
    for (;;) {
      ssize_t n = ::read(fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        error = path + ": read: " + std::strerror(errno);
        text.reset();
        break;
      }
      if (n == 0) break;
      if (text->size() + static_cast<std::size_t>(n) > max_size) {
        error = path + ": larger than " + std::to_string(max_size) + " bytes";
        text.reset();
        break;
      }
      text->append(buffer, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  if (!text) errno = 0;
  return text;
}

}  // namespace molt::internal
