// The threads that serve HttpServer's connections: none at start, one more each time a
// connection arrives while every thread is busy, up to a bound. cpp-httplib's ThreadPool starts
// all of them at once (128 by default), which was the largest part of a new child's start: the
// new build must be ready before the old one stops, so its start is on every upgrade's path.
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
  explicit GrowingPool(std::size_t max_threads) : max_threads_(max_threads) {}
  ~GrowingPool() override { shutdown(); }

  void enqueue(std::function<void()> task) override;
  void shutdown() override;

  std::size_t threads() const;
  std::size_t idle_threads() const;

 private:
  void work();

  const std::size_t max_threads_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> tasks_;
  std::vector<std::thread> threads_;
  std::size_t idle_ = 0;  // threads waiting for a task
  bool stopping_ = false;
};

}  // namespace molt::internal
