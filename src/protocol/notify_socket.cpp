#include "protocol/notify_socket.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>
#include <utility>

#include "util/address.hpp"
#include "util/fd.hpp"

namespace molt::internal {
namespace {

constexpr std::size_t kMaxDatagram = 4096;
constexpr const char* kPrefix = "/notify-";
constexpr std::size_t kMaxGenerationDigits = 10;

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

std::size_t max_notify_dir_length() {
  return kMaxUnixSocketName - std::strlen(kPrefix) - kMaxGenerationDigits;
}

std::optional<NotifySocket> NotifySocket::create(const std::string& dir, unsigned generation,
                                                 std::string& error) {
  std::string name = dir + kPrefix + std::to_string(generation);
  if (dir.size() > max_notify_dir_length()) {
    error = "notify socket " + name + ": path too long for a unix socket";
    return std::nullopt;
  }
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  sockaddr_un sa;
  socklen_t length = unix_socket_address(name, sa).value_or(0);  // fits: checked above
  ::unlink(name.c_str());  // a killed master's socket: the folder is ours alone
  if (fd < 0 || ::setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) != 0 ||
      ::bind(fd, reinterpret_cast<sockaddr*>(&sa), length) != 0) {
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
    release();
    fd_ = std::exchange(other.fd_, -1);
    name_ = std::move(other.name_);
  }
  return *this;
}

NotifySocket::~NotifySocket() { release(); }

void NotifySocket::release() {
  if (fd_ < 0) return;
  ::close(fd_);
  ::unlink(name_.c_str());
  fd_ = -1;
}

std::vector<NotifySocket::Message> NotifySocket::receive(pid_t leader) {
  std::vector<Message> messages;
  char buffer[kMaxDatagram];
  // Room for the credentials and as many fds as one datagram can carry (SCM_MAX_FD).
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred)) + CMSG_SPACE(sizeof(int) * 253)];
  for (;;) {
    iovec iov{buffer, sizeof buffer};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = ::recvmsg(fd_, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0) break;
    Message message;
    bool has_sender = false;
    std::vector<int> fds;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET) continue;
      if (c->cmsg_type == SCM_RIGHTS) {
        std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (std::size_t i = 0; i < count; ++i) {
          int fd;
          std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
          fds.push_back(fd);
        }
      } else if (c->cmsg_type == SCM_CREDENTIALS) {
        ucred cred;
        std::memcpy(&cred, CMSG_DATA(c), sizeof cred);
        message.pid = cred.pid;
        message.uid = cred.uid;
        has_sender = true;
      }
    }
    message.from_group = has_sender && sent_by_group(message.pid, leader);
    for (int fd : fds) ::close(fd);
    if ((msg.msg_flags & MSG_TRUNC) || !has_sender) continue;
    message.fields = parse_message(std::string_view(buffer, static_cast<std::size_t>(n)));
    messages.push_back(std::move(message));
  }
  return messages;
}

bool sent_by_group(pid_t sender, pid_t leader) {
  return sender > 0 && leader > 0 && (sender == leader || ::getpgid(sender) == leader);
}

bool notify(const std::string& socket_name, const std::string& message) {
  if (socket_name.empty()) return false;
  Fd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd) return false;
  sockaddr_un sa;
  std::optional<socklen_t> length = unix_socket_address(socket_name, sa);
  if (!length) return false;  // never a truncated name, which could be another socket
  ssize_t sent = ::sendto(fd.get(), message.data(), message.size(), MSG_NOSIGNAL,
                          reinterpret_cast<sockaddr*>(&sa), *length);
  return sent == static_cast<ssize_t>(message.size());
}

}  // namespace molt::internal
