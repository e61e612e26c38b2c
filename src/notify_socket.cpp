#include "notify_socket.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>
#include <utility>

namespace molt {
namespace {

socklen_t make_address(const std::string& name, sockaddr_un& sa) {
  sa = {};
  sa.sun_family = AF_UNIX;
  std::size_t n = std::min(name.size(), sizeof sa.sun_path - 1);
  std::memcpy(sa.sun_path, name.data(), n);
  if (name.starts_with("@")) sa.sun_path[0] = '\0';
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + n);
}

std::map<std::string, std::string> parse_message(std::string_view text) {
  std::map<std::string, std::string> fields;
  std::istringstream lines{std::string(text)};
  std::string line;
  while (std::getline(lines, line)) {
    std::size_t eq = line.find('=');
    if (eq != std::string::npos) fields[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return fields;
}

}  // namespace

std::optional<NotifySocket> NotifySocket::create(int master_pid, unsigned generation,
                                                 std::string& error) {
  std::string name = "@molt/" + std::to_string(master_pid) + "/" + std::to_string(generation);
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_un sa;
  socklen_t length = make_address(name, sa);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&sa), length) != 0) {
    error = "notify socket " + name + ": " + std::strerror(errno);
    if (fd >= 0) ::close(fd);
    return std::nullopt;
  }
  return NotifySocket(fd, name);
}

NotifySocket::NotifySocket(NotifySocket&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), name_(std::move(other.name_)) {}

NotifySocket& NotifySocket::operator=(NotifySocket&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    name_ = std::move(other.name_);
  }
  return *this;
}

NotifySocket::~NotifySocket() {
  if (fd_ >= 0) ::close(fd_);
}

std::vector<std::map<std::string, std::string>> NotifySocket::receive() {
  std::vector<std::map<std::string, std::string>> messages;
  char buffer[4096];
  for (;;) {
    ssize_t n = ::recv(fd_, buffer, sizeof buffer, MSG_DONTWAIT);
    if (n < 0) break;
    messages.push_back(parse_message(std::string_view(buffer, static_cast<std::size_t>(n))));
  }
  return messages;
}

bool notify(const std::string& socket_name, const std::string& message) {
  if (socket_name.empty()) return false;
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un sa;
  socklen_t length = make_address(socket_name, sa);
  ssize_t sent = ::sendto(fd, message.data(), message.size(), MSG_NOSIGNAL,
                          reinterpret_cast<sockaddr*>(&sa), length);
  ::close(fd);
  return sent == static_cast<ssize_t>(message.size());
}

}  // namespace molt
