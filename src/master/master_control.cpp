// The control socket's requests (protocol/control.hpp). status and metrics are answered at
// once; check, restart and rollback take time, so each waits as a Waiter and is answered from
// the loop once what it asked for is over; hold and resume change <state-dir>/hold.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <molt/build_id.hpp>

#include "master/master.hpp"
#include "master/staged_file.hpp"
#include "master/state_file.hpp"
#include "master/swap.hpp"
#include "protocol/control.hpp"
#include "util/log.hpp"
#include "util/paths.hpp"
#include "util/small_file.hpp"

namespace molt::internal {
namespace {

constexpr std::size_t kMaxSignatureFile = 64 * 1024;
constexpr std::size_t kMaxHoldReason = 512;

// A steady-clock instant as Unix seconds, for what an operator reads.
double unix_time_of(Supervisor::TimePoint t) {
  return unix_time_now() + std::chrono::duration<double>(t - Supervisor::Clock::now()).count();
}

}  // namespace

void Master::open_control() {
  started_at_ = unix_time_now();
  std::string error;
  own_build_id_ = read_build_id("/proc/self/exe", error).value_or("");
  if (setup_.handover && setup_.handover->control_fd >= 0) {
    control_ = ControlServer::adopt(Fd(setup_.handover->control_fd),
                                    control::socket_path(setup_.state_dir));
    return;
  }
  control_ = ControlServer::open(control::socket_path(setup_.state_dir), error);
  if (!control_) {
    logger().warn("{}: `molt status` and the other control commands cannot reach this master",
                  error);
  }
}

void Master::load_hold_state() {
  std::string error;
  hold_ = load_hold(setup_.state_dir, error);
  if (!error.empty()) logger().warn("state: {}; upgrades stay held until `molt resume`", error);
  if (hold_) logger().warn("{}", held_line());
  metrics_.held = hold_.has_value();
}

std::string Master::held_line() const {
  return "upgrades are held (" + hold_->reason + "): no new build is taken until `molt resume`";
}

void Master::handle_control(const ControlServer::Request& request) {
  auto field = [&](const char* name) {
    auto it = request.fields.find(name);
    return it == request.fields.end() ? std::string() : it->second;
  };
  const std::string command = field("command");
  if (command == control::kStatus) {
    control_->answer(request.connection, status_json());
    return;
  }
  if (command == control::kMetrics) {
    metrics_.build_id = running_build_id_;
    control_->answer(
        request.connection,
        JsonObject().boolean("ok", true).string("text", prometheus_text(metrics_)).str());
    return;
  }
  const std::string who = "molt " + command + " (uid " + std::to_string(request.uid) + ")";
  if (command == control::kCheck) {
    request_check(request.connection);
  } else if (command == control::kRestart) {
    request_restart(request.connection);
  } else if (command == control::kRollback) {
    request_rollback(request.connection);
  } else if (command == control::kHold) {
    std::string reason = field("reason");
    if (reason.size() > kMaxHoldReason) {
      answer(request.connection, false, "refused",
             "the reason is longer than " + std::to_string(kMaxHoldReason) + " bytes");
      return;
    }
    logger().info("{}: holding upgrades", who);
    set_hold(request.connection, reason);
  } else if (command == control::kResume) {
    logger().info("{}: resuming upgrades", who);
    resume(request.connection);
  } else {
    answer(request.connection, false, "refused",
           "unknown command \"" + command +
               "\" (status, metrics, check, restart, rollback, hold, resume)");
  }
}

void Master::answer(int connection, bool ok, const std::string& outcome,
                    const std::string& message) {
  JsonObject o;
  o.boolean("ok", ok).string("outcome", outcome);
  o.string(ok ? "message" : "error", message);
  control_->answer(connection, o.str());
}

void Master::request_check(int connection) {
  if (!checker_) return answer(connection, false, "failed", "no source to check");
  if (hold_) return answer(connection, false, "held", held_line());
  check_now("molt check", Clock::now());
  waiters_.push_back(
      {.connection = connection, .command = control::kCheck, .checks_target = checks_started_ + 1});
}

// Why a restart or a rollback cannot start now (they are refused, not queued); empty if it can.
std::string Master::why_not_now() const {
  if (supervisor_.stopping()) return "the master is stopping";
  if (supervisor_.busy()) return "a new child is starting already: ask again once it is ready";
  return {};
}

void Master::request_restart(int connection) {
  if (std::string busy = why_not_now(); !busy.empty()) {
    return answer(connection, false, "refused", busy);
  }
  std::optional<pid_t> old = supervisor_.current_pid();
  if (!old) {
    return answer(connection, false, "refused", "no child serves now: one is being restarted");
  }
  waiters_.push_back({.connection = connection, .command = control::kRestart, .old_pid = *old});
  restart_now("molt restart", Clock::now());
}

// `molt rollback`: <bin>.prev is started beside the current child as a staged build would be
// (a hard link to it is the staged file: no copy), and installed once ready. The build it
// replaces is marked bad then, so the source cannot bring it back.
void Master::request_rollback(int connection) {
  if (std::string busy = why_not_now(); !busy.empty()) {
    return answer(connection, false, "refused", busy);
  }
  const std::string prev = prev_path(setup_.bin_path);
  struct stat st {};
  if (::lstat(prev.c_str(), &st) != 0) {
    return answer(connection, false, "refused", "nothing to roll back to: " + cause("stat", prev));
  }
  if (!S_ISREG(st.st_mode)) {
    return answer(connection, false, "refused",
                  "nothing to roll back to: " + prev + " is " + file_kind(st.st_mode) +
                      ", not a regular file");
  }
  std::string error;
  std::optional<std::string> build_id = read_build_id(prev, error);
  if (!build_id) return answer(connection, false, "refused", "cannot roll back: " + error);
  if (*build_id == running_build_id_) {
    return answer(
        connection, false, "refused",
        "nothing to roll back to: " + prev + " is build " + *build_id + ", the one that runs");
  }
  std::string staged = dir_of(setup_.bin_path) + "/." + base_of(setup_.bin_path) + ".molt-rollback";
  ::unlink(staged.c_str());
  if (::link(prev.c_str(), staged.c_str()) != 0) {
    return answer(connection, false, "failed", cause("link " + prev + " to", staged));
  }
  std::string signature;
  if (auto text = read_small_file(signature_path(prev), kMaxSignatureFile, error)) {
    signature = std::move(*text);
  }
  logger().info("molt rollback: starting build {} from {} beside build {}", *build_id, prev,
                running_build_id_);
  staged_ =
      Staged{.path = staged, .build_id = *build_id, .signature_text = signature, .rollback = true};
  upgrade_ = Upgrade{.from = running_build_id_,
                     .to = *build_id,
                     .check_started = Clock::now(),
                     .verified = Clock::now()};
  waiters_.push_back({.connection = connection,
                      .command = control::kRollback,
                      .upgrades_target = upgrades_ended_ + 1});
  apply(supervisor_.staged(*build_id, Clock::now()));
}

void Master::set_hold(int connection, const std::string& reason) {
  Hold hold{.since = unix_time_now(), .reason = reason.empty() ? "no reason given" : reason};
  if (std::string error = save_hold(real_sys(), setup_.state_dir, hold); !error.empty()) {
    return answer(connection, false, "failed", "the hold cannot be kept: " + error);
  }
  hold_ = hold;
  metrics_.held = true;
  write_metrics();
  logger().warn("{}", held_line());
  answer(connection, true, "held", held_line());
}

void Master::resume(int connection) {
  if (!hold_) return answer(connection, true, "resumed", "upgrades were not held");
  if (std::string error = clear_hold(real_sys(), setup_.state_dir); !error.empty()) {
    return answer(connection, false, "failed", "the hold cannot be lifted: " + error);
  }
  hold_.reset();
  metrics_.held = false;
  write_metrics();
  std::string message = "upgrades resume";
  if (checker_) {
    check_now("molt resume", Clock::now());
    message += "; checking " + setup_.fetcher->describe() + " now";
  }
  answer(connection, true, "resumed", message);
}

void Master::record_check(const std::string& outcome, const std::string& message) {
  ++checks_finished_;
  last_check_ = CheckRecord{.time = unix_time_now(), .outcome = outcome, .message = message};
}

void Master::end_upgrade(bool ok, const std::string& outcome, const std::string& message) {
  ++upgrades_ended_;
  last_upgrade_end_ = {ok, outcome, message};
}

void Master::answer_waiters() {
  if (!control_) return;
  std::erase_if(waiters_, [&](const Waiter& w) { return answer_waiter(w); });
}

// True once `waiter` is answered.
bool Master::answer_waiter(const Waiter& w) {
  auto upgrade_answer = [&] {
    answer(w.connection, last_upgrade_end_.ok, last_upgrade_end_.outcome,
           last_upgrade_end_.message);
    return true;
  };
  if (w.command == control::kCheck) {
    if (checks_finished_ < w.checks_target || !last_check_) return false;
    if (!last_check_->upgrade) {
      bool ok = last_check_->outcome != "failed" && last_check_->outcome != "refused";
      answer(w.connection, ok, last_check_->outcome, last_check_->message);
      return true;
    }
    // The check started an upgrade: its end is the answer.
    if (upgrades_ended_ < *last_check_->upgrade) return false;
    return upgrade_answer();
  }
  if (w.command == control::kRollback) {
    return upgrades_ended_ >= w.upgrades_target && upgrade_answer();
  }
  if (w.command == control::kRestart) {
    if (supervisor_.busy()) return false;
    std::optional<pid_t> now_serving = supervisor_.current_pid();
    if (now_serving && *now_serving != w.old_pid && supervisor_.serving()) {
      answer(w.connection, true, "restarted",
             "child " + std::to_string(*now_serving) + " (build " + supervisor_.current_build_id() +
                 ") is ready; child " + std::to_string(w.old_pid) + " drains");
    } else {
      answer(w.connection, false, "failed",
             "the new child did not take over: " +
                 (last_child_failure_.empty() ? std::string("see the log") : last_child_failure_));
    }
    return true;
  }
  return true;
}

std::string Master::current_json(pid_t pid) const {
  JsonObject o;
  o.number("pid", std::int64_t{pid});
  auto slot = children_.find(pid);
  if (slot != children_.end()) {
    o.string("build_id", slot->second.build_id)
        .number("generation", std::int64_t{slot->second.generation});
    if (slot->second.ready_at > 0) o.number("since", slot->second.ready_at);
  }
  std::string error;
  std::optional<InstalledSignature> signature =
      installed_signature(setup_.bin_path, setup_.keys, error);
  if (signature && slot != children_.end() && signature->build_id == slot->second.build_id) {
    o.number("signed_at", signature->timestamp).string("key_id", signature->key_id);
  }
  return o.str();
}

std::string Master::status_json() const {
  TimePoint now = Clock::now();
  JsonObject master;
  master.number("pid", std::int64_t{::getpid()})
      .number("started", started_at_)
      .number("uptime_seconds", unix_time_now() - started_at_)
      .string("build_id", own_build_id_);

  std::optional<pid_t> current = supervisor_.current_pid();
  std::optional<pid_t> candidate = supervisor_.candidate_pid();
  std::vector<std::string> draining;
  for (const auto& [pid, slot] : children_) {
    if (pid == current || pid == candidate) continue;
    draining.push_back(JsonObject()
                           .number("pid", std::int64_t{pid})
                           .string("build_id", slot.build_id)
                           .number("generation", std::int64_t{slot.generation})
                           .str());
  }
  JsonObject o;
  o.boolean("ok", true)
      .boolean("serving", supervisor_.serving())
      .string("bin", setup_.bin_path)
      .string("build_id", running_build_id_)
      .raw("master", master.str())
      .raw("current", current ? current_json(*current) : "null")
      .raw("candidate", candidate ? current_json(*candidate) : "null")
      .raw("draining", json_array(draining));
  if (setup_.fetcher) {
    o.string("source", setup_.fetcher->describe());
  } else {
    o.raw("source", "null");
  }
  if (last_check_) {
    o.raw("last_check", JsonObject()
                            .number("time", last_check_->time)
                            .string("outcome", last_check_->outcome)
                            .string("message", last_check_->message)
                            .str());
  } else {
    o.raw("last_check", "null");
  }
  o.boolean("checking", checker_ && checker_->checking());
  if (checker_ && !hold_ && !checker_->checking()) {
    o.number("next_check", unix_time_of(std::max(schedule_.next_due(), now)));
  } else {
    o.raw("next_check", "null");
  }
  o.raw("bad_builds",
        json_string_array({schedule_.bad_build_ids().begin(), schedule_.bad_build_ids().end()}));
  if (std::optional<std::int64_t> floor = schedule_.high_water()) {
    o.number("floor", *floor);
  } else {
    o.raw("floor", "null");
  }
  if (std::optional<TimePoint> until = supervisor_.probation_until()) {
    o.number("probation_until", unix_time_of(*until));
  } else {
    o.raw("probation_until", "null");
  }
  if (hold_) {
    o.raw("hold", JsonObject().number("since", hold_->since).string("reason", hold_->reason).str());
  } else {
    o.raw("hold", "null");
  }
  if (const std::optional<Metrics::Rollout>& r = metrics_.rollout) {
    JsonObject rollout;
    rollout.string("build_id", r->build_id).number("percent", r->percent / 100.0);
    if (r->cohort) {
      rollout.number("cohort", *r->cohort / 100.0).boolean("inside", *r->cohort < r->percent);
    }
    o.raw("rollout", rollout.str());
  } else {
    o.raw("rollout", "null");
  }
  return o.str();
}

}  // namespace molt::internal
