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

// Tasks that each hold their thread until release().
class Blockers {
 public:
  void add(GrowingPool& pool, int count) {
    for (int i = 0; i < count; ++i) {
      pool.enqueue([this, released = released_] {
        ++started_;
        released.wait();
      });
    }
  }
  void release() { release_.set_value(); }
  int started() const { return started_.load(); }

 private:
  std::promise<void> release_;
  std::shared_future<void> released_ = release_.get_future().share();
  std::atomic<int> started_ = 0;
};

TEST(GrowingPool, StartsWithNoThreadAndGrowsOnlyWhileAllAreBusy) {
  GrowingPool pool(4, 0);
  EXPECT_EQ(pool.threads(), 0u);
  Blockers blockers;
  blockers.add(pool, 3);
  EXPECT_EQ(pool.threads(), 3u);  // each task found every thread busy
  blockers.release();
  pool.shutdown();
  EXPECT_EQ(blockers.started(), 3);
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
  Blockers blockers;
  blockers.add(pool, 6);
  EXPECT_EQ(pool.threads(), 2u);
  blockers.release();
  pool.shutdown();
  EXPECT_EQ(blockers.started(), 6);
}

TEST(GrowingPool, StartedThreadsServeWithoutNewOnes) {
  GrowingPool pool(8, 3);
  EXPECT_EQ(pool.threads(), 3u);
  Blockers blockers;
  blockers.add(pool, 3);
  while (blockers.started() < 3) std::this_thread::yield();
  EXPECT_EQ(pool.threads(), 3u);  // the three started threads took them
  blockers.add(pool, 1);
  EXPECT_EQ(pool.threads(), 4u);  // all busy: one more
  blockers.release();
  pool.shutdown();
}

TEST(GrowingPool, StartsNoMoreThanItsBound) {
  GrowingPool pool(2, 16);
  EXPECT_EQ(pool.threads(), 2u);
  pool.shutdown();
}

}  // namespace
}  // namespace molt::internal
