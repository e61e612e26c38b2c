#include "master/master.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <molt/build_id.hpp>
#include <molt/duration.hpp>
#include <random>
#include <utility>

#include "master/child_groups.hpp"
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
// After an event says a file is being written, wait this long for it to settle.
constexpr std::chrono::milliseconds kSettle{250};

std::string describe_exit(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("was killed by ") + ::sigabbrev_np(WTERMSIG(status));
  return "stopped";
}

Supervisor::Settings settings_from(const Config& config) {
  Supervisor::Settings s;
  s.ready_timeout = config.ready_timeout;
  s.drain_timeout = config.drain_timeout;
  s.probation = config.probation;
  s.drain_signal = config.drain_signal;
  return s;
}

}  // namespace

Master::Master(MasterSetup setup)
    : setup_(std::move(setup)), supervisor_(settings_from(setup_.config)) {
  std::string error;
  running_build_id_ = read_build_id(setup_.bin_path, error).value_or("");
  load_floor();
  prepare_notify_dir();
  resume_probation();
  if (setup_.fetcher) {
    checker_.emplace(*setup_.fetcher, CheckRequest{.bin_path = setup_.bin_path,
                                                   .keys = setup_.keys,
                                                   .allow_downgrade = setup_.config.allow_downgrade,
                                                   .max_size = setup_.config.http.max_size,
                                                   .pre_upgrade = setup_.config.pre_upgrade});
  }
}

// The children's notify sockets live in <state-dir>/run (private: the state dir is this user's),
// emptied of a killed master's sockets; a state dir too deep for a socket path gets a private
// folder in the runtime dir instead, removed at exit.
void Master::prepare_notify_dir() {
  notify_dir_ = setup_.state_dir + "/run";
  if (notify_dir_.size() <= max_notify_dir_length()) {
    if (std::string error = make_private_dir(notify_dir_); !error.empty()) {
      logger().error("notify sockets: {}", error);
    }
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(notify_dir_, ec)) {
      std::filesystem::remove(entry.path(), ec);
    }
    return;
  }
  const char* runtime = std::getenv("XDG_RUNTIME_DIR");
  std::string pattern = std::string(runtime && *runtime ? runtime : "/tmp") + "/molt-XXXXXX";
  if (::mkdtemp(pattern.data())) {
    notify_dir_ = pattern;
    own_notify_dir_ = true;
  } else {
    logger().error("notify sockets: mkdtemp {}: {}", pattern, std::strerror(errno));
  }
}

void Master::resume_probation() {
  std::optional<Probation> probation = load_probation(setup_.state_dir);
  if (!probation) return;
  auto left = std::chrono::milliseconds(probation->until_ms -
                                        std::chrono::duration_cast<std::chrono::milliseconds>(
                                            std::chrono::system_clock::now().time_since_epoch())
                                            .count());
  if (probation->build_id != running_build_id_ || left.count() <= 0) {
    clear_probation(setup_.state_dir);
    return;
  }
  logger().info("build {} is on probation for {} more (a previous master installed it)",
                probation->build_id, format_duration(left));
  supervisor_.resume_probation(probation->build_id, Clock::now() + left);
}

void Master::load_floor() {
  if (std::string said = finish_interrupted_install(setup_.bin_path, setup_.keys); !said.empty()) {
    logger().warn("state: {}", said);
  }
  std::string state_error, installed_error;
  std::optional<std::int64_t> state = load_high_water(setup_.state_dir, state_error);
  std::optional<std::int64_t> installed =
      installed_signature_time(setup_.bin_path, setup_.keys, installed_error);
  high_water_ = std::max(state, installed);
  if (!installed_error.empty()) logger().warn("state: {}", installed_error);
  if (state_error.empty()) return;
  if (installed) {
    logger().error("state: {}; the downgrade floor comes from {} alone", state_error,
                   signature_path(setup_.bin_path));
  } else if (!setup_.config.allow_downgrade) {
    floor_error_ = "state: " + state_error +
                   "; no downgrade floor can be trusted, so no build is taken until the file is "
                   "repaired or removed (or --allow-downgrade)";
  }
}

Master::~Master() {
  if (signal_fd_ >= 0) ::close(signal_fd_);
  children_.clear();  // their sockets go with them
  if (own_notify_dir_) ::rmdir(notify_dir_.c_str());
}

bool Master::setup_signals() {
  sigset_t mask;
  sigemptyset(&mask);
  for (int sig : kHandledSignals) sigaddset(&mask, sig);
  if (::sigprocmask(SIG_BLOCK, &mask, nullptr) != 0) return false;
  ::signal(SIGPIPE, SIG_IGN);
  signal_fd_ = ::signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  return signal_fd_ >= 0;
}

int Master::run() {
  if (!setup_signals()) {
    logger().error("signalfd: {}", std::strerror(errno));
    return 1;
  }
  std::string listening;
  for (const Listener& l : setup_.listeners) listening += " " + l.address;
  logger().info("master {} serving build {} on{}; source: {}", ::getpid(), running_build_id_,
                listening.empty() ? " nothing" : listening,
                setup_.fetcher ? setup_.fetcher->describe() : "none");
  if (setup_.fetcher && setup_.keys.empty()) {
    logger().warn("signature checks are off (--insecure-no-verify): any file at the source runs");
  }
  remove_staged_leftovers(setup_.bin_path);  // from a master that was killed mid-download
  apply(supervisor_.start(Clock::now()));
  next_poll_ = Clock::now();  // the first check right away
  while (!exit_code_) {
    TimePoint now = Clock::now();
    apply(supervisor_.tick(now));
    maybe_check(now);
    if (exit_code_) break;

    std::vector<pollfd> fds;
    std::vector<pid_t> notify_owner;
    fds.push_back({signal_fd_, POLLIN, 0});
    int watch = setup_.fetcher ? setup_.fetcher->watch_fd() : -1;
    fds.push_back({watch, POLLIN, 0});  // a negative fd is ignored by poll
    fds.push_back({checker_ ? checker_->fd() : -1, POLLIN, 0});
    for (auto& [pid, slot] : children_) {
      fds.push_back({slot.notify.fd(), POLLIN, 0});
      notify_owner.push_back(pid);
    }
    int ready = ::poll(fds.data(), fds.size(), poll_timeout(Clock::now()));
    if (ready < 0 && errno != EINTR) {
      logger().error("poll: {}", std::strerror(errno));
      return 1;
    }
    if (ready <= 0) continue;
    if (fds[0].revents) handle_signals();
    if (fds[1].revents) {
      Fetcher::WatchEvent event = setup_.fetcher->read_watch();
      if (event.relevant && event.settled) {
        check_requested_ = true;
        settle_at_.reset();
      } else if (event.relevant) {
        settle_at_ = Clock::now() + kSettle;
      }
    }
    if (fds[2].revents) read_check();
    for (std::size_t i = 0; i < notify_owner.size(); ++i) {
      if (!fds[3 + i].revents) continue;
      auto it = children_.find(notify_owner[i]);
      if (it != children_.end()) handle_notify(it->first, it->second);
    }
  }
  checker_.reset();                          // kills a helper mid-check
  remove_staged_leftovers(setup_.bin_path);  // what it, or a staged build, left
  logger().info("master {} exiting", ::getpid());
  return *exit_code_;
}

int Master::poll_timeout(TimePoint now) const {
  std::optional<TimePoint> next = supervisor_.next_deadline();
  auto consider = [&](TimePoint t) {
    if (!next || t < *next) next = t;
  };
  if (checker_ && checker_->checking()) consider(check_started_ + check_limit());
  if (checker_ && !checker_->checking() && !supervisor_.busy()) {
    consider(next_poll_);
    if (settle_at_) consider(*settle_at_);
    if (full_download_due_) consider(full_download_at_);
  }
  if (!next) return -1;
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(*next - now).count();
  return static_cast<int>(std::clamp<long long>(ms, 0, 60'000));
}

void Master::handle_signals() {
  signalfd_siginfo info;
  while (::read(signal_fd_, &info, sizeof info) == sizeof info) {
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

// SIGHUP, or a child's State::request_check(): `who` starts the line that says what follows.
void Master::check_now(const std::string& who, TimePoint now) {
  if (!checker_) {
    logger().info("{}: no source to check", who);
  } else if (checker_->checking()) {
    logger().info("{}: checking {} again once the check under way (for {}) ends", who,
                  setup_.fetcher->describe(),
                  format_duration(
                      std::chrono::duration_cast<std::chrono::milliseconds>(now - check_started_)));
  } else if (supervisor_.busy()) {
    logger().info("{}: checking {} once the new child's start is over", who,
                  setup_.fetcher->describe());
  } else {
    logger().info("{}: checking {} now", who, setup_.fetcher->describe());
  }
  check_requested_ = true;
}

// SIGUSR2, or a child's State::request_restart().
void Master::restart_now(const std::string& who, TimePoint now) {
  read_running_build_id();
  logger().info("{}: restarting the child on build {}", who, running_build_id_);
  apply(supervisor_.restart_requested(now));
}

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
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) != pid) return;
    if (checker_ && checker_->reaped(pid)) {
      read_check();  // its last answer, if it exited after a transfer
      // A helper killed mid-download leaves its temp file: nothing else owns it.
      remove_staged_leftovers_except_held();
      continue;
    }
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
        } else {
          logger().info("draining child {} ({})", action.pid, action.reason);
        }
        // The whole group: a child's own workers drain, or die, with it.
        ::kill(-action.pid, action.signal);
        break;
      case Kind::kRollback: {
        std::string error = roll_back(real_sys(), setup_.bin_path);
        if (!action.build_id.empty()) bad_build_ids_.insert(action.build_id);
        std::string previous;
        running_build_id_ = read_build_id(setup_.bin_path, previous).value_or("");
        clear_probation(setup_.state_dir);
        if (error.empty()) {
          logger().error("build {} {}: rolled back to build {}; it will not be tried again",
                         action.build_id, action.reason, running_build_id_);
        } else {
          logger().error("build {} {}: rollback failed: {}", action.build_id, action.reason, error);
        }
        break;
      }
      case Kind::kCommit:
        clear_probation(setup_.state_dir);
        logger().info("build {} passed probation", action.build_id);
        break;
      case Kind::kReady:
        logger().info("child {} (build {}) is ready", action.pid, action.build_id);
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

void Master::spawn(const Supervisor::Action& action) {
  // An upgrade's candidate runs the staged file itself; every other child runs <bin>.
  bool from_staged = staged_ && !action.build_id.empty() && action.build_id == staged_->build_id;
  const std::string& path = from_staged ? staged_->path : setup_.bin_path;
  // Every other child runs <bin> as it is now: an operator may have put another build there.
  if (!from_staged) read_running_build_id();
  std::string build_id = from_staged ? staged_->build_id : running_build_id_;
  std::string error;
  ++generation_;
  std::optional<NotifySocket> notify = NotifySocket::create(notify_dir_, generation_, error);
  pid_t pid = -1;
  bool exec_failed = false;
  if (notify) {
    SpawnRequest request{.path = path,
                         .argv = setup_.argv,
                         .listeners = setup_.listeners,
                         .notify_socket = notify->name(),
                         .generation = generation_,
                         .drain_signal = setup_.config.drain_signal};
    pid = spawn_child(request, error, exec_failed);
  }
  if (pid < 0) {
    logger().error("cannot start child: {}", error);
  } else {
    logger().info("started child {} (build {}, generation {}{})", pid, build_id, generation_,
                  from_staged ? ", from the staged file" : "");
    children_.emplace(
        pid, ChildSlot{generation_, build_id, std::move(*notify), process_start_ticks(pid)});
    record_child_groups();
  }
  // Only a file that would not exec is the build's fault; a socket, pipe or fork that failed
  // here is the machine's, and the build is tried again.
  apply(supervisor_.spawned(pid, build_id, Clock::now(), error, pid >= 0 || exec_failed));
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
    logger().info("installed build {} as {} (build {} kept as {})", action.build_id,
                  setup_.bin_path, running_build_id_, prev_path(setup_.bin_path));
    running_build_id_ = action.build_id;
    if (staged_->timestamp) high_water_ = std::max(high_water_, staged_->timestamp);
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
  }
  apply(supervisor_.installed(action.pid, error, Clock::now()));
}

void Master::record_child_groups() {
  std::vector<ChildGroup> groups;
  for (const auto& [pid, slot] : children_) groups.push_back({pid, slot.start_ticks});
  if (std::string error = save_child_groups(real_sys(), setup_.state_dir, groups); !error.empty()) {
    logger().warn("state: {}", error);
  }
}

void Master::remove_staged_leftovers_except_held() {
  remove_staged_leftovers(setup_.bin_path, staged_ ? staged_->path : std::string());
}

void Master::read_running_build_id() {
  std::string error;
  if (std::optional<std::string> id = read_build_id(setup_.bin_path, error)) {
    running_build_id_ = *id;
  } else {
    logger().warn("{}", error);
  }
}

void Master::drop_staged() {
  ::unlink(staged_->path.c_str());
  staged_.reset();
}

void Master::discard(const Supervisor::Action& action) {
  if (staged_ && staged_->build_id == action.build_id) drop_staged();
  if (!action.blame_build) {
    logger().error("build {} {}; not the build's fault: it will be tried again", action.build_id,
                   action.reason);
    signature_seen_ = artifact_seen_ = {};
    retry_ = true;
    schedule_poll(true);
    return;
  }
  if (!action.build_id.empty()) bad_build_ids_.insert(action.build_id);
  logger().error(
      "build {} {}: discarded; build {} serves on and {} is unchanged; it will not be "
      "tried again",
      action.build_id, action.reason, running_build_id_, setup_.bin_path);
}

std::vector<int> Master::own_fds() const {
  // The lock too: a helper that outlived a killed master for a moment must not refuse the next.
  std::vector<int> fds{signal_fd_, setup_.lock_fd};
  for (const Listener& l : setup_.listeners) fds.push_back(l.fd);
  for (const auto& [pid, slot] : children_) fds.push_back(slot.notify.fd());
  return fds;
}

// About +-10% of jitter keeps a fleet from polling in lockstep; after a failure the next try
// comes sooner, backing off exponentially up to the interval.
void Master::schedule_poll(bool failed) {
  failures_in_a_row_ = failed ? failures_in_a_row_ + 1 : 0;
  std::chrono::milliseconds delay = setup_.config.poll_interval;
  if (failed) {
    auto backoff = std::chrono::milliseconds(500LL << std::min(failures_in_a_row_ - 1, 20));
    delay = std::min(delay, backoff);
  }
  static thread_local std::minstd_rand random(
      static_cast<unsigned>(::getpid()) ^
      static_cast<unsigned>(Clock::now().time_since_epoch().count()));
  long long spread = delay.count() / 10;
  if (spread > 0)
    delay += std::chrono::milliseconds(
        std::uniform_int_distribution<long long>(-spread, spread)(random));
  next_poll_ = Clock::now() + delay;
}

// A check bounds each transfer, but not what a transfer cannot see (a helper stuck in the kernel
// on a hung filesystem, or stopped): past every bound it could reach, the helper is killed.
std::chrono::milliseconds Master::check_limit() const {
  const HttpOptions& http = setup_.config.http;
  return http.connect_timeout + 2 * http.total_timeout + std::chrono::seconds(10);
}

void Master::maybe_check(TimePoint now) {
  if (checker_ && checker_->checking() && now >= check_started_ + check_limit()) {
    logger().error("check of {} took longer than {}: the check helper is killed",
                   setup_.fetcher->describe(), format_duration(check_limit()));
    checker_->abandon();
    remove_staged_leftovers_except_held();
    retry_ = true;
    schedule_poll(true);
    return;
  }
  if (!checker_ || checker_->checking() || supervisor_.busy()) return;
  if (settle_at_ && now >= *settle_at_) {
    settle_at_.reset();
    check_requested_ = true;
  }
  if (now >= next_poll_) check_requested_ = true;
  if (full_download_due_ && now >= full_download_at_) {
    full_download_due_ = false;
    check_requested_ = true;
  }
  if (!check_requested_) return;
  check_requested_ = false;
  start_check();
}

void Master::start_check() {
  if (!floor_error_.empty()) {
    bool news = floor_error_ != last_waiting_message_;
    logger().log(news ? spdlog::level::err : spdlog::level::debug, "{}", floor_error_);
    last_waiting_message_ = floor_error_;
    schedule_poll(false);
    return;
  }
  CheckRequest request{.running_build_id = running_build_id_,
                       .bad_build_ids = bad_build_ids_,
                       .signature_seen = signature_seen_,
                       .artifact_seen = artifact_seen_,
                       .retry = retry_,
                       .high_water = high_water_,
                       .failed_signature = failed_signature_,
                       .failed_signature_waits = Clock::now() < full_download_at_,
                       .failed_artifact = failed_artifact_,
                       .early_retry = early_retry_left_};
  check_started_ = Clock::now();
  if (std::string error = checker_->start(request, own_fds()); !error.empty()) {
    logger().error("check: {}", error);
    schedule_poll(true);
  }
}

void Master::read_check() {
  CheckHelper::Answer answer = checker_->read();
  if (answer.complete) finish_check(answer.outcome);
}

void Master::finish_check(const std::optional<CheckOutcome>& outcome) {
  if (!outcome) {
    logger().error("check of {} ended without an answer (helper crashed?)",
                   setup_.fetcher->describe());
    retry_ = true;
    schedule_poll(true);
    return;
  }
  schedule_poll(outcome->kind == CheckOutcome::Kind::kFailed);
  if (outcome->verify_failed) {
    if (outcome->signature_text != failed_signature_) {
      full_download_backoff_.reset();
      early_retry_left_ = true;
    }
    if (outcome->used_early_retry) early_retry_left_ = false;
    failed_signature_ = outcome->signature_text;
    failed_artifact_ = outcome->artifact;
    std::chrono::milliseconds wait = full_download_backoff_.next();
    full_download_at_ = Clock::now() + wait;
    full_download_due_ = true;
    logger().error("{}; next full download in {}", outcome->message, format_duration(wait));
    signature_seen_ = outcome->signature;
    artifact_seen_ = {};
    retry_ = true;
    last_waiting_message_.clear();
    return;
  }
  if (outcome->used_early_retry) early_retry_left_ = false;
  if (!outcome->signature_text.empty() && outcome->signature_text != failed_signature_) {
    failed_signature_.clear();  // another signature: the pair is judged afresh
    full_download_backoff_.reset();
    full_download_due_ = false;
  }
  signature_seen_ = outcome->signature;
  artifact_seen_ = outcome->artifact;
  // While a pair that failed to verify waits for its next full download, the signature is read
  // whole at each poll, so the check can tell it is still the same one.
  retry_ =
      outcome->retry || outcome->kind == CheckOutcome::Kind::kFailed || !failed_signature_.empty();
  switch (outcome->kind) {
    case CheckOutcome::Kind::kNothing:
      if (!outcome->message.empty()) {
        bool news = outcome->message != last_waiting_message_;
        logger().log(news ? spdlog::level::info : spdlog::level::debug, "{}", outcome->message);
      }
      break;
    case CheckOutcome::Kind::kSkipped:
      logger().info("{}", outcome->message);
      break;
    case CheckOutcome::Kind::kRefused:
    case CheckOutcome::Kind::kFailed:
      logger().error("{}", outcome->message);
      break;
    case CheckOutcome::Kind::kStaged: {
      logger().info("{}", outcome->message);
      if (setup_.keys.empty())
        logger().warn("build {} was not signature-checked", outcome->build_id);
      staged_ = Staged{outcome->staged_path, outcome->build_id, outcome->timestamp,
                       outcome->signature_text};
      Supervisor::Actions actions = supervisor_.staged(outcome->build_id, Clock::now());
      if (actions.empty()) {
        // A restart or a stop began while it was checked: drop it and look again soon.
        drop_staged();
        signature_seen_ = artifact_seen_ = {};
        retry_ = true;
        schedule_poll(true);
      }
      apply(actions);
      break;
    }
  }
  if (outcome->kind != CheckOutcome::Kind::kNothing) {
    last_waiting_message_.clear();
  } else if (!outcome->message.empty()) {
    last_waiting_message_ = outcome->message;
  }
}

}  // namespace molt::internal
