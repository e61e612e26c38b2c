#include "master/master_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace molt::internal {

std::optional<Fd> take_master_lock(const std::string& state_dir, const std::string& bin_path,
                                   std::string& error) {
  const std::string path = state_dir + "/lock";
  Fd lock(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600));
  if (!lock) {
    error = "lock " + path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  int fd = lock.get();
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int cause = errno;
    char holder[32] = {};
    ssize_t n = ::pread(fd, holder, sizeof holder - 1, 0);
    std::string pid = n > 0 ? std::string(holder, static_cast<std::size_t>(n)) : "";
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
    if (cause == EWOULDBLOCK) {
      error = "another master (pid " + (pid.empty() ? std::string("unknown") : pid) + ") runs " +
              bin_path + " (lock " + path + ")";
    } else {
      error = "lock " + path + ": " + std::strerror(cause);
    }
    return std::nullopt;
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    error = "lock " + path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  return lock;
}

}  // namespace molt::internal
