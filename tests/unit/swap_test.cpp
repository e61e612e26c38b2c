// The swap: <bin> is always a whole old or whole new file, whichever syscall fails.
#include "master/swap.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "faulty_sys.hpp"
#include "master/staged_file.hpp"

namespace molt::internal {
namespace {

namespace fs = std::filesystem;

std::size_t thread_count() {
  auto tasks = fs::directory_iterator("/proc/self/task");
  return static_cast<std::size_t>(std::distance(fs::begin(tasks), fs::end(tasks)));
}

// Passes every call to the real one, except fsync, which fails with EIO; safe to call from the
// StagedFile's own threads.
class FailingFsyncSys final : public Sys {
 public:
  int fsyncs() const { return fsyncs_; }
  int open(const char* p, int f, mode_t m) override { return real_sys().open(p, f, m); }
  ssize_t write(int fd, const void* d, std::size_t n) override {
    return real_sys().write(fd, d, n);
  }
  int fsync(int) override {
    ++fsyncs_;
    errno = EIO;
    return -1;
  }
  int fchmod(int fd, mode_t m) override { return real_sys().fchmod(fd, m); }
  int close(int fd) override { return real_sys().close(fd); }
  int link(const char* a, const char* b) override { return real_sys().link(a, b); }
  int rename(const char* a, const char* b) override { return real_sys().rename(a, b); }
  int unlink(const char* p) override { return real_sys().unlink(p); }

 private:
  std::atomic<int> fsyncs_ = 0;
};

class SwapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("molt-swap-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    bin_ = (dir_ / "app").string();
    std::ofstream(bin_) << old_;
    fs::permissions(bin_, fs::perms::owner_all);
  }
  void TearDown() override { fs::remove_all(dir_); }

  static std::string read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }

  // Stages and installs the new build through `sys`. Returns the first error, if any.
  std::string stage_and_install(Sys& sys) {
    StagedFile staged(sys, bin_, 1 << 20);
    if (!staged.open() || !staged.write(new_.data(), new_.size()) || !staged.finish()) {
      return staged.error();
    }
    std::string error = swap_in(sys, staged.path(), bin_, "the new build's signature\n");
    if (error.empty()) staged.release();
    return error;
  }

  int temp_files_left() const {
    int n = 0;
    for (const auto& e : fs::directory_iterator(dir_)) {
      std::string name = e.path().filename().string();
      if (name.find(".molt-") != std::string::npos || name.ends_with(".tmp") ||
          name.ends_with(".new")) {
        ++n;
      }
    }
    return n;
  }

  fs::path dir_;
  std::string bin_;
  const std::string old_ = std::string(100'000, 'o');
  const std::string new_ = std::string(150'000, 'n');
};

TEST_F(SwapTest, InstallKeepsThePreviousBuild) {
  EXPECT_EQ(stage_and_install(real_sys()), "");
  EXPECT_EQ(read(bin_), new_);
  EXPECT_EQ(read(prev_path(bin_)), old_);
  EXPECT_TRUE(fs::status(bin_).permissions() ==
              (fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
               fs::perms::others_read | fs::perms::others_exec));
  EXPECT_EQ(temp_files_left(), 0);
  EXPECT_EQ(read(signature_path(bin_)), "the new build's signature\n");
  EXPECT_EQ(roll_back(real_sys(), bin_), "");
  EXPECT_EQ(read(bin_), old_);
  EXPECT_FALSE(fs::exists(signature_path(bin_)));  // v1 had none: it has none again
}

TEST_F(SwapTest, EverySyscallFailingLeavesTheBinaryWhole) {
  FaultySys counting(0);
  ASSERT_EQ(stage_and_install(counting), "");
  const int total = counting.calls();
  ASSERT_GT(total, 8);
  for (int n = 1; n <= total; ++n) {
    SetUp();
    FaultySys faulty(n);
    std::string error = stage_and_install(faulty);
    std::string content = read(bin_);
    SCOPED_TRACE("call " + std::to_string(n) + " (" + faulty.failed_call() + "): " + error);
    EXPECT_TRUE(content == old_ || content == new_);
    if (!error.empty()) {
      EXPECT_EQ(content, old_);
      // The installed signature never belongs to another build than <bin>'s.
      if (faulty.failed_call() != "unlink") {
        EXPECT_FALSE(fs::exists(signature_path(bin_)));
      }
      EXPECT_NE(error.find("Input/output error"), std::string::npos);
    }
    // Only a failed cleanup may leave a temp file behind (the staged file, <bin>.prev.tmp,
    // <bin>.minisig.tmp).
    if (faulty.failed_call() != "unlink") {
      EXPECT_EQ(temp_files_left(), 0);
    }
  }
}

TEST_F(SwapTest, FullDiskIsReportedAndNothingIsReplaced) {
  // The first write of the staged file fails as on a full disk.
  FaultySys counting(0);
  StagedFile probe(counting, bin_, 1 << 20);
  ASSERT_TRUE(probe.open());
  FaultySys full_disk(counting.calls() + 1, ENOSPC);
  StagedFile staged(full_disk, bin_, 1 << 20);
  ASSERT_TRUE(staged.open());
  // Written in blocks of 1 MiB: the write of a smaller artifact fails at finish().
  EXPECT_FALSE(staged.write(new_.data(), new_.size()) && staged.finish());
  EXPECT_NE(staged.error().find("No space left on device"), std::string::npos) << staged.error();
  EXPECT_NE(staged.error().find(dir_.string()), std::string::npos) << staged.error();
  EXPECT_EQ(read(bin_), old_);
}

TEST_F(SwapTest, SizeLimit) {
  StagedFile staged(real_sys(), bin_, 10);
  ASSERT_TRUE(staged.open());
  EXPECT_FALSE(staged.write(new_.data(), 11));
  EXPECT_EQ(staged.error(), "artifact exceeds the size limit of 10 bytes");
}

TEST_F(SwapTest, DigestIsBlake2bOfWhatWasWritten) {
  StagedFile staged(real_sys(), bin_, 1 << 20);
  ASSERT_TRUE(staged.open());
  ASSERT_TRUE(staged.write("abc", 3));
  ASSERT_TRUE(staged.reset());  // a retried transfer starts again
  ASSERT_TRUE(staged.write(new_.data(), new_.size()));
  ASSERT_TRUE(staged.finish());
  sig::Hasher hasher;
  hasher.update(new_.data(), new_.size());
  EXPECT_EQ(staged.digest(), hasher.finish());
  EXPECT_EQ(read(staged.path()), new_);
}

TEST_F(SwapTest, ManyChunksHashInOrderAcrossAReset) {
  // Past the bytes hashed inline, and then more than the hashing thread lets wait (4 MiB), in
  // chunks of a size libcurl gives; reset while the thread may still hold some.
  std::string artifact(StagedFile::kHashThreadAfter + (9 << 20), '\0');
  for (std::size_t i = 0; i < artifact.size(); ++i) artifact[i] = static_cast<char>(i * 131 >> 7);
  const std::size_t chunk = 512 * 1024 + 7;
  StagedFile staged(real_sys(), bin_, 64 << 20);
  ASSERT_TRUE(staged.open());
  for (std::size_t off = 0; off < StagedFile::kHashThreadAfter + 3 * chunk; off += chunk) {
    ASSERT_TRUE(staged.write(artifact.data() + off, chunk));
  }
  ASSERT_TRUE(staged.reset());
  for (std::size_t off = 0; off < artifact.size(); off += chunk) {
    ASSERT_TRUE(staged.write(artifact.data() + off, std::min(chunk, artifact.size() - off)));
  }
  ASSERT_TRUE(staged.finish());
  sig::Hasher hasher;
  hasher.update(artifact.data(), artifact.size());
  EXPECT_EQ(staged.digest(), hasher.finish());
  EXPECT_EQ(staged.size(), artifact.size());
  EXPECT_EQ(read(staged.path()), artifact);
}

// A build of usual size costs the check helper no thread; past kHashThreadAfter one thread
// hashes while the caller writes. The digest is the same either way.
TEST_F(SwapTest, AUsualBuildIsHashedWithoutAThread) {
  const std::size_t small = (3 << 20) + 11;
  const std::size_t large = StagedFile::kHashThreadAfter + (5 << 20) + 11;
  for (std::size_t size : {small, large}) {
    std::string artifact(size, '\0');
    for (std::size_t i = 0; i < size; ++i) artifact[i] = static_cast<char>(i * 7 + (i >> 20));
    const std::size_t threads_before = thread_count();
    StagedFile staged(real_sys(), bin_, 64 << 20);
    ASSERT_TRUE(staged.open());
    for (std::size_t off = 0; off < size; off += 16 * 1024) {
      ASSERT_TRUE(
          staged.write(artifact.data() + off, std::min<std::size_t>(16 * 1024, size - off)));
    }
    EXPECT_EQ(thread_count(), threads_before + (size == large ? 1 : 0)) << size;
    ASSERT_TRUE(staged.finish());
    EXPECT_EQ(thread_count(), threads_before) << size;
    sig::Hasher hasher;
    hasher.update(artifact.data(), artifact.size());
    EXPECT_EQ(staged.digest(), hasher.finish()) << size;
  }
}

TEST_F(SwapTest, WriteFailingMidTransferGivesOneErrorAndLeavesNoTempFile) {
  FaultySys counting(0);
  int opened = 0;  // the calls open() makes
  {
    StagedFile probe(counting, bin_, 1 << 20);
    ASSERT_TRUE(probe.open());
    opened = counting.calls();
  }
  const std::string chunk(16 * 1024 + 5, 'n');  // as libcurl gives them, at most 16 KiB
  {
    FaultySys faulty(opened + 3, ENOSPC);  // the third write(2), of the third 64 KiB block
    StagedFile staged(faulty, bin_, 64 << 20);
    ASSERT_TRUE(staged.open());
    std::size_t accepted = 0;
    while (accepted < (8 << 20) && staged.write(chunk.data(), chunk.size())) {
      accepted += chunk.size();
    }
    EXPECT_EQ(accepted / (64 << 10), 2);
    EXPECT_EQ(faulty.failed_call(), "write");
    EXPECT_EQ(staged.error(), "write " + staged.path() + ": No space left on device");
  }
  EXPECT_EQ(temp_files_left(), 0);
  EXPECT_EQ(read(bin_), old_);
}

TEST_F(SwapTest, FsyncFailingDuringTheTransferGivesOneErrorAndLeavesNoTempFile) {
  // Past 32 MiB the file is fsynced while it is written, from another thread.
  const std::string chunk(16 * 1024, 'n');
  FailingFsyncSys sys;
  {
    StagedFile staged(sys, bin_, 128 << 20);
    ASSERT_TRUE(staged.open());
    bool ok = true;
    for (int i = 0; ok && i < (40 << 20) / static_cast<int>(chunk.size()); ++i) {
      ok = staged.write(chunk.data(), chunk.size());
    }
    EXPECT_FALSE(ok && staged.finish());
    EXPECT_EQ(staged.error(), "fsync " + staged.path() + ": Input/output error");
    EXPECT_GE(sys.fsyncs(), 1);
  }
  EXPECT_EQ(temp_files_left(), 0);
  EXPECT_EQ(read(bin_), old_);
}

}  // namespace
}  // namespace molt::internal
