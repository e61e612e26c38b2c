#include "protocol/control.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/address.hpp"
#include "util/fd.hpp"

namespace molt::internal::control {

std::string socket_path(const std::string& state_dir) { return state_dir + "/" + kSocketName; }

std::optional<std::string> ask(const std::string& socket_path, const std::string& request,
                               std::string& error) {
  sockaddr_un sa;
  std::optional<socklen_t> length = unix_socket_address(socket_path, sa);
  if (!length) {
    error = "control socket " + socket_path + ": the path is too long for a unix socket";
    return std::nullopt;
  }
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd || ::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), *length) != 0) {
    error = "no master answers at " + socket_path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  std::string line = request + "\n";
  for (std::size_t done = 0; done < line.size();) {
    ssize_t n = ::send(fd.get(), line.data() + done, line.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 && (errno == EPIPE || errno == ECONNRESET)) break;  // it answered already?
    if (n <= 0) {
      error = "control socket " + socket_path + ": send: " + std::strerror(errno);
      return std::nullopt;
    }
    done += static_cast<std::size_t>(n);
  }
  // Up to the end of the line: what follows (EOF, or a reset) says nothing more.
  std::string answer;
  char buffer[4096];
  while (answer.find('\n') == std::string::npos) {
    ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = "control socket " + socket_path + ": read: " + std::strerror(errno);
      return std::nullopt;
    }
    if (n == 0) break;
    answer.append(buffer, static_cast<std::size_t>(n));
    if (answer.size() > kMaxAnswer) {
      error = "control socket " + socket_path + ": the answer is larger than " +
              std::to_string(kMaxAnswer) + " bytes";
      return std::nullopt;
    }
  }
  std::size_t end = answer.find('\n');
  if (end == std::string::npos) {
    error = "the master at " + socket_path + " closed the connection without a whole answer";
    return std::nullopt;
  }
  answer.resize(end);
  return answer;
}

}  // namespace molt::internal::control
