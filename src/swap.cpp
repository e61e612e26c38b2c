#include "swap.hpp"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace molt {
namespace {

std::string dir_of(const std::string& path) {
  std::size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string base_of(const std::string& path) {
  std::size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string cause(const std::string& step, const std::string& path) {
  return step + " " + path + ": " + std::strerror(errno);
}

std::string fsync_dir(Sys& sys, const std::string& dir) {
  int fd = sys.open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (fd < 0) return cause("open", dir);
  std::string error;
  if (sys.fsync(fd) != 0) error = cause("fsync", dir);
  sys.close(fd);
  return error;
}

}  // namespace

// Hashes chunks on a thread of its own, so that hashing overlaps the download and the write
// instead of following them. Each chunk is copied (the caller's buffer is libcurl's, reused as
// soon as the write callback returns); update() blocks while kMaxPending bytes wait. Without a
// thread (std::thread could not start one) it hashes in the caller, as before.
class ChunkHasher {
 public:
  ChunkHasher() {
    try {
      thread_ = std::thread([this] { run(); });
    } catch (const std::system_error&) {
    }
  }

  ~ChunkHasher() {
    if (!thread_.joinable()) return;
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_one();
    thread_.join();
  }

  ChunkHasher(const ChunkHasher&) = delete;
  ChunkHasher& operator=(const ChunkHasher&) = delete;

  void update(const char* data, std::size_t size) {
    if (!thread_.joinable()) {
      hasher_.update(data, size);
      return;
    }
    std::unique_lock lock(mutex_);
    done_.wait(lock, [&] { return pending_ < kMaxPending; });
    std::vector<char> chunk;
    if (!spare_.empty()) {
      chunk = std::move(spare_.back());
      spare_.pop_back();
    }
    chunk.assign(data, data + size);
    pending_ += size;
    queue_.push_back(std::move(chunk));
    lock.unlock();
    wake_.notify_one();
  }

  // Forgets every byte given so far.
  void reset() {
    std::unique_lock lock(mutex_);
    for (auto& chunk : queue_) {
      pending_ -= chunk.size();
      spare_.push_back(std::move(chunk));
    }
    queue_.clear();
    done_.wait(lock, [&] { return pending_ == 0; });  // the chunk being hashed, if any
    hasher_.finish();
  }

  // Waits for every chunk given so far; the hasher then starts over.
  sig::Digest finish() {
    std::unique_lock lock(mutex_);
    done_.wait(lock, [&] { return pending_ == 0; });
    return hasher_.finish();
  }

 private:
  // 8 chunks of libcurl's 512 KiB buffer.
  static constexpr std::size_t kMaxPending = 4 << 20;

  void run() {
    std::unique_lock lock(mutex_);
    for (;;) {
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      std::vector<char> chunk = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      hasher_.update(chunk.data(), chunk.size());
      lock.lock();
      pending_ -= chunk.size();
      if (spare_.size() < 8) spare_.push_back(std::move(chunk));
      done_.notify_all();
    }
  }

  sig::Hasher hasher_;  // the thread's while pending_ > 0, the caller's once it is 0
  std::mutex mutex_;
  std::condition_variable wake_;  // to the thread: a chunk is queued, or stop
  std::condition_variable done_;  // to the caller: a chunk is hashed
  std::deque<std::vector<char>> queue_;
  std::vector<std::vector<char>> spare_;  // hashed chunks, their memory reused
  std::size_t pending_ = 0;               // bytes queued or being hashed
  bool stopping_ = false;
  std::thread thread_;  // last: started once everything above is constructed
};

std::string prev_path(const std::string& bin_path) { return bin_path + ".prev"; }

void remove_staged_leftovers(const std::string& bin_path) {
  std::string prefix = "." + base_of(bin_path) + ".molt-";
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir_of(bin_path), ec)) {
    std::string name = entry.path().filename().string();
    if (name.starts_with(prefix) && name.size() == prefix.size() + 6) {
      std::filesystem::remove(entry.path(), ec);
    }
  }
}

StagedFile::StagedFile(Sys& sys, std::string bin_path, std::uint64_t max_size)
    : sys_(sys), bin_path_(std::move(bin_path)), max_size_(max_size) {}

StagedFile::~StagedFile() {
  hasher_.reset();  // joins the hashing thread
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
  if (!hasher_) hasher_ = std::make_unique<ChunkHasher>();
  hasher_->update(data, size);  // hashed on the other thread while this one writes
  size_ += size;
  while (size > 0) {
    ssize_t n = sys_.write(fd_, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail("write");
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  if (size_ - written_back_ >= kWritebackEvery) start_writeback();
  return true;
}

// Starts the writeback of what was written since the last time, so that finish()'s fsync finds
// little left: measured on a 257 MiB download, fsync went from about 340 to 150 ms while the
// download took about 90 ms longer. Only a head start: fsync reports any error, so this one's
// result does not matter.
void StagedFile::start_writeback() {
#ifdef SYNC_FILE_RANGE_WRITE
  ::sync_file_range(fd_, static_cast<off_t>(written_back_),
                    static_cast<off_t>(size_ - written_back_), SYNC_FILE_RANGE_WRITE);
#endif
  written_back_ = size_;
}

bool StagedFile::reset() {
  if (::ftruncate(fd_, 0) != 0 || ::lseek(fd_, 0, SEEK_SET) != 0) return fail("truncate");
  if (hasher_) hasher_->reset();
  size_ = 0;
  written_back_ = 0;
  return true;
}

bool StagedFile::finish() {
  if (sys_.fchmod(fd_, 0755) != 0) return fail("chmod");
  if (sys_.fsync(fd_) != 0) return fail("fsync");
  int fd = fd_;
  fd_ = -1;
  if (sys_.close(fd) != 0) return fail("close");
  digest_ = hasher_ ? hasher_->finish() : sig::Hasher().finish();  // nothing written: empty
  hasher_.reset();  // joins the thread: the probe run forks next
  return true;
}

std::string install(Sys& sys, const std::string& staged_path, const std::string& bin_path) {
  std::string prev = prev_path(bin_path);
  std::string prev_tmp = prev + ".tmp";
  sys.unlink(prev_tmp.c_str());
  if (sys.link(bin_path.c_str(), prev_tmp.c_str()) != 0) {
    if (errno != ENOENT) return cause("keep the running binary as", prev_tmp);
  } else if (sys.rename(prev_tmp.c_str(), prev.c_str()) != 0) {
    std::string error = cause("rename to", prev);
    sys.unlink(prev_tmp.c_str());
    return error;
  }
  if (sys.rename(staged_path.c_str(), bin_path.c_str()) != 0) return cause("rename to", bin_path);
  if (std::string error = fsync_dir(sys, dir_of(bin_path)); !error.empty()) {
    // Not durable: put the old build back rather than run one a crash could lose.
    sys.rename(prev.c_str(), bin_path.c_str());
    return error;
  }
  return {};
}

std::string roll_back(Sys& sys, const std::string& bin_path) {
  std::string prev = prev_path(bin_path);
  if (sys.rename(prev.c_str(), bin_path.c_str()) != 0) return cause("restore", prev);
  return fsync_dir(sys, dir_of(bin_path));
}

}  // namespace molt
