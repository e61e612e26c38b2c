#include "master/supervisor.hpp"

#include <algorithm>
#include <csignal>
#include <utility>

namespace molt::internal {

using Kind = Supervisor::Action::Kind;

Supervisor::Actions Supervisor::start(TimePoint) {
  pending_ = Pending::kCurrent;
  return {{.kind = Kind::kSpawn, .reason = "start"}};
}

void Supervisor::resume_probation(const std::string& build_id, TimePoint until) {
  probation_until_ = until;
  probation_build_ = build_id;
}

Supervisor::Actions Supervisor::spawned(std::optional<pid_t> pid, const std::string& build_id,
                                        TimePoint now, const std::string& error,
                                        bool build_at_fault) {
  Pending pending = std::exchange(pending_, Pending::kNone);
  Child child{.pid = pid.value_or(-1),
              .build_id = build_id,
              .started = now,
              .deadline = now + settings_.ready_timeout,
              .upgrade = pending_upgrade_};
  if (pending == Pending::kCandidate) {
    candidate_ = child;
    if (!pid) return fail_candidate("could not be started: " + error, now, build_at_fault);
    return {};
  }
  if (!pid) {
    restart_at_ = now + backoff_.next();
    return {};
  }
  current_ = child;
  return {};
}

Supervisor::Actions Supervisor::child_ready(pid_t pid, TimePoint now) {
  if (candidate_ && candidate_->pid == pid) {
    // A staged build is installed before anything is drained: if that fails, the old child
    // never stopped.
    if (candidate_->upgrade)
      return {{.kind = Kind::kInstall, .pid = pid, .build_id = candidate_->build_id}};
    return promote(*std::exchange(candidate_, std::nullopt), now);
  }
  if (current_ && current_->pid == pid && current_->deadline != TimePoint{}) {
    current_->deadline = {};  // ready: no deadline any more
    return {{.kind = Kind::kReady, .pid = pid, .build_id = current_->build_id}};
  }
  return {};
}

Supervisor::Actions Supervisor::child_exited(pid_t pid, const std::string& how, TimePoint now) {
  auto drained = std::find_if(draining_.begin(), draining_.end(),
                              [&](const Child& c) { return c.pid == pid; });
  if (drained != draining_.end()) {
    draining_.erase(drained);
    return maybe_exit();
  }
  if (candidate_ && candidate_->pid == pid) {
    candidate_->killed = true;  // already gone: nothing to kill
    return fail_candidate(how + " before it was ready", now);
  }
  if (!current_ || current_->pid != pid) return {};
  Child gone = *std::exchange(current_, std::nullopt);
  if (stopping_) return maybe_exit();
  Actions actions;
  if (probation_until_ && gone.build_id == probation_build_) {
    probation_until_.reset();
    actions.push_back(
        {.kind = Kind::kRollback, .build_id = gone.build_id, .reason = how + " during probation"});
    backoff_.reset();
  } else if (now - gone.started >= settings_.healthy_after) {
    backoff_.reset();
  }
  // A candidate still starting will take over when ready; otherwise restart.
  if (!candidate_ && pending_ == Pending::kNone) {
    if (actions.empty()) {
      restart_at_ = now + backoff_.next();
    } else {
      pending_ = Pending::kCurrent;
      pending_upgrade_ = false;
      actions.push_back({.kind = Kind::kSpawn, .reason = "restart on the previous build"});
    }
  }
  return actions;
}

Supervisor::Actions Supervisor::installed(pid_t pid, const std::string& error, TimePoint now) {
  if (!candidate_ || candidate_->pid != pid) return {};
  if (!error.empty()) return fail_candidate("could not be installed: " + error, now);
  return promote(*std::exchange(candidate_, std::nullopt), now);
}

Supervisor::Actions Supervisor::promote(Child ready, TimePoint now) {
  Actions actions{{.kind = Kind::kReady, .pid = ready.pid, .build_id = ready.build_id}};
  if (current_) {
    Actions drained = drain(*current_, now, "replaced by " + ready.build_id);
    actions.insert(actions.end(), drained.begin(), drained.end());
  }
  if (ready.upgrade) {
    probation_until_ = now + settings_.probation;
    probation_build_ = ready.build_id;
  }
  ready.deadline = {};  // ready: no deadline any more
  current_ = ready;
  return actions;
}

Supervisor::Actions Supervisor::staged(const std::string& build_id, TimePoint) {
  if (busy()) return {};
  if (probation_until_) {
    probation_until_.reset();  // a newer build supersedes the one on probation
  }
  pending_ = Pending::kCandidate;
  pending_upgrade_ = true;
  return {{.kind = Kind::kSpawn, .build_id = build_id, .reason = "upgrade to " + build_id}};
}

Supervisor::Actions Supervisor::restart_requested(TimePoint) {
  if (busy()) return {};
  if (!current_) return {};  // a restart is already scheduled
  pending_ = Pending::kCandidate;
  pending_upgrade_ = false;
  return {{.kind = Kind::kSpawn, .reason = "restart requested"}};
}

Supervisor::Actions Supervisor::stop_requested(TimePoint now) {
  if (stopping_) return {};
  stopping_ = true;
  restart_at_.reset();
  Actions actions;
  if (candidate_) {
    Actions a = drain(*std::exchange(candidate_, std::nullopt), now, "stopping");
    actions.insert(actions.end(), a.begin(), a.end());
  }
  if (current_) {
    Actions a = drain(*std::exchange(current_, std::nullopt), now, "stopping");
    actions.insert(actions.end(), a.begin(), a.end());
  }
  Actions exit = maybe_exit();
  actions.insert(actions.end(), exit.begin(), exit.end());
  return actions;
}

Supervisor::Actions Supervisor::tick(TimePoint now) {
  Actions actions;
  if (candidate_ && !candidate_->killed && now >= candidate_->deadline) {
    actions = fail_candidate("not ready within the ready timeout", now);
  }
  for (Child& child : draining_) {
    if (!child.killed && now >= child.deadline) {
      child.killed = true;
      actions.push_back(
          {.kind = Kind::kSignal, .pid = child.pid, .signal = SIGKILL, .reason = "drain timeout"});
    }
  }
  if (restart_at_ && now >= *restart_at_) {
    restart_at_.reset();
    if (!current_ && !candidate_ && pending_ == Pending::kNone && !stopping_) {
      pending_ = Pending::kCurrent;
      pending_upgrade_ = false;
      actions.push_back({.kind = Kind::kSpawn, .reason = "restart after exit"});
    }
  }
  if (probation_until_ && now >= *probation_until_) {
    probation_until_.reset();
    actions.push_back({.kind = Kind::kCommit, .build_id = probation_build_});
  }
  return actions;
}

std::optional<Supervisor::TimePoint> Supervisor::next_deadline() const {
  std::optional<TimePoint> next;
  auto consider = [&](TimePoint t) {
    if (!next || t < *next) next = t;
  };
  if (candidate_ && !candidate_->killed) consider(candidate_->deadline);
  for (const Child& child : draining_) {
    if (!child.killed) consider(child.deadline);
  }
  if (restart_at_) consider(*restart_at_);
  if (probation_until_) consider(*probation_until_);
  return next;
}

std::optional<pid_t> Supervisor::current_pid() const {
  if (current_) return current_->pid;
  return std::nullopt;
}

void Supervisor::adopt(pid_t pid, const std::string& build_id, TimePoint now) {
  current_ = Child{.pid = pid, .build_id = build_id, .started = now};  // no deadline: ready
}

std::optional<pid_t> Supervisor::candidate_pid() const {
  if (candidate_ && candidate_->pid > 0) return candidate_->pid;
  return std::nullopt;
}

const std::string& Supervisor::current_build_id() const {
  static const std::string kNone;
  return current_ ? current_->build_id : kNone;
}

Supervisor::Actions Supervisor::fail_candidate(const std::string& why, TimePoint now,
                                               bool build_at_fault) {
  Child failed = *std::exchange(candidate_, std::nullopt);
  Actions actions;
  if (!failed.killed && failed.pid > 0) {
    // Drained, not killed: a child that never became ready may still have accepted connections
    // on the shared listener (it serves before its health check passes, or before it says
    // READY=1). One that ignores the drain signal is killed at the drain timeout.
    Actions drained = drain(failed, now, why);
    actions.insert(actions.end(), drained.begin(), drained.end());
  }
  if (failed.upgrade) {
    actions.push_back({.kind = Kind::kDiscard,
                       .build_id = failed.build_id,
                       .reason = why,
                       .blame_build = build_at_fault});
  }
  if (!current_ && !stopping_) restart_at_ = now + backoff_.next();
  return actions;
}

Supervisor::Actions Supervisor::drain(Child child, TimePoint now, const std::string& why) {
  child.deadline = now + settings_.drain_timeout;
  child.killed = false;
  draining_.push_back(child);
  return {
      {.kind = Kind::kSignal, .pid = child.pid, .signal = settings_.drain_signal, .reason = why}};
}

Supervisor::Actions Supervisor::maybe_exit() {
  if (stopping_ && !exited_ && !current_ && !candidate_ && draining_.empty() &&
      pending_ == Pending::kNone) {
    exited_ = true;
    return {{.kind = Kind::kExit, .code = 0}};
  }
  return {};
}

}  // namespace molt::internal
