// The check helper's priority per phase: a build of usual size is staged at the priority the
// check runs at; the bulk of a large one, with every thread that hashes and flushes it, at the
// nice value the master gives (its own + 10), or 10 levels lower when it gives none. Runs in a
// forked process: the priority never comes back.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "master/staged_file.hpp"

namespace molt::internal {
namespace {

namespace fs = std::filesystem;

// The nice value of every thread of this process; empty if /proc cannot say.
std::vector<int> thread_nices() {
  std::vector<int> nices;
  for (const auto& task : fs::directory_iterator("/proc/self/task")) {
    std::ifstream stat(task.path() / "stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    std::size_t close = text.rfind(')');
    if (close == std::string::npos) return {};
    std::istringstream fields(text.substr(close + 2));
    std::string field;
    for (int number = 3; fields >> field; ++number) {
      if (number == 19) {  // nice
        nices.push_back(std::stoi(field));
        break;
      }
    }
  }
  return nices;
}

bool all_at(const std::vector<int>& nices, int want) {
  if (nices.empty()) return false;
  for (int n : nices) {
    if (n != want) return false;
  }
  return true;
}

// In the forked process: 0 if every step held, else the number of the first that did not.
// `bulk_steps`: the bulk's nice value given to StagedFile, as levels below the start; none: none
// given.
int stage_and_watch_priority(const std::string& bin, std::optional<int> bulk_steps) {
  const int start = ::getpriority(PRIO_PROCESS, 0);
  if (start > 19 - StagedFile::kBulkNice) return 0;  // already too low to see a change
  std::optional<int> bulk_nice;
  if (bulk_steps) bulk_nice = start + *bulk_steps;
  StagedFile staged(real_sys(), bin, 2 * StagedFile::kYieldAfter, bulk_nice);
  if (!staged.open()) return 1;
  std::string block(1 << 20, 'x');
  std::uint64_t written = 0;
  static_assert(StagedFile::kHashThreadAfter + (4 << 20) <= StagedFile::kYieldAfter);
  while (written + block.size() < (StagedFile::kHashThreadAfter + StagedFile::kYieldAfter) / 2) {
    if (!staged.write(block.data(), block.size())) return 2;
    written += block.size();
  }
  // The hashing thread runs by now, at the priority the process started with.
  if (thread_nices().size() < 2 || !all_at(thread_nices(), start)) return 3;
  while (written < StagedFile::kYieldAfter + 2 * block.size()) {
    if (!staged.write(block.data(), block.size())) return 4;
    written += block.size();
  }
  if (!all_at(thread_nices(), bulk_nice.value_or(start + StagedFile::kBulkNice))) return 5;
  if (!staged.finish()) return 6;
  return 0;
}

void expect_priorities_held(std::optional<int> bulk_steps) {
  fs::path dir = fs::temp_directory_path() / ("molt-priority-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) _exit(stage_and_watch_priority((dir / "app").string(), bulk_steps));
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  fs::remove_all(dir);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "step " << WEXITSTATUS(status)
                                    << " (3: not at the start priority below kYieldAfter; 5: not "
                                       "every thread lowered past it)";
}

TEST(StagedFilePriority, UsualBuildsAtTheStartPriorityTheBulkOfLargeOnesLower) {
  expect_priorities_held(std::nullopt);
}

// The master names the bulk's nice value: a helper whose check ran boosted above the master
// still yields to below it, not just 10 levels below the boost.
TEST(StagedFilePriority, TheBulkGoesToTheNiceValueTheMasterGives) { expect_priorities_held(5); }

}  // namespace
}  // namespace molt::internal
