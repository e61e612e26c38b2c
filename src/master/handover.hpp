// A master upgrading itself: once a new build has passed probation, the master re-executes
// itself from <bin> (execve: the same pid, so its children, their process groups and systemd's
// MAINPID stay), and hands the new code what it supervised. The descriptors (listeners, each
// child's notify socket, the lock, the control socket) survive the exec by losing close-on-exec;
// the rest is written here as text into a memfd whose number is in MOLT_HANDOVER_FD. Each line
// is one flat JSON object with a "kind": master, listener, child, bad, count, check.
//
// Before the exec, the new build is started once as a probe (MOLT_HANDOVER_PROBE=1) on the same
// state: it must parse it and find every descriptor, or the master keeps its old code.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <molt/state.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/fd.hpp"

namespace molt::internal {

struct Handover {
  struct Child {
    pid_t pid = 0;
    unsigned generation = 0;
    std::string build_id;
    int notify_fd = -1;
    std::string notify_path;
    std::uint64_t start_ticks = 0;
    double ready_at = 0;
  };
  struct LastCheck {
    double time = 0;
    std::string outcome, message;
  };

  std::string from_build;  // the code that wrote it
  double started_at = 0;   // the master's first start, Unix seconds
  unsigned generation = 0;
  bool announced_ready = false;
  std::string systemd_notify_socket;
  std::string notify_dir;
  bool own_notify_dir = false;
  int lock_fd = -1;
  int control_fd = -1;  // -1: no control socket
  std::vector<Listener> listeners;
  std::vector<Child> children;  // the serving child: a master re-executes only when it is alone
  std::vector<std::string> bad_builds;
  std::map<std::string, std::uint64_t> counts;  // metrics: "checks/<outcome>", "upgrades/...", ...
  std::optional<LastCheck> last_check;

  // Every descriptor it names, so they can be kept open across the exec.
  std::vector<int> fds() const;
};

std::string encode_handover(const Handover& handover);
// Checks each line and that every descriptor it names is open. nullopt and one line otherwise.
std::optional<Handover> decode_handover(std::string_view text, std::string& error);

// `text` in a memfd, at offset 0 and without close-on-exec.
std::optional<Fd> handover_memfd(const std::string& text, std::string& error);
// The memfd whose number MOLT_HANDOVER_FD holds, read whole (and closed).
std::optional<std::string> read_handover_fd(const char* fd_text, std::string& error);

}  // namespace molt::internal
