// The handoff between the master and its children, in one place: the environment a child gets,
// by name. Set by master/spawn.cpp between fork and exec, read by child/child_state.cpp.
//
//   LISTEN_FDS=<n>            the listeners are fds 3 .. 3+n-1, in Config::listen order
//   LISTEN_PID=<child pid>    so a grandchild does not take them for its own
//   LISTEN_FDNAMES=a:b        one name per fd
//   NOTIFY_SOCKET=<state-dir>/run/notify-<generation>   READY=1, STOPPING=1, STATUS=...,
//                             MOLT_REQUEST=check|restart (protocol/notify_socket.hpp)
//   MOLT_ROLE=child
//   MOLT_GENERATION=<n>       MOLT_MASTER_PID=<pid>
//
// Signals: the drain signal (SIGTERM by default) tells a child to stop accepting, finish what
// it has and exit; the child also gets it when the master dies (PR_SET_PDEATHSIG). Children run
// in their own process group so a terminal's Ctrl-C reaches only the master, which then drains
// them.
#pragma once

namespace molt::internal::env {

// systemd's socket activation and sd_notify (man sd_listen_fds, sd_notify).
inline constexpr const char* kListenFds = "LISTEN_FDS";
inline constexpr const char* kListenPid = "LISTEN_PID";
inline constexpr const char* kListenFdNames = "LISTEN_FDNAMES";
inline constexpr const char* kNotifySocket = "NOTIFY_SOCKET";
inline constexpr int kFirstListenFd = 3;

// molt's own.
inline constexpr const char* kRole = "MOLT_ROLE";
inline constexpr const char* kRoleChild = "child";
inline constexpr const char* kGeneration = "MOLT_GENERATION";
inline constexpr const char* kMasterPid = "MOLT_MASTER_PID";
inline constexpr const char* kSupervise = "MOLT_SUPERVISE";  // "0": no master (Config::supervise)
// A master re-executing itself (master/handover.hpp): the fd its state is in, and "1" when the
// new code is only asked whether it could take over.
inline constexpr const char* kHandoverFd = "MOLT_HANDOVER_FD";
inline constexpr const char* kHandoverProbe = "MOLT_HANDOVER_PROBE";
// A message field on the notify socket (not in the environment): what a child asks the master.
inline constexpr const char* kRequestField = "MOLT_REQUEST";

}  // namespace molt::internal::env
