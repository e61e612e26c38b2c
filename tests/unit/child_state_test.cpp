// The child's State: on_drain callbacks run exactly once, whether they are registered before
// or after draining begins. Draining is triggered for real: the drain signal raised in this
// process, whose handler writes the State's eventfd.
#include "child/child_state.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "protocol/environment.hpp"

namespace molt::internal {
namespace {

using namespace std::chrono_literals;

constexpr int kDrainSignal = SIGUSR1;

class ChildStateTest : public ::testing::Test {
 protected:
  void TearDown() override { std::signal(kDrainSignal, SIG_DFL); }

  // A State as a child started outside molt sees it: no listeners, no master.
  static std::unique_ptr<ChildState> make_state() {
    for (const char* name : {"LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "NOTIFY_SOCKET",
                             env::kMasterPid, env::kGeneration}) {
      ::unsetenv(name);
    }
    std::string error;
    auto state = ChildState::from_environment(kDrainSignal, error);
    EXPECT_TRUE(state != nullptr) << error;
    return state;
  }

  // Waits (bounded) until `count` reaches `want`; returns whether it did.
  static bool eventually(const std::atomic<int>& count, int want) {
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (count.load() < want && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(1ms);
    }
    return count.load() >= want;
  }
};

TEST_F(ChildStateTest, CallbackRegisteredBeforeDrainingRunsOnAMoltThread) {
  auto state = make_state();
  std::atomic<int> runs{0};
  std::thread::id ran_on;
  state->on_drain([&] {
    ran_on = std::this_thread::get_id();
    runs.fetch_add(1);
  });
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(runs.load(), 0) << "ran before draining began";
  EXPECT_FALSE(state->draining());

  std::raise(kDrainSignal);
  ASSERT_TRUE(eventually(runs, 1));
  EXPECT_TRUE(state->draining());
  EXPECT_NE(ran_on, std::this_thread::get_id());
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(runs.load(), 1);
}

TEST_F(ChildStateTest, CallbackRegisteredAfterDrainingBeganRunsAtOnceOnTheCaller) {
  auto state = make_state();
  std::raise(kDrainSignal);
  ASSERT_TRUE(state->draining());

  std::atomic<int> runs{0};
  std::thread::id ran_on;
  state->on_drain([&] {
    ran_on = std::this_thread::get_id();
    runs.fetch_add(1);
  });
  ASSERT_EQ(runs.load(), 1) << "did not run before on_drain returned";
  EXPECT_EQ(ran_on, std::this_thread::get_id());
}

TEST_F(ChildStateTest, CallbackRegisteredAfterTheWatcherRanStillRuns) {
  auto state = make_state();
  std::atomic<int> first{0};
  std::atomic<int> second{0};
  state->on_drain([&] { first.fetch_add(1); });
  std::raise(kDrainSignal);
  ASSERT_TRUE(eventually(first, 1));

  // The watcher thread has run its callbacks and is done: this one must not wait for it.
  state->on_drain([&] { second.fetch_add(1); });
  EXPECT_EQ(second.load(), 1);
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(first.load(), 1);
  EXPECT_EQ(second.load(), 1);
}

// Registration racing the drain signal: the registrar goes on registering until it sees a
// callback run (the watcher took the list by then), then a few more. Every one runs exactly once.
TEST_F(ChildStateTest, CallbacksRacingTheDrainSignalEachRunExactlyOnce) {
  constexpr int kRounds = 100;
  constexpr int kMaxCallbacks = 20000;
  constexpr int kAfterFirstRun = 5;
  for (int round = 0; round < kRounds; ++round) {
    auto state = make_state();
    std::vector<std::atomic<int>> runs(kMaxCallbacks);
    std::atomic<int> total{0};
    std::atomic<bool> go{false};
    int registered = 0;
    std::thread registrar([&] {
      while (!go.load()) {
      }
      int after = 0;
      while (registered < kMaxCallbacks && after < kAfterFirstRun) {
        if (total.load() > 0) ++after;
        int i = registered++;
        state->on_drain([&runs, &total, i] {
          runs[i].fetch_add(1);
          total.fetch_add(1);
        });
      }
    });
    go.store(true);
    std::raise(kDrainSignal);
    registrar.join();
    ASSERT_LT(registered, kMaxCallbacks) << "round " << round << ": no callback ran";
    ASSERT_TRUE(eventually(total, registered))
        << "round " << round << ": " << total.load() << " of " << registered << " ran";
    state.reset();  // joins the watcher: every callback it had has run
    for (int i = 0; i < registered; ++i) {
      ASSERT_EQ(runs[i].load(), 1) << "round " << round << ", callback " << i;
    }
  }
}

}  // namespace
}  // namespace molt::internal
