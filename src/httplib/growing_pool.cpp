#include "httplib/growing_pool.hpp"

#include <algorithm>
#include <cstdlib>
#include <system_error>
#include <utility>

namespace molt::internal {

GrowingPool::GrowingPool(std::size_t max_threads, std::size_t start_threads)
    : max_threads_(max_threads) {
  std::unique_lock lock(mutex_);
  for (std::size_t i = std::min(start_threads, max_threads); i > 0; --i) spawn(lock, true);
}

void GrowingPool::enqueue(std::function<void()> task) {
  std::unique_lock lock(mutex_);
  tasks_.push_back(std::move(task));
  if (idle_ + starting_ < tasks_.size() && spawned_ < max_threads_) {
    spawn(lock, false);
    return;
  }
  lock.unlock();
  wake_.notify_one();
}

// Creates the thread with the lock released: a clone and its stack mapping take a while, and
// every thread of the pool would wait for the lock meanwhile (measured: the first burst of
// connections to a new child finished 0.6 ms later per thread created).
// A thread that cannot be created (RLIMIT_NPROC, memory) leaves its task to the threads there
// are: the connection waits for one rather than the server failing.
void GrowingPool::spawn(std::unique_lock<std::mutex>& lock, bool warm) {
  ++starting_;
  ++spawned_;
  lock.unlock();
  std::thread thread;
  try {
    thread = std::thread(&GrowingPool::work, this, warm);
  } catch (const std::system_error&) {
    lock.lock();
    --starting_;
    --spawned_;
    wake_.notify_one();
    return;
  }
  lock.lock();
  threads_.push_back(std::move(thread));
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

void GrowingPool::work(bool warm) {
  if (warm) {
    // A thread's first allocation creates its malloc arena (an mmap, two munmaps, an mprotect,
    // then page faults): done here, before the child is ready, not on a client's first request.
    void* volatile block = std::malloc(64);
    std::free(block);
  }
  std::unique_lock lock(mutex_);
  --starting_;
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
