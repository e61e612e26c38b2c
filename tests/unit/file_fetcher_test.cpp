// The file source's poll: what it reports as changed or not, now that an unchanged file is
// answered from one stat without being opened.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>

#include "fetchers/file.hpp"
#include "temp_files.hpp"
#include "util/memory_sink.hpp"

namespace molt::internal {
namespace {

namespace fs = std::filesystem;
using Status = FetchResult::Status;
using test::write_file;

class FileFetcherTest : public ::testing::Test {
 protected:
  FetchResult poll(const Validator& since, std::string* bytes = nullptr) {
    MemorySink sink(1 << 16, "signature");
    FetchResult result = fetcher_.poll(since, sink);
    if (bytes) *bytes = sink.bytes();
    return result;
  }

  // The signature written and read once, as a master's first check does: its validator.
  Validator read_once() {
    write_file(dir_ / "app.minisig", "first");
    FetchResult first = poll({});
    EXPECT_EQ(first.status, Status::kChanged) << first.error;
    return first.validator;
  }

  test::TempDir temp_;
  const fs::path& dir_ = temp_.path();
  FileFetcher fetcher_{(dir_ / "app").string()};
};

TEST_F(FileFetcherTest, AnUnchangedSignatureIsNotModifiedAndAChangedOneIsRead) {
  write_file(dir_ / "app.minisig", "first");
  std::string bytes;
  FetchResult first = poll({}, &bytes);
  ASSERT_EQ(first.status, Status::kChanged) << first.error;
  EXPECT_EQ(bytes, "first");

  FetchResult again = poll(first.validator, &bytes);
  EXPECT_EQ(again.status, Status::kNotModified) << again.error;
  EXPECT_EQ(again.validator, first.validator);

  // Rewritten in place (a new size): read again.
  write_file(dir_ / "app.minisig", "rewritten");
  FetchResult rewritten = poll(first.validator, &bytes);
  ASSERT_EQ(rewritten.status, Status::kChanged) << rewritten.error;
  EXPECT_EQ(bytes, "rewritten");
}

TEST_F(FileFetcherTest, ASignatureRenamedIntoPlaceWithTheSameSizeAndTimeIsRead) {
  const Validator first = read_once();
  struct stat old {};
  ASSERT_EQ(::stat((dir_ / "app.minisig").c_str(), &old), 0);

  write_file(dir_ / "next", "other");
  const timespec times[2] = {old.st_atim, old.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, (dir_ / "next").c_str(), times, 0), 0);
  fs::rename(dir_ / "next", dir_ / "app.minisig");

  std::string bytes;
  FetchResult renamed = poll(first, &bytes);
  ASSERT_EQ(renamed.status, Status::kChanged) << renamed.error;
  EXPECT_EQ(bytes, "other");
}

TEST_F(FileFetcherTest, AFifoInPlaceOfTheSignatureIsRefusedEvenAfterAGoodRead) {
  const Validator first = read_once();
  fs::remove(dir_ / "app.minisig");
  ASSERT_EQ(::mkfifo((dir_ / "app.minisig").c_str(), 0600), 0);

  FetchResult fifo = poll(first);
  EXPECT_EQ(fifo.status, Status::kFailed);
  EXPECT_NE(fifo.error.find("not a regular file"), std::string::npos) << fifo.error;
}

TEST_F(FileFetcherTest, ASignatureThatGoesAwayIsMissing) {
  const Validator first = read_once();
  fs::remove(dir_ / "app.minisig");
  EXPECT_EQ(poll(first).status, Status::kMissing);
}

}  // namespace
}  // namespace molt::internal
