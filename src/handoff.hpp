// The handoff protocol between the master and its children, in one place.
//
// Environment of a child (set by the master between fork and exec):
//   LISTEN_FDS=<n>            the listeners are fds 3 .. 3+n-1, in Config::listen order
//   LISTEN_PID=<child pid>    so a grandchild does not take them for its own
//   LISTEN_FDNAMES=a:b        one name per fd
//   NOTIFY_SOCKET=<state-dir>/run/notify-<generation>   send READY=1, STOPPING=1, STATUS=...
//   MOLT_ROLE=child
//   MOLT_GENERATION=<n>       MOLT_MASTER_PID=<pid>
// Signals: the drain signal (SIGTERM by default) tells a child to stop accepting, finish what
// it has and exit; the child also gets it when the master dies (PR_SET_PDEATHSIG).
// Children run in their own process group so a terminal's Ctrl-C reaches only the master, which
// then drains them.
#pragma once

#include <sys/types.h>

#include <molt/state.hpp>
#include <string>
#include <vector>

namespace molt::handoff {

inline constexpr const char* kRole = "MOLT_ROLE";
inline constexpr const char* kGeneration = "MOLT_GENERATION";
inline constexpr const char* kMasterPid = "MOLT_MASTER_PID";
inline constexpr const char* kRoleChild = "child";
inline constexpr int kFirstListenFd = 3;

struct SpawnRequest {
  std::string path;                 // the binary to execute
  std::vector<std::string> argv;    // argv[0] included
  std::vector<Listener> listeners;  // passed as fds 3..
  std::string notify_socket;
  unsigned generation = 0;
  int drain_signal = 15;
};

// Forks and executes a child. Returns its pid, or -1 with `error` set; `exec_failed` says
// whether the file itself could not be executed (rather than a pipe or fork failing).
pid_t spawn_child(const SpawnRequest& request, std::string& error, bool& exec_failed);

// This process's arguments, as the master re-executes them.
std::vector<std::string> own_argv();

}  // namespace molt::handoff
