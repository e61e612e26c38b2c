#include "master/staged_file.hpp"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <functional>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "util/paths.hpp"
#include "util/priority.hpp"

namespace molt::internal {

// The thread of each helper below: it runs `work` whenever `ready()` holds, until stopped.
// Both are called with `mutex` held; `work` may release the lock around its slow part.
// `done` is notified after each piece of work. Without a thread (std::thread could not start
// one) running() is false and the owner does the work itself.
class Worker {
 public:
  std::mutex mutex;
  std::condition_variable wake;  // to the thread: there may be work, or stop
  std::condition_variable done;  // to the owner: a piece of work ended

  ~Worker() { stop(); }

  void start(std::function<bool()> ready, std::function<void(std::unique_lock<std::mutex>&)> work) {
    try {
      thread_ = std::thread([this, ready = std::move(ready), work = std::move(work)] {
        std::unique_lock lock(mutex);
        for (;;) {
          wake.wait(lock, [&] { return stopping_ || ready(); });
          if (stopping_) return;
          work(lock);
          done.notify_all();
        }
      });
    } catch (const std::system_error&) {
    }
  }

  // Joins the thread; the owner calls it first in its destructor, while what `work` uses lives.
  void stop() {
    if (!thread_.joinable()) return;
    {
      std::lock_guard lock(mutex);
      stopping_ = true;
    }
    wake.notify_one();
    thread_.join();
  }

  bool running() const { return thread_.joinable(); }

 private:
  bool stopping_ = false;
  std::thread thread_;
};

// The blocks of a StagedFile, and the thread that hashes them, so that hashing overlaps the
// download and the write instead of following them. The caller fills a block, hands it to
// hash() and then writes it out while the thread hashes it: both only read it, and it comes
// back from acquire() (to the caller, once it is hashed) only after that write.
// The first kInlineBytes are hashed in the caller, in one small block used over and over: for
// a build of usual size, a thread (its stack and malloc arena) and four fresh 1 MiB blocks cost
// the check more CPU than the overlap saves, most of it in page faults (bench/RESULTS.md,
// section 4). Without a thread (std::thread could not start one) everything is hashed in
// the caller.
class BlockHasher {
 public:
  static constexpr std::size_t kBlockSize = 1 << 20;
  static constexpr std::size_t kBlocks = 4;
  static constexpr std::size_t kInlineBlockSize = 64 << 10;
  static constexpr std::uint64_t kInlineBytes = StagedFile::kHashThreadAfter;

  struct Block {
    char* data;
    std::size_t capacity;
  };

  BlockHasher() = default;
  ~BlockHasher() { worker_.stop(); }

  BlockHasher(const BlockHasher&) = delete;
  BlockHasher& operator=(const BlockHasher&) = delete;

  // A block to fill; waits while every block is queued or being hashed.
  Block acquire() {
    if (!worker_.running()) {
      if (!inline_block_) inline_block_ = std::make_unique_for_overwrite<char[]>(kInlineBlockSize);
      return {inline_block_.get(), kInlineBlockSize};
    }
    std::unique_lock lock(mutex_);
    done_.wait(lock, [&] { return !free_.empty() || allocated_ < kBlocks; });
    if (free_.empty()) {
      blocks_[allocated_] = std::make_unique_for_overwrite<char[]>(kBlockSize);
      return {blocks_[allocated_++].get(), kBlockSize};
    }
    char* block = free_.back();
    free_.pop_back();
    return {block, kBlockSize};
  }

  // Hashes the first `size` bytes of a block from acquire(), which then becomes free again.
  void hash(char* block, std::size_t size) {
    if (!worker_.running()) {
      hasher_.update(block, size);
      given_ += size;
      if (given_ >= kInlineBytes && !thread_tried_) start_thread();
      return;
    }
    {
      std::lock_guard lock(mutex_);
      queue_.push_back({block, size});
    }
    wake_.notify_one();
  }

  // Forgets every byte given so far.
  void reset() {
    std::unique_lock lock(mutex_);
    for (auto [block, size] : queue_) free_.push_back(block);
    queue_.clear();
    done_.wait(lock, [&] { return !hashing_; });
    hasher_.finish();
  }

  // Waits for every block given so far; the hasher then starts over.
  sig::Digest finish() {
    std::unique_lock lock(mutex_);
    done_.wait(lock, [&] { return queue_.empty() && !hashing_; });
    return hasher_.finish();
  }

 private:
  void start_thread() {
    thread_tried_ = true;
    worker_.start([this] { return !queue_.empty(); },
                  [this](std::unique_lock<std::mutex>& lock) {
                    auto [block, size] = queue_.front();
                    queue_.pop_front();
                    hashing_ = true;
                    lock.unlock();
                    hasher_.update(block, size);
                    lock.lock();
                    hashing_ = false;
                    free_.push_back(block);
                  });
  }

  sig::Hasher hasher_;  // the thread's while it hashes, the caller's when nothing is queued
  std::unique_ptr<char[]> inline_block_;
  std::unique_ptr<char[]> blocks_[kBlocks];
  std::size_t allocated_ = 0;
  std::vector<char*> free_;
  std::deque<std::pair<char*, std::size_t>> queue_;
  bool hashing_ = false;
  std::uint64_t given_ = 0;    // bytes hashed inline
  bool thread_tried_ = false;  // start_thread() was called, whether or not a thread started
  Worker worker_;
  std::mutex& mutex_ = worker_.mutex;
  std::condition_variable& wake_ = worker_.wake;  // a block is queued
  std::condition_variable& done_ = worker_.done;  // a block is hashed and free
};

// Makes the file durable as it grows, on a thread of its own: an fsync every kSyncEvery bytes
// written, so that finish()'s fsync has only the tail left: one fsync of a whole large file
// costs the device's cache flush at the end, where it delays the upgrade (bench/RESULTS.md,
// "transfer"), while spread over the download it costs nothing measurable. The first error is kept:
// a failed fsync may not be reported again by the next one on the same file. Without a thread
// (std::thread could not start one) it does nothing.
class Flusher {
 public:
  static constexpr std::uint64_t kSyncEvery = 32 << 20;

  Flusher(Sys& sys, int fd) : sys_(sys), fd_(fd) {
    worker_.start([this] { return written_ - synced_ >= kSyncEvery; },
                  [this](std::unique_lock<std::mutex>& lock) {
                    synced_ = written_;
                    syncing_ = true;
                    lock.unlock();
                    int error = sys_.fsync(fd_) == 0 ? 0 : errno;
                    lock.lock();
                    if (error != 0 && error_ == 0) error_ = error;
                    syncing_ = false;
                  });
  }

  ~Flusher() { worker_.stop(); }

  Flusher(const Flusher&) = delete;
  Flusher& operator=(const Flusher&) = delete;

  // The file now holds `end` bytes.
  void written(std::uint64_t end) {
    {
      std::lock_guard lock(mutex_);
      written_ = end;
      if (written_ - synced_ < kSyncEvery) return;
    }
    wake_.notify_one();
  }

  // The errno of the first fsync that failed, or 0.
  int error() const { return error_.load(); }

  // The file was truncated: waits for an fsync under way. An error stays: the disk failed.
  void reset() {
    std::unique_lock lock(mutex_);
    done_.wait(lock, [&] { return !syncing_; });
    written_ = synced_ = 0;
  }

  // Waits for an fsync under way; returns error().
  int wait() {
    std::unique_lock lock(mutex_);
    done_.wait(lock, [&] { return !syncing_; });
    return error_.load();
  }

 private:
  Sys& sys_;
  const int fd_;
  std::uint64_t written_ = 0;  // the file's size
  std::uint64_t synced_ = 0;   // its size at the last fsync's start
  std::atomic<int> error_ = 0;
  bool syncing_ = false;
  Worker worker_;  // started in the constructor body, once every member is constructed
  std::mutex& mutex_ = worker_.mutex;
  std::condition_variable& wake_ = worker_.wake;  // kSyncEvery more bytes
  std::condition_variable& done_ = worker_.done;  // an fsync returned
};

void remove_staged_leftovers(const std::string& bin_path, const std::string& keep) {
  std::string prefix = "." + base_of(bin_path) + ".molt-";
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir_of(bin_path), ec)) {
    std::string name = entry.path().filename().string();
    if (name.starts_with(prefix) && name.size() == prefix.size() + 6 &&
        entry.path().string() != keep) {
      std::filesystem::remove(entry.path(), ec);
    }
  }
}

StagedFile::StagedFile(Sys& sys, std::string bin_path, std::uint64_t max_size,
                       std::optional<int> bulk_nice)
    : sys_(sys),
      bin_path_(std::move(bin_path)),
      max_size_(max_size),
      bulk_nice_(bulk_nice.value_or(::getpriority(PRIO_PROCESS, 0) + kBulkNice)) {}

StagedFile::~StagedFile() {
  flusher_.reset();  // joins the threads
  hasher_.reset();
  if (fd_ >= 0) sys_.close(fd_);
  if (!path_.empty() && !released_) sys_.unlink(path_.c_str());
}

bool StagedFile::fail(const std::string& step) {
  error_ = cause(step, path_);
  return false;
}

bool StagedFile::open() {
  // Same directory as the binary, so the final rename never crosses a filesystem.
  std::string pattern = dir_of(bin_path_) + "/." + base_of(bin_path_) + ".molt-XXXXXX";
  // mkstemp picks the name; the file is then reopened through the seam so tests can fail it.
  int probe = ::mkstemp(pattern.data());
  if (probe < 0) {
    error_ = cause("create temp file in", dir_of(bin_path_));
    return false;
  }
  ::close(probe);
  path_ = pattern;
  fd_ = sys_.open(path_.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC, 0700);
  if (fd_ < 0) return fail("open");
  return true;
}

bool StagedFile::write(const char* data, std::size_t size) {
  if (size_ + size > max_size_) {
    error_ = "artifact exceeds the size limit of " + std::to_string(max_size_) + " bytes";
    return false;
  }
  size_ += size;
  // libcurl calls with at most 16 KiB (CURL_MAX_WRITE_SIZE) whatever its buffer size: gather
  // them into blocks, so that there is one write(2) and one hand-over per block.
  while (size > 0) {
    if (!block_) {
      if (!hasher_) hasher_ = std::make_unique<BlockHasher>();
      auto [data, capacity] = hasher_->acquire();
      block_ = data;
      block_capacity_ = capacity;
    }
    std::size_t n = std::min(size, block_capacity_ - block_used_);
    std::memcpy(block_ + block_used_, data, n);
    block_used_ += n;
    data += n;
    size -= n;
    if (block_used_ == block_capacity_ && !write_block()) return false;
  }
  return true;
}

// Hands the block to the hashing thread and writes it out meanwhile.
bool StagedFile::write_block() {
  const char* data = block_;
  std::size_t size = block_used_;
  hasher_->hash(block_, block_used_);
  block_ = nullptr;
  block_used_ = 0;
  while (size > 0) {
    ssize_t n = sys_.write(fd_, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail("write");
    data += n;
    size -= static_cast<std::size_t>(n);
    written_ += static_cast<std::uint64_t>(n);
  }
  if (!yielded_ && written_ >= kYieldAfter) {
    std::optional<int> autogroup = ::getsid(0) == ::getpid() ? own_autogroup_nice() : std::nullopt;
    if (autogroup) {
      bulk_autogroup_ =
          autogroup_nice_moved(*autogroup, ::getpriority(PRIO_PROCESS, 0), bulk_nice_);
    }
    lower_priority_to(bulk_nice_);
    yielded_ = true;
  }
  if (bulk_autogroup_ && written_ >= autogroup_retry_at_) {
    if (set_own_autogroup_nice(*bulk_autogroup_) == EAGAIN) {
      autogroup_retry_at_ = written_ + kYieldRetryBytes;
    } else {
      bulk_autogroup_.reset();
    }
  }
  if (!flusher_ && written_ >= Flusher::kSyncEvery) {
    flusher_ = std::make_unique<Flusher>(sys_, fd_);  // a file that small needs no thread
  }
  if (flusher_) {
    flusher_->written(written_);
    if (int error = flusher_->error()) {
      errno = error;
      return fail("fsync");
    }
  }
  return true;
}

bool StagedFile::reset() {
  if (::ftruncate(fd_, 0) != 0 || ::lseek(fd_, 0, SEEK_SET) != 0) return fail("truncate");
  if (hasher_) hasher_->reset();
  if (flusher_) flusher_->reset();
  block_used_ = 0;  // the block, if any, stays ours to fill
  size_ = 0;
  written_ = 0;
  return true;
}

bool StagedFile::finish() {
  if (block_used_ > 0 && !write_block()) return false;
  if (flusher_) {
    int error = flusher_->wait();
    flusher_.reset();
    if (error != 0) {
      errno = error;
      return fail("fsync");
    }
  }
  if (sys_.fchmod(fd_, 0755) != 0) return fail("chmod");
  if (sys_.fsync(fd_) != 0) return fail("fsync");
  int fd = fd_;
  fd_ = -1;
  if (sys_.close(fd) != 0) return fail("close");
  digest_ = hasher_ ? hasher_->finish() : sig::Hasher().finish();  // nothing written: empty
  block_ = nullptr;
  hasher_.reset();  // joins the thread and frees the blocks
  return true;
}

}  // namespace molt::internal
