// The master's decisions, driven with fake pids and a fake clock.
#include "master/supervisor.hpp"

#include <gtest/gtest.h>

#include <csignal>

#include "util/backoff.hpp"

namespace molt::internal {
namespace {

using namespace std::chrono_literals;
using Kind = Supervisor::Action::Kind;
using Actions = Supervisor::Actions;

class SupervisorTest : public ::testing::Test {
 protected:
  SupervisorTest() : sup_(settings()) {}

  static Supervisor::Settings settings() {
    Supervisor::Settings s;
    s.ready_timeout = 5s;
    s.drain_timeout = 10s;
    s.probation = 20s;
    s.drain_signal = SIGTERM;
    s.backoff_initial = 100ms;
    s.backoff_max = 1s;
    s.healthy_after = 30s;
    return s;
  }

  static bool has(const Actions& actions, Kind kind, pid_t pid = 0, int signal = 0) {
    for (const auto& a : actions) {
      if (a.kind == kind && (pid == 0 || a.pid == pid) && (signal == 0 || a.signal == signal)) {
        return true;
      }
    }
    return false;
  }

  // Starts the first child (pid 100, build v1) and makes it ready.
  void serve_v1() {
    ASSERT_TRUE(has(sup_.start(now_), Kind::kSpawn));
    sup_.spawned(100, "v1", now_);
    ASSERT_TRUE(has(sup_.child_ready(100, now_), Kind::kReady, 100));
  }

  // Stages v2 (pid 200) and returns what the supervisor asked for when it started.
  Actions start_v2() {
    Actions actions = sup_.staged("v2", now_);
    EXPECT_TRUE(has(actions, Kind::kSpawn));
    return sup_.spawned(200, "v2", now_);
  }

  // v2 (pid 200) says READY=1: the supervisor asks for the install and nothing else; the
  // install succeeds. Returns what followed the install.
  Actions make_v2_ready() {
    Actions ready = sup_.child_ready(200, now_);
    EXPECT_EQ(ready.size(), 1u);
    EXPECT_TRUE(has(ready, Kind::kInstall, 200));
    return sup_.installed(200, "", now_);
  }

  Supervisor sup_;
  Supervisor::TimePoint now_{};
};

TEST_F(SupervisorTest, ServesOnceTheChildIsReadyAndThroughAnUpgrade) {
  ASSERT_TRUE(has(sup_.start(now_), Kind::kSpawn));
  sup_.spawned(100, "v1", now_);
  EXPECT_FALSE(sup_.serving());  // started, not ready
  sup_.child_ready(100, now_);
  EXPECT_TRUE(sup_.serving());
  start_v2();
  EXPECT_EQ(sup_.candidate_pid(), 200);
  EXPECT_TRUE(sup_.serving());
  make_v2_ready();
  EXPECT_TRUE(sup_.serving());
  EXPECT_EQ(sup_.candidate_pid(), std::nullopt);
  // The promoted child saying READY=1 again is not news.
  EXPECT_TRUE(sup_.child_ready(200, now_).empty());
}

TEST_F(SupervisorTest, UpgradeDrainsTheOldChildOnlyAfterTheNewOneIsReady) {
  serve_v1();
  Actions started = start_v2();
  EXPECT_FALSE(has(started, Kind::kSignal));  // v1 keeps serving while v2 starts
  EXPECT_TRUE(sup_.busy());
  Actions ready = make_v2_ready();
  EXPECT_TRUE(has(ready, Kind::kSignal, 100, SIGTERM));
  EXPECT_TRUE(has(ready, Kind::kReady, 200));
  EXPECT_EQ(sup_.current_pid(), 200);
  EXPECT_EQ(sup_.current_build_id(), "v2");
  EXPECT_TRUE(sup_.child_exited(100, "exited with status 0", now_).empty());
  now_ += 20s;
  EXPECT_TRUE(has(sup_.tick(now_), Kind::kCommit));
}

TEST_F(SupervisorTest, OldChildIsKilledAfterTheDrainTimeout) {
  serve_v1();
  start_v2();
  make_v2_ready();
  now_ += 9s;
  EXPECT_FALSE(has(sup_.tick(now_), Kind::kSignal, 100, SIGKILL));
  now_ += 1s;
  EXPECT_TRUE(has(sup_.tick(now_), Kind::kSignal, 100, SIGKILL));
}

// Drained rather than killed: it may have accepted connections on the shared listener already.
TEST_F(SupervisorTest, CandidateNotReadyInTimeIsDrainedAndDiscarded) {
  serve_v1();
  start_v2();
  EXPECT_EQ(sup_.next_deadline(), now_ + 5s);
  now_ += 5s;
  Actions actions = sup_.tick(now_);
  EXPECT_TRUE(has(actions, Kind::kSignal, 200, SIGTERM));
  EXPECT_FALSE(has(actions, Kind::kSignal, 200, SIGKILL));
  EXPECT_TRUE(has(actions, Kind::kDiscard));
  EXPECT_FALSE(has(actions, Kind::kRollback));     // <bin> was never replaced
  EXPECT_FALSE(has(actions, Kind::kSignal, 100));  // v1 never stopped serving
  EXPECT_EQ(sup_.current_pid(), 100);
  EXPECT_FALSE(sup_.busy());
  now_ += 10s;  // the drain timeout: one that ignores the drain signal is killed
  EXPECT_TRUE(has(sup_.tick(now_), Kind::kSignal, 200, SIGKILL));
  EXPECT_TRUE(sup_.child_exited(200, "was killed by KILL", now_).empty());
  EXPECT_EQ(sup_.current_pid(), 100);
}

TEST_F(SupervisorTest, CandidateThatExitsIsDiscarded) {
  serve_v1();
  start_v2();
  Actions actions = sup_.child_exited(200, "exited with status 3", now_);
  ASSERT_TRUE(has(actions, Kind::kDiscard));
  EXPECT_FALSE(has(actions, Kind::kSignal));
  for (const auto& a : actions) {
    if (a.kind == Kind::kDiscard) {
      EXPECT_EQ(a.build_id, "v2");
      EXPECT_EQ(a.reason, "exited with status 3 before it was ready");
    }
  }
  EXPECT_EQ(sup_.current_pid(), 100);
}

TEST_F(SupervisorTest, CrashDuringProbationRollsBackAndRestarts) {
  serve_v1();
  start_v2();
  make_v2_ready();
  sup_.child_exited(100, "exited with status 0", now_);
  now_ += 3s;
  Actions actions = sup_.child_exited(200, "was killed by SEGV", now_);
  EXPECT_TRUE(has(actions, Kind::kRollback));
  EXPECT_TRUE(has(actions, Kind::kSpawn));
}

TEST_F(SupervisorTest, CandidateThatCannotBeInstalledIsDrainedAndOldChildServesOn) {
  serve_v1();
  start_v2();
  ASSERT_TRUE(has(sup_.child_ready(200, now_), Kind::kInstall, 200));
  Actions actions = sup_.installed(200, "rename: No space left on device", now_);
  EXPECT_TRUE(has(actions, Kind::kSignal, 200, SIGTERM));
  EXPECT_TRUE(has(actions, Kind::kDiscard));
  EXPECT_FALSE(has(actions, Kind::kSignal, 100));
  EXPECT_FALSE(has(actions, Kind::kReady));
  EXPECT_EQ(sup_.current_pid(), 100);
  EXPECT_FALSE(sup_.busy());
}

TEST_F(SupervisorTest, CandidateThatCannotBeStartedIsDiscardedByName) {
  serve_v1();
  ASSERT_TRUE(has(sup_.staged("v2", now_), Kind::kSpawn));
  Actions actions = sup_.spawned(std::nullopt, "v2", now_, "exec: Exec format error");
  ASSERT_TRUE(has(actions, Kind::kDiscard));
  EXPECT_EQ(actions.back().build_id, "v2");
  EXPECT_TRUE(actions.back().blame_build);
  EXPECT_EQ(sup_.current_pid(), 100);
}

TEST_F(SupervisorTest, CandidateThatTheMachineCouldNotStartIsNotBlamed) {
  // A notify socket, a pipe or a fork that failed is not the build's fault: its staged file is
  // dropped without marking it bad, so the next check stages it again.
  serve_v1();
  ASSERT_TRUE(has(sup_.staged("v2", now_), Kind::kSpawn));
  Actions actions =
      sup_.spawned(std::nullopt, "v2", now_, "notify socket: No space left on device", false);
  ASSERT_TRUE(has(actions, Kind::kDiscard));
  EXPECT_FALSE(actions.back().blame_build);
  EXPECT_EQ(sup_.current_pid(), 100);
  EXPECT_FALSE(sup_.busy());
  EXPECT_TRUE(has(sup_.staged("v2", now_), Kind::kSpawn));
}

TEST_F(SupervisorTest, AProbationResumedAfterARestartStillRollsBack) {
  // A master that crashed during v2's probation; the next one starts v2 from <bin>.
  sup_.resume_probation("v2", now_ + 20s);
  ASSERT_TRUE(has(sup_.start(now_), Kind::kSpawn));
  sup_.spawned(100, "v2", now_);
  sup_.child_ready(100, now_);
  now_ += 5s;
  Actions actions = sup_.child_exited(100, "was killed by ABRT", now_);
  ASSERT_TRUE(has(actions, Kind::kRollback));
  EXPECT_TRUE(has(actions, Kind::kSpawn));
}

TEST_F(SupervisorTest, AResumedProbationEnds) {
  sup_.resume_probation("v2", now_ + 20s);
  sup_.start(now_);
  sup_.spawned(100, "v2", now_);
  now_ += 21s;
  EXPECT_TRUE(has(sup_.tick(now_), Kind::kCommit));
  EXPECT_FALSE(has(sup_.child_exited(100, "exited with status 1", now_), Kind::kRollback));
}

TEST_F(SupervisorTest, RestartCandidateIsPromotedWithoutAnInstall) {
  serve_v1();
  ASSERT_TRUE(has(sup_.restart_requested(now_), Kind::kSpawn));
  sup_.spawned(300, "v1", now_);
  Actions ready = sup_.child_ready(300, now_);
  EXPECT_FALSE(has(ready, Kind::kInstall));
  EXPECT_TRUE(has(ready, Kind::kSignal, 100, SIGTERM));
}

TEST_F(SupervisorTest, RestartFailureDoesNotRollBack) {
  serve_v1();
  EXPECT_TRUE(has(sup_.restart_requested(now_), Kind::kSpawn));
  sup_.spawned(300, "v1", now_);
  Actions actions = sup_.child_exited(300, "exited with status 1", now_);
  EXPECT_FALSE(has(actions, Kind::kRollback));
  EXPECT_FALSE(has(actions, Kind::kDiscard));
  EXPECT_EQ(sup_.current_pid(), 100);
}

TEST_F(SupervisorTest, UnexpectedExitRestartsWithBackoff) {
  serve_v1();
  EXPECT_TRUE(sup_.child_exited(100, "was killed by SEGV", now_).empty());
  EXPECT_EQ(sup_.next_deadline(), now_ + 100ms);
  now_ += 100ms;
  EXPECT_TRUE(has(sup_.tick(now_), Kind::kSpawn));
  sup_.spawned(101, "v1", now_);
  sup_.child_exited(101, "was killed by SEGV", now_);
  EXPECT_EQ(sup_.next_deadline(), now_ + 200ms);
}

TEST_F(SupervisorTest, NoUpgradeWhileACandidateStarts) {
  serve_v1();
  start_v2();
  EXPECT_TRUE(sup_.staged("v3", now_).empty());
  EXPECT_TRUE(sup_.restart_requested(now_).empty());
}

TEST_F(SupervisorTest, StopDrainsEveryChildThenExits) {
  serve_v1();
  start_v2();
  Actions actions = sup_.stop_requested(now_);
  EXPECT_TRUE(has(actions, Kind::kSignal, 100, SIGTERM));
  EXPECT_TRUE(has(actions, Kind::kSignal, 200, SIGTERM));
  EXPECT_FALSE(has(actions, Kind::kExit));
  EXPECT_TRUE(sup_.child_exited(100, "exited with status 0", now_).empty());
  EXPECT_TRUE(has(sup_.child_exited(200, "exited with status 0", now_), Kind::kExit));
}

TEST(BackoffTest, DoublesUpToTheMaximumAndResets) {
  Backoff backoff(100ms, 500ms);
  EXPECT_EQ(backoff.next(), 100ms);
  EXPECT_EQ(backoff.next(), 200ms);
  EXPECT_EQ(backoff.next(), 400ms);
  EXPECT_EQ(backoff.next(), 500ms);
  EXPECT_EQ(backoff.next(), 500ms);
  backoff.reset();
  EXPECT_EQ(backoff.next(), 100ms);
}

}  // namespace
}  // namespace molt::internal
