// Reading a BuildID from a file without running it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <molt/build_id.hpp>

// The unit test binary names its own build, as a program does with -DMOLT_BUILD_ID.
MOLT_EMBED_BUILD_ID("unit-test-build")

namespace molt {
namespace {

namespace fs = std::filesystem;

class BuildIdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("molt-build-id-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& bytes) {
    std::string path = dir_ / name;
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }
  static std::string read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }

  fs::path dir_;
};

TEST_F(BuildIdTest, MoltNoteWins) {
  std::string error;
  EXPECT_EQ(read_build_id("/proc/self/exe", error), "unit-test-build") << error;
}

TEST_F(BuildIdTest, GnuBuildIdAsHexWhenThereIsNoMoltNote) {
  // Compared with what binutils reads from the same file.
  FILE* p = ::popen("readelf -n /bin/true | sed -n 's/.*Build ID: //p'", "r");
  ASSERT_NE(p, nullptr);
  char line[256] = {};
  ASSERT_NE(std::fgets(line, sizeof line, p), nullptr);
  ::pclose(p);
  std::string expected(line);
  expected.erase(expected.find_last_not_of("\n ") + 1);
  std::string error;
  EXPECT_EQ(read_build_id("/bin/true", error), expected) << error;
}

TEST_F(BuildIdTest, MissingFile) {
  std::string error;
  EXPECT_FALSE(read_build_id((dir_ / "nope").string(), error));
  EXPECT_EQ(error, (dir_ / "nope").string() + ": No such file or directory");
}

TEST_F(BuildIdTest, NotElf) {
  std::string error;
  EXPECT_FALSE(read_build_id(write("script", "#!/bin/sh\necho hi\n"), error));
  EXPECT_NE(error.find(": not an ELF executable"), std::string::npos) << error;
  EXPECT_FALSE(read_build_id(write("empty", ""), error));
  EXPECT_NE(error.find(": not an ELF executable"), std::string::npos) << error;
}

TEST_F(BuildIdTest, TruncatedElf) {
  std::string self = read("/proc/self/exe");
  std::string error;
  EXPECT_FALSE(read_build_id(write("half", self.substr(0, self.size() / 2)), error));
  EXPECT_NE(error.find("truncated"), std::string::npos) << error;
  EXPECT_FALSE(read_build_id(write("header", self.substr(0, 20)), error));
  EXPECT_NE(error.find("truncated ELF header"), std::string::npos) << error;
}

TEST_F(BuildIdTest, RelocatableObjectIsNotAnExecutable) {
  std::string self = read("/proc/self/exe");
  self[16] = 1;  // e_type = ET_REL
  std::string error;
  EXPECT_FALSE(read_build_id(write("object", self), error));
  EXPECT_NE(error.find("not an executable (ELF type 1)"), std::string::npos) << error;
}

TEST_F(BuildIdTest, NoNoteAtAll) {
  // Rename both note sections in the section name table so neither is found.
  std::string self = read("/proc/self/exe");
  for (const std::string name : {".note.molt.build-id", ".note.gnu.build-id"}) {
    std::size_t at = self.rfind(name + '\0');  // the section name table is near the end
    ASSERT_NE(at, std::string::npos) << name;
    self[at + 1] = 'X';
  }
  std::string error;
  EXPECT_FALSE(read_build_id(write("anonymous", self), error));
  EXPECT_NE(error.find("no BuildID"), std::string::npos) << error;
}

}  // namespace
}  // namespace molt
