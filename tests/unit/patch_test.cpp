// Delta patches: made and applied through libzstd, and interchangeable with the zstd program's
// --patch-from in both directions.
#include "util/patch.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <random>

#include "temp_files.hpp"
#include "util/memory_sink.hpp"

namespace molt::internal {
namespace {

// Two "builds": 4 MiB of noise, the second with a few bytes changed in the middle.
struct Builds {
  Builds() {
    std::mt19937 random(7);
    old_build.resize(4 << 20);
    for (char& c : old_build) c = static_cast<char>(random());
    new_build = old_build;
    new_build.replace(2 << 20, 11, "hello v2!!!");
  }
  std::string old_build, new_build;
};

TEST(PatchTest, AOneLineChangeIsAFewBytesAndRebuildsTheNewFile) {
  Builds b;
  std::string error;
  std::optional<std::string> patch = make_patch(b.old_build, b.new_build, error);
  ASSERT_TRUE(patch) << error;
  EXPECT_LT(patch->size(), 1024U);  // of 4 MiB that do not compress at all
  MemorySink out(1 << 30, "the rebuilt file");
  ASSERT_TRUE(apply_patch(b.old_build, *patch, out, error)) << error;
  EXPECT_EQ(out.bytes(), b.new_build);
}

TEST(PatchTest, ACorruptOrCutPatchIsAnErrorNeverAWrongFile) {
  Builds b;
  std::string error;
  std::string patch = make_patch(b.old_build, b.new_build, error).value();
  std::string flipped = patch;
  flipped[flipped.size() / 2] ^= 0x40;
  for (const std::string& bad : {flipped, patch.substr(0, patch.size() - 4), patch + patch,
                                 std::string("not a zstd frame")}) {
    MemorySink out(1 << 30, "the rebuilt file");
    error.clear();
    EXPECT_FALSE(apply_patch(b.old_build, bad, out, error));
    EXPECT_NE(error.find("the patch is corrupt"), std::string::npos) << error;
  }
  // Against another old file, the frame's checksum fails: the prefix is part of the rebuild.
  MemorySink out(1 << 30, "the rebuilt file");
  std::string other = b.old_build;
  other[(2 << 20) + 100] ^= 1;
  EXPECT_FALSE(apply_patch(other, patch, out, error));
}

TEST(PatchTest, TheSinkBoundsTheRebuiltFile) {
  Builds b;
  std::string error;
  std::string patch = make_patch(b.old_build, b.new_build, error).value();
  MemorySink small(1 << 20, "the rebuilt file");
  EXPECT_FALSE(apply_patch(b.old_build, patch, small, error));
  EXPECT_EQ(error, "the rebuilt file larger than 1048576 bytes");
}

// The zstd program (Debian's zstd) makes patches molt applies, and applies molt's.
TEST(PatchTest, InterchangeableWithZstdPatchFrom) {
  Builds b;
  test::TempDir dir;
  auto path = [&](const char* name) { return (dir.path() / name).string(); };
  std::ofstream(path("old"), std::ios::binary) << b.old_build;
  std::ofstream(path("new"), std::ios::binary) << b.new_build;
  std::string error;
  std::ofstream(path("ours.zst"), std::ios::binary)
      << make_patch(b.old_build, b.new_build, error).value();
  std::string rebuild = "zstd -q -d --long=31 --patch-from=" + path("old") + " " +
                        path("ours.zst") + " -o " + path("theirs-rebuilt");
  ASSERT_EQ(std::system(rebuild.c_str()), 0);
  EXPECT_EQ(test::read_file(path("theirs-rebuilt")), b.new_build);

  std::string make = "zstd -q -19 --long=31 --patch-from=" + path("old") + " " + path("new") +
                     " -o " + path("theirs.zst");
  ASSERT_EQ(std::system(make.c_str()), 0);
  MemorySink out(1 << 30, "the rebuilt file");
  ASSERT_TRUE(apply_patch(b.old_build, test::read_file(path("theirs.zst")), out, error)) << error;
  EXPECT_EQ(out.bytes(), b.new_build);
}

TEST(PatchTest, NamesKeepBuildIdsThatAreNotPlainText) {
  EXPECT_EQ(patch_name("v1"), "v1");
  EXPECT_EQ(patch_name("0123abcdef"), "0123abcdef");
  EXPECT_EQ(patch_name("sha256-ab.c_d"), "sha256-ab.c_d");
  EXPECT_EQ(patch_name("abc/def+g h%"), "abc%2Fdef%2Bg%20h%25");  // Go's BuildIDs hold '/'
}

}  // namespace
}  // namespace molt::internal
