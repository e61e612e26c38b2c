#include "util/address.hpp"

#include <arpa/inet.h>
#include <sys/un.h>

#include <charconv>
#include <cstring>

namespace molt::internal {

std::optional<socklen_t> unix_socket_address(const std::string& name, sockaddr_un& sa) {
  if (name.empty() || name.size() > kMaxUnixSocketName) return std::nullopt;
  sa = {};
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path, name.data(), name.size());
  if (name.starts_with("@")) sa.sun_path[0] = '\0';  // abstract: the length says where it ends
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size() +
                                (name.starts_with("@") ? 0 : 1));
}

std::string Address::to_string() const {
  if (kind == Kind::kUnix) return "unix:" + path;
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

std::optional<Address> address_from(const sockaddr_storage& storage) {
  Address address;
  char host[INET6_ADDRSTRLEN] = {};
  if (storage.ss_family == AF_INET) {
    const auto* sa = reinterpret_cast<const sockaddr_in*>(&storage);
    inet_ntop(AF_INET, &sa->sin_addr, host, sizeof host);
    address.host = host;
    address.port = ntohs(sa->sin_port);
  } else if (storage.ss_family == AF_INET6) {
    const auto* sa = reinterpret_cast<const sockaddr_in6*>(&storage);
    inet_ntop(AF_INET6, &sa->sin6_addr, host, sizeof host);
    address.host = host;
    address.port = ntohs(sa->sin6_port);
  } else if (storage.ss_family == AF_UNIX) {
    const auto* sa = reinterpret_cast<const sockaddr_un*>(&storage);
    address.kind = Address::Kind::kUnix;
    address.path = std::string(sa->sun_path, strnlen(sa->sun_path, sizeof sa->sun_path));
  } else {
    return std::nullopt;
  }
  return address;
}

std::string local_address_text(int fd) {
  sockaddr_storage storage{};
  socklen_t length = sizeof storage;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &length) != 0) return "";
  std::optional<Address> address = address_from(storage);
  return address ? address->to_string() : "";
}

std::optional<std::vector<Address>> parse_addresses(const std::vector<std::string>& texts,
                                                    std::string& error) {
  std::vector<Address> addresses;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    std::optional<Address> a = parse_address(texts[i], static_cast<int>(i), error);
    if (!a) return std::nullopt;
    addresses.push_back(*a);
  }
  return addresses;
}

std::optional<Address> parse_address(std::string_view text, int index, std::string& error) {
  auto fail = [&](const std::string& why) {
    error = "listen address \"" + std::string(text) + "\": " + why;
    return std::nullopt;
  };
  Address address;
  std::string_view rest = text;
  if (std::size_t eq = rest.find('='); eq != std::string_view::npos) {
    address.name = rest.substr(0, eq);
    rest.remove_prefix(eq + 1);
    // systemd separates LISTEN_FDNAMES with ':' and caps names at 255 printable characters.
    for (char c : address.name) {
      if (c == ':' || c < 0x21 || c > 0x7e) return fail("a name may not contain ':' or spaces");
    }
    if (address.name.empty() || address.name.size() > 255) return fail("empty or too long name");
  } else {
    address.name = "listen" + std::to_string(index);
  }
  if (rest.starts_with("unix:")) {
    address.kind = Address::Kind::kUnix;
    address.path = rest.substr(5);
    if (address.path.empty()) return fail("empty unix socket path");
    if (address.path.size() > kMaxUnixSocketName) {
      return fail("unix socket path longer than " + std::to_string(kMaxUnixSocketName) + " bytes");
    }
    return address;
  }
  std::string_view port_text;
  if (rest.starts_with("[")) {
    std::size_t close = rest.find(']');
    if (close == std::string_view::npos) return fail("missing ']'");
    address.host = rest.substr(1, close - 1);
    if (rest.substr(close + 1, 1) != ":") return fail("expected ':PORT' after ']'");
    port_text = rest.substr(close + 2);
    in6_addr v6;
    if (inet_pton(AF_INET6, address.host.c_str(), &v6) != 1) return fail("bad IPv6 address");
  } else {
    std::size_t colon = rest.rfind(':');
    if (colon == std::string_view::npos) return fail("expected HOST:PORT, [V6]:PORT or unix:PATH");
    address.host = rest.substr(0, colon);
    port_text = rest.substr(colon + 1);
    if (address.host.find(':') != std::string::npos) return fail("IPv6 needs brackets: [::1]:80");
    if (address.host == "localhost") address.host = "127.0.0.1";
    in_addr v4;
    if (!address.host.empty() && inet_pton(AF_INET, address.host.c_str(), &v4) != 1) {
      return fail("bad IPv4 address (give a numeric address)");
    }
  }
  auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), address.port);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() ||
      address.port < 0 || address.port > 65535) {
    return fail("port must be a number from 0 to 65535");
  }
  return address;
}

}  // namespace molt::internal
