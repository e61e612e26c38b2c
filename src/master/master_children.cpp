// The master's children: starting one, hearing what it says on its notify socket, and reaping it.
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <molt/build_id.hpp>
#include <molt/duration.hpp>
#include <utility>

#include "master/child_groups.hpp"
#include "master/master.hpp"
#include "master/spawn.hpp"
#include "protocol/environment.hpp"
#include "util/human_bytes.hpp"
#include "util/log.hpp"

namespace molt::internal {
namespace {

std::uint64_t cpu_microseconds(const rusage& usage) {
  auto us = [](const timeval& t) {
    return static_cast<std::uint64_t>(t.tv_sec) * 1'000'000 + static_cast<std::uint64_t>(t.tv_usec);
  };
  return us(usage.ru_utime) + us(usage.ru_stime);
}

}  // namespace

void Master::reap() {
  for (;;) {
    // Seen before it is reaped: while an exited child is a zombie, its pid, which is its process
    // group's id, cannot be reused, so what is left of its group is killed safely.
    siginfo_t exited{};
    if (::waitid(P_ALL, 0, &exited, WEXITED | WNOHANG | WNOWAIT) != 0 || exited.si_pid <= 0) {
      return;
    }
    pid_t pid = exited.si_pid;
    // A generation ends with its leader: what it left (workers that ignored the drain signal)
    // would answer for the old build. As systemd does with a unit's remaining processes.
    int remains = children_.contains(pid) ? kill_group_remains(pid) : 0;
    std::optional<pid_t> probed = child_probed_by(pid);
    if (probed) ::kill(-pid, SIGKILL);  // what a readiness command left behind
    int status = 0;
    rusage usage{};
    if (::wait4(pid, &status, WNOHANG, &usage) != pid) return;
    if (probed) {
      if (children_.at(*probed).probe->exited(status, Clock::now())) {
        probe_passed(*probed, Clock::now());
      }
      continue;
    }
    if (probe_ && probe_->pid == pid) {
      probe_exited(status);
      continue;
    }
    const bool retired_helper = checker_ && checker_->reaped_retired(pid);
    const bool current_helper = !retired_helper && checker_ && checker_->reaped(pid);
    if (retired_helper || current_helper) {
      metrics_.check_cpu_us += cpu_microseconds(usage);  // what checking costs
      write_metrics(true);
      if (current_helper) {
        read_check();  // its last answer, if it exited after a transfer
        // A helper killed mid-download leaves its temp file: nothing else owns it.
        remove_staged_leftovers_except_held();
      }
      continue;
    }
    start_boost_.exited(pid);
    auto it = children_.find(pid);
    if (it == children_.end()) continue;
    // What it said just before exiting (STOPPING=1) is still queued on its socket: read it first.
    handle_notify(pid, it->second);
    std::string how = describe_exit(status);
    bool expected = status == 0 || supervisor_.stopping();
    logger().log(expected ? spdlog::level::info : spdlog::level::warn, "child {} (build {}) {}",
                 pid, it->second.build_id, how);
    if (remains > 0) {
      logger().warn("killed {} process(es) left in child {}'s process group", remains, pid);
    }
    children_.erase(it);
    finish_upgrade(pid);
    record_child_groups();
    apply(supervisor_.child_exited(pid, how, Clock::now()));
  }
}

void Master::handle_notify(pid_t pid, ChildSlot& slot) {
  for (const NotifySocket::Message& m : slot.notify.receive(pid)) {
    if (!m.from_group) {
      warn_foreign_sender(pid, slot, m);
      continue;
    }
    const auto& message = m.fields;
    if (auto it = message.find("STATUS"); it != message.end()) {
      logger().info("child {} status: {}", pid, it->second);
    }
    if (auto it = message.find("STOPPING"); it != message.end() && it->second == "1") {
      logger().info("child {} stopped accepting; finishing what it has", pid);
    }
    if (message.contains("READY") && message.at("READY") == "1") {
      slot.probe.reset();  // READY=1 counts in every mode
      apply(supervisor_.child_ready(pid, Clock::now()));
    }
    if (auto it = message.find(env::kRequestField); it != message.end()) {
      std::string who = "child " + std::to_string(pid) + " asked";
      if (it->second == "check") {
        check_now(who, Clock::now());
      } else if (it->second == "restart") {
        restart_now(who, Clock::now());
      } else {
        logger().warn("child {} asked for '{}', which is not a request molt knows", pid,
                      it->second.substr(0, 64));
      }
    }
  }
}

// A message from outside the child's process group could make a build look ready that is not:
// dropped, and said once per 10 s per child, so a flood cannot flood the log.
void Master::warn_foreign_sender(pid_t child, ChildSlot& slot, const NotifySocket::Message& m) {
  ++slot.foreign_messages;
  TimePoint now = Clock::now();
  if (slot.foreign_warned != TimePoint{} && now - slot.foreign_warned < std::chrono::seconds(10)) {
    return;
  }
  slot.foreign_warned = now;
  logger().warn(
      "dropped {} message(s) to child {}'s notify socket from pid {} (uid {}): not a process of "
      "the child's group",
      std::exchange(slot.foreign_messages, 0), child, m.pid, m.uid);
}

void Master::spawn(const Supervisor::Action& action) {
  // An upgrade's candidate runs the staged file itself; every other child runs <bin>.
  bool from_staged = staged_ && !action.build_id.empty() && action.build_id == staged_->build_id;
  if (!from_staged && generation_ > 0) {
    ++metrics_.child_restarts;  // after an exit, a rollback or a request: a child on <bin> again
    write_metrics();
  }
  const std::string& path = from_staged ? staged_->path : setup_.bin_path;
  // Every other child runs <bin> as it is now: an operator may have put another build there.
  if (!from_staged) read_running_build_id();
  std::string build_id = from_staged ? staged_->build_id : running_build_id_;
  std::string error;
  ++generation_;
  std::optional<NotifySocket> notify = NotifySocket::create(notify_dir_, generation_, error);
  std::optional<pid_t> pid;
  bool exec_failed = false;
  if (notify) {
    SpawnRequest request{.path = path,
                         .argv = setup_.argv,
                         .listeners = setup_.listeners,
                         .notify_socket = notify->name(),
                         .generation = generation_,
                         .drain_signal = setup_.config.drain_signal,
                         .nice = start_boost_.child_nice()};
    pid = spawn_child(request, error, exec_failed);
  }
  if (!pid) {
    logger().error("cannot start child: {}", error);
    last_child_failure_ = "cannot start child: " + error;
  } else {
    // Boosted before it is said: whoever reads the line finds the child's session boosted.
    start_boost_.started(*pid, Clock::now());
    logger().info("started child {} (build {}, generation {}{})", *pid, build_id, generation_,
                  from_staged ? ", from the staged file" : "");
    auto [slot, _] = children_.emplace(
        *pid, ChildSlot{generation_, build_id, std::move(*notify), process_start_ticks(*pid)});
    if (setup_.ready.kind != ReadyMode::Kind::kNotify) {
      slot->second.probe = std::make_unique<ReadyProbe>(
          setup_.ready, *pid, ReadyProbe::target_of(setup_.listeners), Clock::now());
    }
    record_child_groups();
  }
  // Only a file that would not exec is the build's fault; a socket or clone that failed
  // here is the machine's, and the build is tried again.
  apply(supervisor_.spawned(pid, build_id, Clock::now(), error, pid || exec_failed));
}

// Config::ready other than "notify": each probe whose fd is ready or whose deadline passed moves
// on; a child whose probe says so is ready, as if it had sent READY=1. `polled` holds the probes'
// fds from `first` on, in children_'s order, as run() put them there.
void Master::step_ready_probes(const std::vector<pollfd>& polled, std::size_t first,
                               TimePoint now) {
  std::vector<pid_t> pids;
  for (const auto& [pid, slot] : children_) pids.push_back(pid);
  std::vector<pid_t> ready;
  std::size_t i = first;
  for (auto& [pid, slot] : children_) {
    if (!slot.probe) continue;
    short revents = i < polled.size() ? polled[i++].revents : 0;
    if (slot.probe->step(revents, now, pids)) ready.push_back(pid);
  }
  for (pid_t pid : ready) probe_passed(pid, now);
}

std::optional<pid_t> Master::child_probed_by(pid_t command) const {
  for (const auto& [pid, slot] : children_) {
    if (slot.probe && slot.probe->runs(command)) return pid;
  }
  return std::nullopt;
}

void Master::probe_passed(pid_t pid, TimePoint now) {
  auto it = children_.find(pid);
  if (it == children_.end() || !it->second.probe) return;
  logger().info("child {} passed its readiness probe: {}", pid, it->second.probe->how());
  it->second.probe.reset();
  apply(supervisor_.child_ready(pid, now));
}

void Master::record_child_groups() {
  std::vector<ChildGroup> groups;
  for (const auto& [pid, slot] : children_) groups.push_back({pid, slot.start_ticks});
  if (std::string error = save_child_groups(real_sys(), setup_.state_dir, groups); !error.empty()) {
    logger().warn("state: {}", error);
  }
}

void Master::read_running_build_id() {
  std::string error;
  if (std::optional<std::string> id = read_build_id(setup_.bin_path, error)) {
    running_build_id_ = *id;
  } else {
    logger().warn("{}", error);
  }
}

// "upgrade from build v1 to build v2: ...": where the time of one upgrade went, said once the
// child it replaced has exited.
void Master::finish_upgrade(pid_t exited) {
  if (!upgrade_ || upgrade_->old_pid != exited) return;
  auto ms = [](TimePoint from, TimePoint to) {
    return format_duration(std::chrono::duration_cast<std::chrono::milliseconds>(to - from));
  };
  logger().info(
      "upgrade from build {} to build {} done: {} downloaded, verified {} after the check began, "
      "ready {} later, the old child drained in {}",
      upgrade_->from, upgrade_->to, human_bytes(upgrade_->bytes),
      ms(upgrade_->check_started, upgrade_->verified), ms(upgrade_->verified, upgrade_->ready),
      ms(upgrade_->drain_started, Clock::now()));
  upgrade_.reset();
}

}  // namespace molt::internal
