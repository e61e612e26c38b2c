// A new child starts a few nice levels above the master (Config::start_boost): on a saturated
// CPU, Linux shares time per thread, and a starting child's one thread would otherwise get a
// thin slice against the serving child's busy threads, so an upgrade would take several times
// as long as idle. The boost ends when the child is ready or once it has used a CPU budget
// (Config::start_boost_cpu), whichever comes first: a child whose start is heavy work takes at
// most that much from the serving children at the higher priority.
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
  const std::string& unavailable() const { return unavailable_; }

  // Child `pid` (leader of its own process group) was started with child_nice().
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
    bool ready = false;  // reset once at ready(); once more at the next check for a thread
                         // that was being created meanwhile, then forgotten
  };
  void reset(pid_t pid);

  std::chrono::milliseconds cpu_budget_;
  std::uint64_t budget_ticks_;  // the same in /proc's clock ticks
  int base_ = 0;
  std::optional<int> child_nice_;
  std::string unavailable_;
  std::vector<Boosted> boosted_;
};

}  // namespace molt::internal
