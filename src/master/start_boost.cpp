#include "master/start_boost.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "util/priority.hpp"
#include "util/proc_stat.hpp"

namespace molt::internal {

StartBoost::StartBoost(int steps, std::chrono::milliseconds cpu_budget)
    : cpu_budget_(cpu_budget),
      budget_ticks_(
          static_cast<std::uint64_t>(cpu_budget.count() * ::sysconf(_SC_CLK_TCK) / 1000)) {
  errno = 0;
  int own = ::getpriority(PRIO_PROCESS, 0);
  if (errno != 0) return;
  base_ = own;
  // A child's session competes as the master's did (its autogroup at the same value: a new one
  // starts at 0), and its boost counts from there.
  base_autogroup_ = own_autogroup_nice();
  if (base_autogroup_ && *base_autogroup_ != 0) child_autogroup_nice_ = base_autogroup_;
  if (steps <= 0) return;
  int target = std::max(-20, own - steps);
  if (target == own) return;  // already at the top
  unavailable_ = why_priority_cannot_rise_to(target);
  if (!unavailable_.empty()) return;
  child_nice_ = target;
  if (base_autogroup_ && steps / 2 > 0) {
    child_autogroup_nice_ = std::max(-20, *base_autogroup_ - steps / 2);
  }
}

void StartBoost::started(pid_t pid, TimePoint now) {
  if (!child_nice_ && !child_autogroup_nice_) return;
  // Without a boost to end, only the session's value to set: the master's session's, which
  // reset() gives.
  Boosted boosted{.pid = pid, .next_check = now + kCheckEvery, .over = !child_nice_};
  if (child_autogroup_nice_) {
    boosted.session_pending = set_autogroup_nice(pid, *child_autogroup_nice_) == EAGAIN;
  }
  if (!boosted.over || boosted.session_pending) boosted_.push_back(boosted);
}

bool StartBoost::reset(pid_t pid) {
  // The whole group, every thread of each of its processes: a nice value is per thread. And
  // the autogroup of the session the child leads (spawn.cpp), where the kernel has them; that
  // change the kernel refuses for 100 ms after any other (EAGAIN): tick() tries again.
  ::setpriority(PRIO_PGRP, static_cast<id_t>(pid), base_);
  return !base_autogroup_ || set_autogroup_nice(pid, *base_autogroup_) != EAGAIN;
}

void StartBoost::ready(pid_t pid) {
  for (Boosted& b : boosted_) {
    if (b.pid == pid && !b.over) {
      reset(pid);
      b.over = true;
    }
  }
}

void StartBoost::exited(pid_t pid) {
  std::erase_if(boosted_, [pid](const Boosted& b) { return b.pid == pid; });
}

std::vector<std::string> StartBoost::tick(TimePoint now) {
  std::vector<std::string> said;
  std::erase_if(boosted_, [&](Boosted& b) {
    if (now < b.next_check) return false;
    b.next_check = now + kCheckEvery;
    if (b.over) return reset(b.pid);
    if (b.session_pending) {
      b.session_pending = set_autogroup_nice(b.pid, *child_autogroup_nice_) == EAGAIN;
    }
    ProcStat stat;
    if (!read_stat(b.pid, stat)) return true;  // gone (reaped: exited() forgets it first)
    if (stat.cpu_ticks < budget_ticks_) return false;
    b.over = true;
    said.push_back("child " + std::to_string(b.pid) + " used " +
                   std::to_string(cpu_budget_.count()) +
                   "ms of CPU before it was ready: back at the master's priority");
    return reset(b.pid);
  });
  return said;
}

std::optional<StartBoost::TimePoint> StartBoost::next_deadline() const {
  std::optional<TimePoint> next;
  for (const Boosted& b : boosted_) {
    if (!next || b.next_check < *next) next = b.next_check;
  }
  return next;
}

}  // namespace molt::internal
