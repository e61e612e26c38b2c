// The threads that serve HttpServer's connections: a few started with the pool, one more each
// time a connection arrives while every thread is busy, up to a bound. cpp-httplib's ThreadPool
// starts all of them at once (128 by default), which was the largest part of a new child's
// start: the new build must be ready before the old one stops, so its start is on every
// upgrade's path. Starting none was no better: on a drain every keep-alive client of the old
// child reconnects to the new one at once, and each waited for its thread to be created.
// Threads that exist stay (waiting costs nothing); shutdown() runs what is queued and joins them.
#pragma once

#include <httplib.h>

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace molt::internal {

class GrowingPool final : public httplib::TaskQueue {
 public:
  GrowingPool(std::size_t max_threads, std::size_t start_threads);
  ~GrowingPool() override { shutdown(); }

  void enqueue(std::function<void()> task) override;
  void shutdown() override;

  std::size_t threads() const;
  std::size_t idle_threads() const;

 private:
  void spawn(std::unique_lock<std::mutex>& lock, bool warm);
  void work(bool warm);

  const std::size_t max_threads_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> tasks_;
  std::vector<std::thread> threads_;
  std::size_t spawned_ = 0;   // threads created or being created
  std::size_t starting_ = 0;  // of them, those not waiting yet: each takes a task unwoken
  std::size_t idle_ = 0;      // threads waiting for a task
  bool stopping_ = false;
};

}  // namespace molt::internal
