#include "util/socket_owner.hpp"

#include <dirent.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "util/fd.hpp"
#include "util/proc_stat.hpp"

namespace molt::internal {
namespace {

// The connection's other end seen from the listener's side: its source is our peer.
bool describe_other_end(int client, inet_diag_sockid& id, std::uint8_t& family) {
  sockaddr_storage local{}, peer{};
  socklen_t local_length = sizeof local, peer_length = sizeof peer;
  if (::getsockname(client, reinterpret_cast<sockaddr*>(&local), &local_length) != 0 ||
      ::getpeername(client, reinterpret_cast<sockaddr*>(&peer), &peer_length) != 0) {
    return false;
  }
  family = static_cast<std::uint8_t>(peer.ss_family);
  if (peer.ss_family == AF_INET && local.ss_family == AF_INET) {
    const auto& them = reinterpret_cast<const sockaddr_in&>(peer);
    const auto& us = reinterpret_cast<const sockaddr_in&>(local);
    id.idiag_sport = them.sin_port;
    id.idiag_dport = us.sin_port;
    std::memcpy(id.idiag_src, &them.sin_addr, sizeof them.sin_addr);
    std::memcpy(id.idiag_dst, &us.sin_addr, sizeof us.sin_addr);
    return true;
  }
  if (peer.ss_family == AF_INET6 && local.ss_family == AF_INET6) {
    const auto& them = reinterpret_cast<const sockaddr_in6&>(peer);
    const auto& us = reinterpret_cast<const sockaddr_in6&>(local);
    id.idiag_sport = them.sin6_port;
    id.idiag_dport = us.sin6_port;
    std::memcpy(id.idiag_src, &them.sin6_addr, sizeof them.sin6_addr);
    std::memcpy(id.idiag_dst, &us.sin6_addr, sizeof us.sin6_addr);
    return true;
  }
  errno = EAFNOSUPPORT;
  return false;
}

bool process_holds(pid_t pid, const std::string& link) {
  std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  std::unique_ptr<DIR, int (*)(DIR*)> fds(::opendir(dir.c_str()), ::closedir);
  if (!fds) return false;
  char target[64];
  while (dirent* entry = ::readdir(fds.get())) {
    if (entry->d_name[0] == '.') continue;
    ssize_t n = ::readlinkat(::dirfd(fds.get()), entry->d_name, target, sizeof target);
    if (n == static_cast<ssize_t>(link.size()) && link.compare(0, link.size(), target, n) == 0) {
      return true;
    }
  }
  return false;
}

}  // namespace

std::optional<std::uint64_t> accepted_socket_inode(int client, std::string& error) {
  struct {
    nlmsghdr header;
    inet_diag_req_v2 request;
  } message{};
  message.header.nlmsg_len = sizeof message;
  message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  message.header.nlmsg_flags = NLM_F_REQUEST;  // one socket, looked up by its four-tuple
  message.request.sdiag_protocol = IPPROTO_TCP;
  message.request.idiag_states = ~0U;
  message.request.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
  message.request.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
  if (!describe_other_end(client, message.request.id, message.request.sdiag_family)) {
    error = std::string("the probe's connection: ") + std::strerror(errno);
    return std::nullopt;
  }
  Fd diag(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (!diag || ::sendto(diag.get(), &message, sizeof message, 0,
                        reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0) {
    error = std::string("sock_diag: ") + std::strerror(errno);
    return std::nullopt;
  }
  alignas(nlmsghdr) char answer[4096];
  ssize_t n;
  do {
    n = ::recv(diag.get(), answer, sizeof answer, 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    error = std::string("sock_diag: ") + std::strerror(errno);
    return std::nullopt;
  }
  auto length = static_cast<unsigned>(n);
  for (auto* h = reinterpret_cast<nlmsghdr*>(answer); NLMSG_OK(h, length);
       h = NLMSG_NEXT(h, length)) {
    if (h->nlmsg_type == NLMSG_ERROR) {
      int cause = -static_cast<const nlmsgerr*>(NLMSG_DATA(h))->error;
      error = cause == ENOENT ? "the connection was closed at the other end"
                              : std::string("sock_diag: ") + std::strerror(cause);
      return std::nullopt;
    }
    if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY &&
        h->nlmsg_len >= NLMSG_LENGTH(sizeof(inet_diag_msg))) {
      const auto* socket = static_cast<const inet_diag_msg*>(NLMSG_DATA(h));
      if (socket->idiag_state != TCP_ESTABLISHED) {  // FIN_WAIT, CLOSING...: it let go
        error = "the connection was closed at the other end";
        return std::nullopt;
      }
      return socket->idiag_inode;
    }
  }
  error = "sock_diag: no answer about the probe's connection";
  return std::nullopt;
}

std::optional<pid_t> group_holding_socket(std::uint64_t inode, const std::vector<pid_t>& leaders) {
  std::string link = "socket:[" + std::to_string(inode) + "]";
  for (pid_t leader : leaders) {
    if (process_holds(leader, link)) return leader;
  }
  // A pre-forked worker: any process in one of their groups.
  std::optional<pid_t> holder;
  for_each_live_process([&](pid_t pid, const ProcStat& stat) {
    if (!holder && std::find(leaders.begin(), leaders.end(), stat.pgid) != leaders.end() &&
        process_holds(pid, link)) {
      holder = stat.pgid;
    }
  });
  return holder;
}

}  // namespace molt::internal
