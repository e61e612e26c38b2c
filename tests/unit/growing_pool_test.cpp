// HttpServer's connection threads: the few it starts with, then one more only when a connection
// finds every thread busy, never more than the bound, and every queued connection served before
// shutdown returns.
#include "httplib/growing_pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

namespace molt::internal {
namespace {

TEST(GrowingPool, StartsWithNoThreadAndGrowsOnlyWhileAllAreBusy) {
  GrowingPool pool(4, 0);
  EXPECT_EQ(pool.threads(), 0u);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> running = 0;
  for (int i = 0; i < 3; ++i) {
    pool.enqueue([&, released] {
      ++running;
      released.wait();
    });
  }
  EXPECT_EQ(pool.threads(), 3u);  // each task found every thread busy
  release.set_value();
  pool.shutdown();
  EXPECT_EQ(running.load(), 3);
}

TEST(GrowingPool, AnIdleThreadIsReusedNotDoubled) {
  GrowingPool pool(4, 0);
  for (int i = 0; i < 20; ++i) {
    std::promise<void> done;
    pool.enqueue([&done] { done.set_value(); });
    done.get_future().wait();
    // The thread is back waiting (what a connection that arrives later finds).
    while (pool.idle_threads() < pool.threads()) std::this_thread::yield();
  }
  EXPECT_EQ(pool.threads(), 1u);
  pool.shutdown();
}

TEST(GrowingPool, BeyondItsBoundTasksWaitAndAllRunBeforeShutdownReturns) {
  GrowingPool pool(2, 0);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> ran = 0;
  for (int i = 0; i < 6; ++i) {
    pool.enqueue([&, released] {
      released.wait();
      ++ran;
    });
  }
  EXPECT_EQ(pool.threads(), 2u);
  release.set_value();
  pool.shutdown();
  EXPECT_EQ(ran.load(), 6);
}

TEST(GrowingPool, StartedThreadsServeWithoutNewOnes) {
  GrowingPool pool(8, 3);
  EXPECT_EQ(pool.threads(), 3u);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> running = 0;
  for (int i = 0; i < 3; ++i) {
    pool.enqueue([&, released] {
      ++running;
      released.wait();
    });
  }
  while (running.load() < 3) std::this_thread::yield();
  EXPECT_EQ(pool.threads(), 3u);  // the three started threads took them
  pool.enqueue([released] { released.wait(); });
  EXPECT_EQ(pool.threads(), 4u);  // all busy: one more
  release.set_value();
  pool.shutdown();
}

TEST(GrowingPool, StartsNoMoreThanItsBound) {
  GrowingPool pool(2, 16);
  EXPECT_EQ(pool.threads(), 2u);
  pool.shutdown();
}

}  // namespace
}  // namespace molt::internal
