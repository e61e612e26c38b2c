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
  if (errno != 0 || steps <= 0) return;
  base_ = own;
  int target = std::max(-20, own - steps);
  if (target == own) return;  // already at the top
  unavailable_ = why_priority_cannot_rise_to(target);
  if (unavailable_.empty()) child_nice_ = target;
}

void StartBoost::started(pid_t pid, TimePoint now) {
  if (child_nice_) boosted_.push_back({pid, now + kCheckEvery, false});
}

void StartBoost::reset(pid_t pid) {
  // The whole group, every thread of each of its processes: a nice value is per thread.
  ::setpriority(PRIO_PGRP, static_cast<id_t>(pid), base_);
}

void StartBoost::ready(pid_t pid) {
  for (Boosted& b : boosted_) {
    if (b.pid == pid && !b.ready) {
      reset(pid);
      b.ready = true;
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
    if (b.ready) {
      reset(b.pid);
      return true;
    }
    ProcStat stat;
    if (!read_stat(b.pid, stat)) return true;  // gone (reaped: exited() forgets it first)
    if (stat.cpu_ticks < budget_ticks_) return false;
    reset(b.pid);
    said.push_back("child " + std::to_string(b.pid) + " used " +
                   std::to_string(cpu_budget_.count()) +
                   "ms of CPU before it was ready: back at the master's priority");
    return true;
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
