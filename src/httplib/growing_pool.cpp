#include "httplib/growing_pool.hpp"

#include <utility>

namespace molt::internal {

void GrowingPool::enqueue(std::function<void()> task) {
  std::unique_lock lock(mutex_);
  tasks_.push_back(std::move(task));
  if (idle_ < tasks_.size() && threads_.size() < max_threads_) {
    threads_.emplace_back(&GrowingPool::work, this);
    return;  // the new thread takes a task without being woken
  }
  lock.unlock();
  wake_.notify_one();
}

void GrowingPool::shutdown() {
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    threads.swap(threads_);
  }
  wake_.notify_all();
  for (std::thread& thread : threads) thread.join();
}

std::size_t GrowingPool::threads() const {
  std::lock_guard lock(mutex_);
  return threads_.size();
}

std::size_t GrowingPool::idle_threads() const {
  std::lock_guard lock(mutex_);
  return idle_;
}

void GrowingPool::work() {
  std::unique_lock lock(mutex_);
  for (;;) {
    ++idle_;
    wake_.wait(lock, [this] { return !tasks_.empty() || stopping_; });
    --idle_;
    if (tasks_.empty()) return;  // stopping, and nothing left to run
    std::function<void()> task = std::move(tasks_.front());
    tasks_.pop_front();
    lock.unlock();
    task();
    lock.lock();
  }
}

}  // namespace molt::internal
