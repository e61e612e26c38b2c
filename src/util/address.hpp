// Listen addresses: "host:port", "[v6]:port", ":port", "unix:/path", each optionally "NAME=...".
#pragma once

#include <sys/socket.h>
#include <sys/un.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace molt::internal {

struct Address {
  enum class Kind { kTcp, kUnix };
  Kind kind = Kind::kTcp;
  std::string name;  // LISTEN_FDNAMES entry: given, or "listen<N>"
  std::string host;  // "" = every address; IPv6 without brackets
  int port = 0;
  std::string path;  // kUnix

  // Canonical text: "127.0.0.1:80", "[::1]:80", ":80", "unix:/run/a.sock".
  std::string to_string() const;
};

// What a socket address from getsockname, getpeername or accept names (IPv4, IPv6, unix);
// nullopt for another family. The one place socket addresses become text.
std::optional<Address> address_from(const sockaddr_storage& storage);
// The local address of a bound socket, as Address::to_string() writes it; "" if it has none.
std::string local_address_text(int fd);

// A unix socket's address for bind, connect or sendto: a path, or "@name" in the abstract
// namespace (systemd's NOTIFY_SOCKET form); the length to pass with it. nullopt when the name
// does not fit in sun_path (107 bytes and a NUL): never truncated, which would name another file.
std::optional<socklen_t> unix_socket_address(const std::string& name, sockaddr_un& sa);
// The longest name unix_socket_address takes.
constexpr std::size_t kMaxUnixSocketName = sizeof(sockaddr_un::sun_path) - 1;

// `index` names an unnamed address "listen<index>".
std::optional<Address> parse_address(std::string_view text, int index, std::string& error);
// Config::listen, in order; the first bad one is the error.
std::optional<std::vector<Address>> parse_addresses(const std::vector<std::string>& texts,
                                                    std::string& error);

}  // namespace molt::internal
