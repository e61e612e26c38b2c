// The temp file a download goes into, beside the binary, hashed in the same pass:
//
//   <dir>/.<name>.molt-XXXXXX, written in blocks of 64 KiB, hashed in the same thread; past
//   8 MiB in blocks of 1 MiB, each hashed on a second thread while it is written; past 32 MiB a
//   third fsyncs it every 32 MiB. Then fchmod 0755 and fsync by finish().
#pragma once

#include <cstdint>
#include <memory>
#include <molt/fetcher.hpp>
#include <molt/signature.hpp>
#include <optional>
#include <string>

#include "util/sys.hpp"

namespace molt::internal {

class BlockHasher;  // the blocks, and the thread that hashes them (staged_file.cpp)
class Flusher;      // the thread that fsyncs the file as it grows (staged_file.cpp)

// A temp file beside the binary that receives a download and hashes it in the same pass.
// Past kHashThreadAfter bytes the hashing runs on a second thread and, past 32 MiB, fsyncs
// along the way on a third (so Sys::fsync is called from it); write() starts them, finish() or
// the destructor joins them:
// use a StagedFile only where threads are allowed (the check helper, never the master), and
// finish() it before forking. Bytes reach the file in blocks (64 KiB, then 1 MiB), so a failing
// write(2) or fsync may be reported by a later write() or by finish(). The file is removed on
// destruction unless release() was called.
//
// Past kYieldAfter bytes it lowers the priority of its whole process (the check helper, and its
// session's autogroup, which it leads) to
// `bulk_nice` (the master's nice + kBulkNice; without it, its own + kBulkNice), for good. A check
// runs at a higher priority until then (the master's, or the start boost's above it), so that
// a build of usual size is verified and started promptly even while the serving children
// saturate the CPU (a nice-10 helper took a median 283 ms there to verify a 2.3 MiB build that
// takes it under 20 ms idle);
// the bulk of a large artifact, hashed and written at full speed, would take that CPU from them
// for as long as it lasts. bench/RESULTS.md measures both sides.
class StagedFile final : public Sink {
 public:
  static constexpr std::uint64_t kHashThreadAfter = 8 << 20;
  static constexpr std::uint64_t kYieldAfter = 16 << 20;
  static constexpr std::uint64_t kYieldRetryBytes = 1 << 20;
  static constexpr int kBulkNice = 10;

  StagedFile(Sys& sys, std::string bin_path, std::uint64_t max_size,
             std::optional<int> bulk_nice = std::nullopt);
  ~StagedFile() override;
  StagedFile(const StagedFile&) = delete;
  StagedFile& operator=(const StagedFile&) = delete;

  bool open();
  bool write(const char* data, std::size_t size) override;
  bool reset() override;
  std::string error() const override { return error_; }

  // Makes the file executable, flushes it to disk and closes it; the digest is then final.
  bool finish();
  void release() { released_ = true; }

  const std::string& path() const { return path_; }
  std::uint64_t size() const { return size_; }
  const sig::Digest& digest() const { return digest_; }

 private:
  bool fail(const std::string& step);
  bool write_block();

  Sys& sys_;
  std::string bin_path_;
  std::uint64_t max_size_;
  int bulk_nice_;
  std::string path_;
  int fd_ = -1;
  std::uint64_t size_ = 0;     // bytes taken
  std::uint64_t written_ = 0;  // bytes written to the file
  std::unique_ptr<BlockHasher> hasher_;
  std::unique_ptr<Flusher> flusher_;
  char* block_ = nullptr;  // the block being filled, from hasher_
  std::size_t block_capacity_ = 0;
  std::size_t block_used_ = 0;
  sig::Digest digest_{};
  std::string error_;
  bool released_ = false;
  bool yielded_ = false;  // lower_priority_to() done
  // The session's autogroup, lowered as far as the threads were, when this process leads its
  // session (the check helper): until the kernel takes it (one change per 100 ms without
  // CAP_SYS_ADMIN), tried again every kYieldRetryBytes.
  std::optional<int> bulk_autogroup_;
  std::uint64_t autogroup_retry_at_ = 0;
};

// Removes temp files a killed download left beside the binary (".<name>.molt-XXXXXX"), but
// `keep` (the staged build a candidate runs from, if any).
void remove_staged_leftovers(const std::string& bin_path, const std::string& keep = {});

}  // namespace molt::internal
