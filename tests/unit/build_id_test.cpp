// Reading a BuildID from a file without running it.
#include "util/build_id.hpp"

#include <elf.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <molt/build_id.hpp>
#include <optional>
#include <string>

// The unit test binary names its own build, as a program does with -DMOLT_BUILD_ID.
MOLT_EMBED_BUILD_ID("unit-test-build")

namespace molt::internal {
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

// What `command` prints, without the trailing newline.
std::string output_of(const std::string& command) {
  std::string out;
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) return out;
  char buffer[256];
  while (std::size_t n = std::fread(buffer, 1, sizeof buffer, p)) out.append(buffer, n);
  ::pclose(p);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

// The command that copies `from` to `to` without either build-id note.
std::string strip_notes(const std::string& from, const std::string& to) {
  return "objcopy --remove-section .note.gnu.build-id --remove-section .note.molt.build-id '" +
         from + "' '" + to + "'";
}

// The BuildID a file with neither note must have, computed by coreutils.
std::string sha256_build_id(const std::string& path) {
  std::string sum = output_of("sha256sum '" + path + "'");
  return "sha256-" + sum.substr(0, sum.find(' '));
}

TEST_F(BuildIdTest, NoNoteAtAllIsNamedByTheHashOfTheFile) {
  // Rename both note sections in the section name table so neither is found.
  std::string self = read("/proc/self/exe");
  for (const std::string name : {".note.molt.build-id", ".note.gnu.build-id"}) {
    std::size_t at = self.rfind(name + '\0');  // the section name table is near the end
    ASSERT_NE(at, std::string::npos) << name;
    self[at + 1] = 'X';
  }
  std::string path = write("anonymous", self);
  std::string error;
  std::optional<std::string> id = read_build_id(path, error);
  ASSERT_TRUE(id) << error;
  EXPECT_EQ(*id, sha256_build_id(path));
  EXPECT_EQ(id->size(), 7u + 64u);
}

TEST_F(BuildIdTest, StrippedNotesGiveAStableHashThatFollowsTheContent) {
  std::string path = (dir_ / "true").string();
  ASSERT_EQ(std::system(strip_notes("/bin/true", path).c_str()), 0);
  ASSERT_EQ(output_of("readelf -n '" + path + "' | grep -c 'Build ID'"), "0");

  std::string error;
  std::optional<std::string> first = read_build_id(path, error);
  ASSERT_TRUE(first) << error;
  EXPECT_EQ(*first, sha256_build_id(path));
  EXPECT_EQ(first->rfind("sha256-", 0), 0u) << *first;
  EXPECT_EQ(first->find_first_not_of("0123456789abcdef", 7), std::string::npos) << *first;
  EXPECT_EQ(read_build_id(path, error), first) << error;

  // One byte of e_ident's padding, which nothing reads: a different file, a different build.
  std::string bytes = read(path);
  bytes[EI_PAD + 1] ^= 1;
  std::string changed = write("true-changed", bytes);
  std::optional<std::string> second = read_build_id(changed, error);
  ASSERT_TRUE(second) << error;
  EXPECT_NE(*second, *first);
  EXPECT_EQ(*second, sha256_build_id(changed));

  // `molt build-id` prints the same BuildID.
  EXPECT_EQ(output_of(std::string(MOLT_CLI_PATH) + " build-id '" + path + "'"), *first);
}

TEST_F(BuildIdTest, FileLargerThanOneChunkIsHashedWhole) {
  // A stripped ELF followed by data spanning several 64 KiB reads, ending mid-chunk.
  std::string path = (dir_ / "big").string();
  ASSERT_EQ(std::system(strip_notes("/bin/true", path).c_str()), 0);
  std::ofstream(path, std::ios::binary | std::ios::app) << std::string(3 * 65536 + 123, 'z');
  std::string error;
  EXPECT_EQ(read_build_id(path, error), sha256_build_id(path)) << error;
}

TEST_F(BuildIdTest, AGoBuildIdNoteNamesABinaryWithoutTheOthers) {
  // As Go's linker writes it: owner "Go\0\0" (namesz 4), type 4, the ID `go tool buildid` prints.
  const std::string go_id = "abcDEF123_-/ghiJKL456_-/mnoPQR789_-/stuVWX012_-";
  std::string note;
  auto u32 = [&](std::uint32_t v) { note.append(reinterpret_cast<const char*>(&v), 4); };
  u32(4);
  u32(static_cast<std::uint32_t>(go_id.size()));
  u32(4);
  note += std::string("Go\0\0", 4) + go_id;
  note.append((4 - go_id.size() % 4) % 4, '\0');
  std::string note_file = write("go.note", note);
  std::string path = (dir_ / "gobin").string();
  ASSERT_EQ(std::system(strip_notes("/bin/true", path).c_str()), 0);
  ASSERT_EQ(std::system(("objcopy --add-section .note.go.buildid='" + note_file +
                         "' --set-section-flags .note.go.buildid=alloc,readonly '" + path + "'")
                            .c_str()),
            0);
  std::string error;
  EXPECT_EQ(read_build_id(path, error), go_id) << error;
}

TEST_F(BuildIdTest, AFileThatIsNotElfIsNamedByItsContent) {
  std::string error;
  std::string script = write("script", "#!/bin/sh\necho hi\n");
  EXPECT_EQ(read_build_id(script, error), sha256_build_id(script));  // as sha256sum says
  EXPECT_FALSE(internal::is_elf_file(write("script2", "#!/bin/sh\n")));
  EXPECT_TRUE(internal::is_elf_file("/proc/self/exe"));
  EXPECT_FALSE(read_build_id(write("empty", ""), error));
  EXPECT_EQ(error, (dir_ / "empty").string() + ": an empty file");
}

}  // namespace
}  // namespace molt::internal
