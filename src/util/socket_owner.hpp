// Which process accepted a TCP connection this process opened, for readiness probes on a
// listener that several children share: the kernel hands a connection to whichever of them
// accepts first, so an answer alone does not say which child gave it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace molt::internal {

// The inode of the socket at the other end of `client`, a connected TCP socket to a local
// listener: 0 while the connection waits in the listener's queue, accepted by no one yet.
// nullopt with `error` when the other end is gone (closed) or cannot be asked for (sock_diag).
std::optional<std::uint64_t> accepted_socket_inode(int client, std::string& error);

// Which of `leaders` holds socket `inode`, itself or through a process of its process group (a
// pre-forked worker): the leader's pid, or nullopt when none of them does (yet: accept(2) makes
// the socket before it gives it an fd).
std::optional<pid_t> group_holding_socket(std::uint64_t inode, const std::vector<pid_t>& leaders);

}  // namespace molt::internal
