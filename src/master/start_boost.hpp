// A new child starts a few nice levels above the master (Config::start_boost): on a saturated
// CPU, Linux shares time per thread, and a starting child's one thread would otherwise get a
// thin slice against the serving child's busy threads, so an upgrade would take several times
// as long as idle. Where the kernel shares it per session first (autogroups), the boost is on
// the session the child leads (spawn.cpp) too. The boost ends when the child is ready or once it
// has used a CPU budget (Config::start_boost_cpu), whichever comes first: a child whose start is
// heavy work takes at most that much from the serving children at the higher priority.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace molt::internal {

class StartBoost {
 public:
  using Clock = std::chrono::steady_clock;
  using TimePoint = Clock::time_point;
  // How often a boosted child's CPU time is read: only while one starts.
  static constexpr std::chrono::milliseconds kCheckEvery{20};

  // `steps` nice levels above this process's own; 0 is off. Raising a priority takes
  // CAP_SYS_NICE or an RLIMIT_NICE that allows it (systemd: LimitNICE=); without either the
  // children start at the master's priority and `unavailable()` says why.
  StartBoost(int steps, std::chrono::milliseconds cpu_budget);

  // The nice value a new child sets itself to before exec, or nullopt: no boost.
  std::optional<int> child_nice() const { return child_nice_; }
  // The nice value the master gives the autogroup of the session a new child leads (where the
  // kernel has them), or nullopt: the default, 0. Half as many levels above the master's session's
  // as child_nice() is above the master, else that of the master's session. A whole session at the
  // full boost outweighs the serving child's about 9 to 1, and left it one of two saturated cores
  // while the new child started: in interleaved A/Bs under a keep-alive load the window's largest
  // latency rose by half. Half the levels (3 to 1) kept the new child's start as prompt and the
  // window's latencies where they were (bench/RESULTS.md, section 1).
  std::optional<int> child_autogroup_nice() const { return child_autogroup_nice_; }
  const std::string& unavailable() const { return unavailable_; }

  // Child `pid` (leader of its own session) was started with child_nice(): its session's
  // autogroup is set to child_autogroup_nice() here, and again by tick() while the kernel refuses
  // (EAGAIN: it takes one change of any autogroup per 100 ms from a process without
  // CAP_SYS_ADMIN, and another molt or the check helper may have made one).
  void started(pid_t pid, TimePoint now);
  // Child `pid` is ready: its whole group goes back to the master's priority.
  void ready(pid_t pid);
  void exited(pid_t pid);
  // Ends the boosts that are over; returns a line for the log for each it ended.
  std::vector<std::string> tick(TimePoint now);
  std::optional<TimePoint> next_deadline() const;

 private:
  struct Boosted {
    pid_t pid = 0;
    TimePoint next_check{};
    // Ready, or its CPU budget used: reset then, and once more at the next check for a thread
    // that was being created meanwhile (and for the autogroup, until the kernel takes it); then
    // forgotten.
    bool over = false;
    bool session_pending = false;  // its autogroup's change was refused for now
  };
  // False when the autogroup's change was refused for now.
  bool reset(pid_t pid);

  std::chrono::milliseconds cpu_budget_;
  std::uint64_t budget_ticks_;  // the same in /proc's clock ticks
  int base_ = 0;
  std::optional<int> child_nice_;
  std::optional<int> child_autogroup_nice_;
  std::optional<int> base_autogroup_;  // the master's session's, where there are autogroups
  std::string unavailable_;
  std::vector<Boosted> boosted_;
};

}  // namespace molt::internal
