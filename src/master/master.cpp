#include "master/master.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <molt/build_id.hpp>
#include <molt/duration.hpp>
#include <random>
#include <utility>

#include "master/child_groups.hpp"
#include "master/cohort.hpp"
#include "master/spawn.hpp"
#include "master/staged_file.hpp"
#include "master/state_file.hpp"
#include "master/swap.hpp"
#include "protocol/environment.hpp"
#include "util/atomic_file.hpp"
#include "util/log.hpp"

namespace molt::internal {
namespace {

using Kind = Supervisor::Action::Kind;

constexpr int kHandledSignals[] = {SIGCHLD, SIGHUP, SIGUSR2, SIGTERM, SIGINT};

Supervisor::Settings settings_from(const Config& config) {
  Supervisor::Settings s;
  s.ready_timeout = config.ready_timeout;
  s.drain_timeout = config.drain_timeout;
  s.probation = config.probation;
  s.drain_signal = config.drain_signal;
  return s;
}

// About +-10% of jitter keeps a fleet from polling in lockstep.
double jitter() {
  static thread_local std::minstd_rand random(
      static_cast<unsigned>(::getpid()) ^
      static_cast<unsigned>(std::chrono::steady_clock::now().time_since_epoch().count()));
  return std::uniform_real_distribution<double>(-1.0, 1.0)(random);
}

}  // namespace

Master::Master(MasterSetup setup)
    : setup_(std::move(setup)),
      supervisor_(settings_from(setup_.config)),
      start_boost_(setup_.config.start_boost, setup_.config.start_boost_cpu),
      schedule_({.interval = setup_.config.poll_interval}, jitter, Clock::now()) {
  std::string error;
  running_build_id_ = read_build_id(setup_.bin_path, error).value_or("");
  load_floor();
  prepare_notify_dir();
  resume_probation();
  open_control();
  load_hold_state();
  if (setup_.handover) adopt(*setup_.handover);
  if (setup_.fetcher) {
    checker_.emplace(*setup_.fetcher,
                     CheckRequest{.bin_path = setup_.bin_path,
                                  .keys = setup_.keys,
                                  .allow_downgrade = setup_.config.allow_downgrade,
                                  .max_size = setup_.config.http.max_size,
                                  .pre_upgrade = setup_.config.pre_upgrade,
                                  .host_id = host_id_or_machine_id(setup_.config.host_id),
                                  .check_nice = start_boost_.child_nice(),
                                  .bulk_nice = std::min(
                                      19, ::getpriority(PRIO_PROCESS, 0) + StagedFile::kBulkNice)});
  }
}

Master::~Master() {
  children_.clear();  // their sockets go with them
  if (own_notify_dir_) ::rmdir(notify_dir_.c_str());
}

bool Master::setup_signals() {
  sigset_t mask;
  sigemptyset(&mask);
  for (int sig : kHandledSignals) sigaddset(&mask, sig);
  if (::sigprocmask(SIG_BLOCK, &mask, nullptr) != 0) return false;
  ::signal(SIGPIPE, SIG_IGN);
  signal_fd_.reset(::signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC));
  return static_cast<bool>(signal_fd_);
}

int Master::run() {
  if (!setup_signals()) {
    logger().error("signalfd: {}", std::strerror(errno));
    return 1;
  }
  std::string listening;
  for (const Listener& l : setup_.listeners) listening += " " + l.address;
  if (setup_.handover) {
    logger().info(
        "master {} re-executed: it runs build {}'s code (it ran build {}'s); serving "
        "build {} on{} with child {}",
        ::getpid(), own_build_id_, setup_.handover->from_build, running_build_id_,
        listening.empty() ? " nothing" : listening, supervisor_.current_pid().value_or(0));
  } else {
    logger().info("master {} serving build {} on{}; source: {}", ::getpid(), running_build_id_,
                  listening.empty() ? " nothing" : listening,
                  setup_.fetcher ? setup_.fetcher->describe() : "none");
  }
  if (!start_boost_.unavailable().empty()) {
    logger().info("new children start at the master's priority (--start-boost): {}",
                  start_boost_.unavailable());
  }
  if (setup_.fetcher && setup_.keys.empty()) {
    logger().warn("signature checks are off (--insecure-no-verify): any file at the source runs");
  }
  remove_staged_leftovers(setup_.bin_path);  // from a master that was killed mid-download
  if (!setup_.handover) apply(supervisor_.start(Clock::now()));
  write_metrics();
  while (!exit_code_) {
    log_serving_build();
    TimePoint now = Clock::now();
    apply(supervisor_.tick(now));
    for (const std::string& line : start_boost_.tick(now)) logger().info("{}", line);
    if (metrics_due_ && now >= *metrics_due_) write_metrics();
    maybe_check(now);
    maybe_reexec(now);
    if (exit_code_) break;

    std::vector<pollfd> fds;
    std::vector<pid_t> notify_owner;
    fds.push_back({signal_fd_.get(), POLLIN, 0});
    int watch = setup_.fetcher ? setup_.fetcher->watch_fd() : -1;
    fds.push_back({watch, POLLIN, 0});  // a negative fd is ignored by poll
    fds.push_back({checker_ ? checker_->fd() : -1, POLLIN, 0});
    for (auto& [pid, slot] : children_) {
      fds.push_back({slot.notify.fd(), POLLIN, 0});
      notify_owner.push_back(pid);
    }
    // Children whose readiness a probe tells, in children_'s order (step_ready_probes).
    const std::size_t first_probe = fds.size();
    for (const auto& [pid, slot] : children_) {
      if (slot.probe) fds.push_back(slot.probe->poll_fd());
    }
    const std::size_t first_control = fds.size();
    if (control_) {
      for (const pollfd& p : control_->poll_fds()) fds.push_back(p);
    }
    int ready = ::poll(fds.data(), fds.size(), poll_timeout(Clock::now()));
    if (ready < 0 && errno != EINTR) {
      logger().error("poll: {}", std::strerror(errno));
      return 1;
    }
    if (control_) control_->expire(Clock::now());
    step_ready_probes(fds, first_probe, Clock::now());
    if (ready <= 0) continue;
    if (fds[0].revents) handle_signals();
    if (fds[1].revents) {
      Fetcher::WatchEvent event = setup_.fetcher->read_watch();
      if (event.relevant) schedule_.watch_event(event.settled, Clock::now());
    }
    if (fds[2].revents) read_check();
    for (std::size_t i = 0; i < notify_owner.size(); ++i) {
      if (!fds[3 + i].revents) continue;
      auto it = children_.find(notify_owner[i]);
      if (it != children_.end()) handle_notify(it->first, it->second);
    }
    if (control_) {
      std::vector<pollfd> polled(fds.begin() + static_cast<std::ptrdiff_t>(first_control),
                                 fds.end());
      for (const ControlServer::Request& r : control_->handle(polled, Clock::now())) {
        handle_control(r);
      }
    }
    answer_waiters();
  }
  if (metrics_due_) write_metrics();         // what the last checks counted
  checker_.reset();                          // kills a helper mid-check
  remove_staged_leftovers(setup_.bin_path);  // what it, or a staged build, left
  logger().info("master {} exiting", ::getpid());
  return *exit_code_;
}

// JSON log lines carry the build that serves and its child's generation.
void Master::log_serving_build() {
  std::optional<pid_t> current = supervisor_.current_pid();
  auto slot = current ? children_.find(*current) : children_.end();
  set_log_build(running_build_id_, slot != children_.end() ? slot->second.generation : 0);
}

int Master::poll_timeout(TimePoint now) const {
  std::optional<TimePoint> next = supervisor_.next_deadline();
  auto consider = [&](TimePoint t) {
    if (!next || t < *next) next = t;
  };
  if (checker_ && checker_->checking()) consider(check_started_ + check_limit());
  if (checker_ && !checker_->checking() && !supervisor_.busy() && !hold_) {
    consider(schedule_.next_due());
  }
  if (control_) {
    if (std::optional<TimePoint> t = control_->next_deadline()) consider(*t);
  }
  if (probe_) consider(probe_->deadline);
  if (std::optional<TimePoint> t = start_boost_.next_deadline()) consider(*t);
  if (metrics_due_) consider(*metrics_due_);
  for (const auto& [pid, slot] : children_) {
    if (slot.probe) consider(slot.probe->deadline());
  }
  if (!next) return -1;
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(*next - now).count();
  return static_cast<int>(std::clamp<long long>(ms, 0, 60'000));
}

void Master::handle_signals() {
  signalfd_siginfo info;
  while (::read(signal_fd_.get(), &info, sizeof info) == sizeof info) {
    TimePoint now = Clock::now();
    switch (info.ssi_signo) {
      case SIGCHLD:
        reap();
        break;
      case SIGHUP:
        check_now("SIGHUP", now);
        break;
      case SIGUSR2:
        restart_now("SIGUSR2", now);
        break;
      case SIGTERM:
      case SIGINT:
        logger().info("{}: draining and exiting", ::sigabbrev_np(static_cast<int>(info.ssi_signo)));
        notify(setup_.systemd_notify_socket, "STOPPING=1");
        apply(supervisor_.stop_requested(now));
        break;
    }
  }
}

// SIGUSR2, or a child's State::request_restart().
void Master::restart_now(const std::string& who, TimePoint now) {
  read_running_build_id();
  logger().info("{}: restarting the child on build {}", who, running_build_id_);
  apply(supervisor_.restart_requested(now));
}

void Master::apply(const Supervisor::Actions& actions) {
  for (const Supervisor::Action& action : actions) {
    switch (action.kind) {
      case Kind::kSpawn:
        spawn(action);
        break;
      case Kind::kInstall:
        install(action);
        break;
      case Kind::kDiscard:
        discard(action);
        break;
      case Kind::kSignal:
        if (action.signal == SIGKILL) {
          logger().warn("killing child {}: {}", action.pid, action.reason);
          last_child_failure_ = "child " + std::to_string(action.pid) + " " + action.reason;
        } else {
          logger().info("draining child {} ({})", action.pid, action.reason);
          // The child an upgrade replaces: its exit ends the upgrade.
          if (upgrade_ && upgrade_->ready != TimePoint{} && upgrade_->old_pid < 0) {
            upgrade_->old_pid = action.pid;
            upgrade_->drain_started = Clock::now();
          }
        }
        // The whole group: a child's own workers drain, or die, with it.
        ::kill(-action.pid, action.signal);
        break;
      case Kind::kRollback: {
        // After `molt rollback`, <bin>.prev is the build it took out: never put that back.
        std::string ignored;
        std::optional<std::string> prev_build = read_build_id(prev_path(setup_.bin_path), ignored);
        if (prev_build && schedule_.bad_build_ids().count(*prev_build)) {
          logger().error(
              "build {} {}: not rolled back, since {} holds build {}, marked bad; "
              "build {} restarts",
              action.build_id, action.reason, prev_path(setup_.bin_path), *prev_build,
              running_build_id_);
          clear_probation(setup_.state_dir);
          break;
        }
        std::string error = roll_back(real_sys(), setup_.bin_path);
        if (!action.build_id.empty()) schedule_.mark_bad(action.build_id);
        std::string previous;
        running_build_id_ = read_build_id(setup_.bin_path, previous).value_or("");
        clear_probation(setup_.state_dir);
        if (error.empty()) {
          logger().error("build {} {}: rolled back to build {}; it will not be tried again",
                         action.build_id, action.reason, running_build_id_);
        } else {
          logger().error("build {} {}: rollback failed: {}", action.build_id, action.reason, error);
        }
        ++metrics_.upgrades["rolled_back"];
        write_metrics();
        break;
      }
      case Kind::kCommit:
        clear_probation(setup_.state_dir);
        logger().info("build {} passed probation", action.build_id);
        reexec_wanted_ = setup_.master_runs_bin && own_build_id_ != running_build_id_;
        break;
      case Kind::kReady:
        start_boost_.ready(action.pid);  // first: a reader of the line sees it done
        logger().info("child {} (build {}) is ready", action.pid, action.build_id);
        if (auto it = children_.find(action.pid); it != children_.end() && !it->second.ready_at) {
          it->second.ready_at = unix_time_now();
        }
        notify(setup_.systemd_notify_socket, std::string(announced_ready_ ? "" : "READY=1\n") +
                                                 "MAINPID=" + std::to_string(::getpid()) +
                                                 "\nSTATUS=serving build " + action.build_id);
        announced_ready_ = true;
        break;
      case Kind::kExit:
        exit_code_ = action.code;
        break;
    }
  }
}

void Master::install(const Supervisor::Action& action) {
  std::string error = "no staged build " + action.build_id;
  if (staged_ && staged_->build_id == action.build_id) {
    // The floor is durable before the build is: a crash in between cannot reopen a downgrade.
    error = staged_->timestamp ? save_high_water(real_sys(), setup_.state_dir, *staged_->timestamp)
                               : std::string();
    if (error.empty()) {
      error = swap_in(real_sys(), staged_->path, setup_.bin_path, staged_->signature_text);
    }
  }
  if (error.empty()) {
    const std::string replaced = running_build_id_;
    const bool rollback = staged_->rollback;
    logger().info("installed build {} as {} (build {} kept as {})", action.build_id,
                  setup_.bin_path, replaced, prev_path(setup_.bin_path));
    if (rollback) {
      schedule_.mark_bad(replaced);
      logger().warn(
          "molt rollback: build {} serves again; build {} is marked bad and will not "
          "be taken again",
          action.build_id, replaced);
    }
    running_build_id_ = action.build_id;
    schedule_.installed(staged_->timestamp);
    // Recorded, so that a master restarted within it still rolls back a crash of this build.
    auto until = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch()) +
                 setup_.config.probation;
    if (std::string e =
            save_probation(real_sys(), setup_.state_dir, {action.build_id, until.count()});
        !e.empty()) {
      logger().warn("state: {}", e);
    }
    staged_.reset();
    if (upgrade_) upgrade_->ready = Clock::now();
    ++metrics_.upgrades[rollback ? "rolled_back" : "installed"];
    end_upgrade(true, rollback ? "rolled_back" : "installed",
                "build " + action.build_id + " serves (child " + std::to_string(action.pid) +
                    "); build " + replaced + " drains" + (rollback ? " and is marked bad" : ""));
    metrics_.last_upgrade_time = unix_time_now();
    write_metrics();
  }
  apply(supervisor_.installed(action.pid, error, Clock::now()));
}

void Master::remove_staged_leftovers_except_held() {
  remove_staged_leftovers(setup_.bin_path, staged_ ? staged_->path : std::string());
}

void Master::drop_staged() {
  ::unlink(staged_->path.c_str());
  staged_.reset();
}

void Master::discard(const Supervisor::Action& action) {
  if (staged_ && staged_->build_id == action.build_id) drop_staged();
  upgrade_.reset();
  ++metrics_.upgrades["discarded"];
  write_metrics();
  end_upgrade(false, "discarded",
              "build " + action.build_id + " " + action.reason + ": discarded; build " +
                  running_build_id_ + " serves on");
  if (!action.blame_build) {
    logger().error("build {} {}; not the build's fault: it will be tried again", action.build_id,
                   action.reason);
    schedule_.look_again(Clock::now());
    return;
  }
  if (!action.build_id.empty()) schedule_.mark_bad(action.build_id);
  logger().error(
      "build {} {}: discarded; build {} serves on and {} is unchanged; it will not be "
      "tried again",
      action.build_id, action.reason, running_build_id_, setup_.bin_path);
}

std::vector<int> Master::own_fds() const {
  // The lock too: a helper that outlived a killed master for a moment must not refuse the next.
  std::vector<int> fds{signal_fd_.get(), setup_.lock.get()};
  for (const Listener& l : setup_.listeners) fds.push_back(l.fd);
  for (const auto& [pid, slot] : children_) fds.push_back(slot.notify.fd());
  if (control_) {
    for (int fd : control_->fds()) fds.push_back(fd);
  }
  return fds;
}

}  // namespace molt::internal
