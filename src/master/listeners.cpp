#include "master/listeners.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace molt::internal {
namespace {

constexpr int kBacklog = 4096;  // the kernel caps it at net.core.somaxconn

int open_tcp(const Address& address, std::string& error) {
  bool v6 = address.host.find(':') != std::string::npos || address.host.empty();
  sockaddr_storage storage{};
  socklen_t length;
  if (v6) {
    auto* sa = reinterpret_cast<sockaddr_in6*>(&storage);
    sa->sin6_family = AF_INET6;
    sa->sin6_port = htons(static_cast<std::uint16_t>(address.port));
    sa->sin6_addr = in6addr_any;
    if (!address.host.empty()) inet_pton(AF_INET6, address.host.c_str(), &sa->sin6_addr);
    length = sizeof(sockaddr_in6);
  } else {
    auto* sa = reinterpret_cast<sockaddr_in*>(&storage);
    sa->sin_family = AF_INET;
    sa->sin_port = htons(static_cast<std::uint16_t>(address.port));
    inet_pton(AF_INET, address.host.c_str(), &sa->sin_addr);
    length = sizeof(sockaddr_in);
  }
  int fd = ::socket(storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = "socket: " + std::string(std::strerror(errno));
    return -1;
  }
  int one = 1, zero = 0;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  // ":port" means both families on one socket.
  if (v6 && address.host.empty()) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&storage), length) != 0 ||
      ::listen(fd, kBacklog) != 0) {
    error = std::strerror(errno);
    ::close(fd);
    return -1;
  }
  return fd;
}

int open_unix(const Address& address, std::string& error) {
  sockaddr_un sa;
  std::optional<socklen_t> length = unix_socket_address(address.path, sa);
  if (!length) {  // parse_address refused it already
    error = address.path + ": too long for a unix socket";
    return -1;
  }
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = "socket: " + std::string(std::strerror(errno));
    return -1;
  }
  // A socket file left by a previous run would make bind fail; only a socket is removed.
  struct stat st {};
  if (::lstat(address.path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
    ::unlink(address.path.c_str());
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), *length) != 0 || ::listen(fd, kBacklog) != 0) {
    error = std::strerror(errno);
    ::close(fd);
    return -1;
  }
  return fd;
}

// The address as configured (":80" stays "every address"), with the port the kernel chose for ":0".
std::string bound_address(int fd, const Address& address) {
  if (address.kind == Address::Kind::kUnix) return address.to_string();
  sockaddr_storage storage{};
  socklen_t length = sizeof storage;
  Address bound = address;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &length) == 0) {
    if (std::optional<Address> local = address_from(storage)) bound.port = local->port;
  }
  return bound.to_string();
}

}  // namespace

std::vector<Listener> open_listeners(const std::vector<Address>& addresses, std::string& error) {
  std::vector<Listener> listeners;
  for (const Address& address : addresses) {
    std::string cause;
    int fd =
        address.kind == Address::Kind::kUnix ? open_unix(address, cause) : open_tcp(address, cause);
    if (fd < 0) {
      error = "listen on " + address.to_string() + ": " + cause;
      close_listeners(listeners);
      return {};
    }
    listeners.push_back({fd, address.name, bound_address(fd, address)});
  }
  return listeners;
}

void close_listeners(std::vector<Listener>& listeners) {
  for (Listener& l : listeners) ::close(l.fd);
  listeners.clear();
}

}  // namespace molt::internal
