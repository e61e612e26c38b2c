// The decisions of the master, off the sockets: it takes events (a child is ready, a child
// exited, a new build is staged, a deadline passed, a signal) and returns actions for the
// master to carry out. It never touches a process itself, so tests drive it with fake pids.
//
// Upgrade: a verified build waits in a staged file -> Spawn(candidate) from that file -> the
// candidate's READY=1 -> Install (the staged file becomes <bin>) -> the candidate becomes
// current, the old current gets the drain signal and a kill deadline. The candidate is the
// proof that the build runs: one that exits, is not ready by its deadline or cannot be
// installed is killed and its staged build discarded and marked bad; <bin> was never touched.
// A current child that exits within its probation after an upgrade is rolled back
// (<bin>.prev returns); otherwise it is restarted with exponential backoff.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <csignal>
#include <optional>
#include <string>
#include <vector>

#include "util/backoff.hpp"

namespace molt::internal {

class Supervisor {
 public:
  using Clock = std::chrono::steady_clock;
  using TimePoint = Clock::time_point;

  struct Settings {
    std::chrono::milliseconds ready_timeout{30'000};
    std::chrono::milliseconds drain_timeout{30'000};
    std::chrono::milliseconds probation{10'000};
    int drain_signal = SIGTERM;
    std::chrono::milliseconds backoff_initial{100};
    std::chrono::milliseconds backoff_max{30'000};
    // A child that ran this long before exiting resets the backoff.
    std::chrono::milliseconds healthy_after{10'000};
  };

  struct Action {
    enum class Kind {
      kSpawn,     // start a child: on the staged build when `build_id` is set, else on the
                  // binary at the install path; report with spawned()
      kSignal,    // send `signal` to `pid`
      kInstall,   // candidate `pid` on the staged `build_id` is ready: install the staged file
                  // as <bin>; report with installed()
      kDiscard,   // the staged `build_id` failed: remove its file, remember it as bad
      kRollback,  // put <bin>.prev back and remember `build_id` as bad
      kCommit,    // probation of `build_id` is over: forget <bin>.prev as a rollback target
      kReady,     // the service is ready (first time) or serving a new build: tell systemd
      kExit,      // every child is gone after a stop: exit with `code`
    };
    Kind kind;
    pid_t pid = 0;
    int signal = 0;
    std::string build_id;
    int code = 0;
    std::string reason;       // for the log line
    bool blame_build = true;  // kDiscard: false when the machine failed, not the build
  };
  using Actions = std::vector<Action>;

  explicit Supervisor(Settings settings)
      : settings_(settings), backoff_(settings.backoff_initial, settings.backoff_max) {}

  Actions start(TimePoint now);
  // Instead of start(), after the master re-executed itself: the ready child it supervised.
  void adopt(pid_t pid, const std::string& build_id, TimePoint now);
  // Before start(): a previous master installed `build_id` and crashed during its probation,
  // which ends at `until`: a crash of that build before then rolls back.
  void resume_probation(const std::string& build_id, TimePoint until);
  // The result of a kSpawn: the child's pid (or nullopt and why: it could not be started) and its
  // build. `build_at_fault`: false when the start failed for the machine's reasons (a socket,
  // a fork), so a staged build is dropped without being marked bad.
  Actions spawned(std::optional<pid_t> pid, const std::string& build_id, TimePoint now,
                  const std::string& error = {}, bool build_at_fault = true);
  Actions child_ready(pid_t pid, TimePoint now);
  Actions child_exited(pid_t pid, const std::string& how, TimePoint now);
  // A new verified build waits in a staged file. Nothing (empty actions) while busy().
  Actions staged(const std::string& build_id, TimePoint now);
  // The result of a kInstall: empty `error` when the staged build is now <bin>.
  Actions installed(pid_t pid, const std::string& error, TimePoint now);
  Actions restart_requested(TimePoint now);
  Actions stop_requested(TimePoint now);
  Actions tick(TimePoint now);

  std::optional<TimePoint> next_deadline() const;
  // No new build may be staged while a candidate is starting or the service is stopping.
  bool busy() const { return candidate_ || pending_ != Pending::kNone || stopping_; }
  // Not busy, and no old child draining: the last upgrade or restart is over.
  bool settled() const { return !busy() && draining_.empty(); }
  bool stopping() const { return stopping_; }
  std::optional<pid_t> current_pid() const;
  const std::string& current_build_id() const;
  // A current child that said READY=1: what `molt status` calls serving.
  bool serving() const { return current_ && current_->deadline == TimePoint{}; }
  std::optional<pid_t> candidate_pid() const;
  std::optional<TimePoint> probation_until() const { return probation_until_; }

 private:
  struct Child {
    pid_t pid = 0;
    std::string build_id;
    TimePoint started{};
    TimePoint deadline{};  // candidate: ready deadline; draining: kill deadline
    bool upgrade = false;  // candidate on a staged build (discarded on failure)
    bool killed = false;
  };
  enum class Pending { kNone, kCurrent, kCandidate };

  Actions fail_candidate(const std::string& why, TimePoint now, bool build_at_fault = true);
  Actions promote(Child ready, TimePoint now);
  Actions drain(Child child, TimePoint now, const std::string& why);
  Actions maybe_exit();

  Settings settings_;
  Backoff backoff_;
  Pending pending_ = Pending::kNone;
  bool pending_upgrade_ = false;
  std::optional<Child> current_;
  std::optional<Child> candidate_;
  std::vector<Child> draining_;
  std::optional<TimePoint> restart_at_;
  std::optional<TimePoint> probation_until_;
  std::string probation_build_;
  bool stopping_ = false;
  bool exited_ = false;
};

}  // namespace molt::internal
