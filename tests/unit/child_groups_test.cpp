// What a killed master's children left is ended by the next master, and nothing else is.
#include "master/child_groups.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace molt::internal {
namespace {

namespace fs = std::filesystem;

// A process group as a child leaves it: its leader and one process of the group, both our own
// children (a process may move its child into a group of its session), so both can be reaped.
class Group : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("molt-child-groups-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    leader_ = fork_sleeper(0);
    worker_ = fork_sleeper(leader_);
  }
  void TearDown() override {
    for (pid_t pid : {leader_, worker_}) {
      if (pid <= 0) continue;  // reaped already: the number may be another process's now
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    fs::remove_all(dir_);
  }

  static pid_t fork_sleeper(pid_t group) {
    pid_t pid = ::fork();
    if (pid == 0) {
      ::setpgid(0, group);
      for (;;) ::pause();
    }
    ::setpgid(pid, group ? group : pid);  // whichever runs first
    return pid;
  }

  // True when `pid` was killed by SIGKILL (it is reaped, and forgotten), false when it still
  // runs after a while.
  static bool was_killed(pid_t& pid) {
    int status = 0;
    for (int i = 0; i < 500; ++i) {
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        pid = -1;
        return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
      }
      ::usleep(10'000);
    }
    return false;
  }

  // kill_leftover_groups returns once what it killed is gone: anything alive then was spared.
  static bool still_runs(pid_t pid) { return ::waitpid(pid, nullptr, WNOHANG) == 0; }

  static std::string boot_id() {
    std::ifstream in("/proc/sys/kernel/random/boot_id");
    std::string id;
    in >> id;
    return id;
  }

  void write_record(const std::string& boot, pid_t session, std::uint64_t start_ticks) {
    std::ofstream(dir_ / "children") << "boot " << boot << " session " << session << "\n"
                                     << leader_ << " " << start_ticks << "\n";
  }

  fs::path dir_;
  pid_t leader_ = -1;
  pid_t worker_ = -1;
};

TEST_F(Group, ARecordedGroupIsKilledWholeWithOneLine) {
  ASSERT_EQ(save_child_groups(real_sys(), dir_, {{leader_, process_start_ticks(leader_)}}), "");
  std::vector<std::string> said = kill_leftover_groups(dir_);
  ASSERT_EQ(said.size(), 1u);
  EXPECT_EQ(said[0], "killed 2 process(es) left in process group " + std::to_string(leader_) +
                         " by the children of a previous master");
  EXPECT_TRUE(was_killed(leader_));
  EXPECT_TRUE(was_killed(worker_));
}

TEST_F(Group, AGroupWhoseLeaderStartedAtAnotherTimeIsAnotherGroup) {
  write_record(boot_id(), ::getsid(0), process_start_ticks(leader_) - 1);  // its id was reused
  EXPECT_TRUE(kill_leftover_groups(dir_).empty());
  EXPECT_TRUE(still_runs(leader_));
  EXPECT_TRUE(still_runs(worker_));
}

TEST_F(Group, ProcessesOfAnotherSessionAreNotOurs) {
  write_record(boot_id(), ::getsid(0) + 1, process_start_ticks(leader_));
  EXPECT_TRUE(kill_leftover_groups(dir_).empty());
  EXPECT_TRUE(still_runs(leader_));
  EXPECT_TRUE(still_runs(worker_));
}

TEST_F(Group, ARecordFromAnotherBootNamesNothing) {
  write_record("00000000-0000-0000-0000-000000000000", ::getsid(0), process_start_ticks(leader_));
  EXPECT_TRUE(kill_leftover_groups(dir_).empty());
  EXPECT_TRUE(still_runs(leader_));
  EXPECT_TRUE(still_runs(worker_));
}

TEST_F(Group, WhatALeaderLeavesWhenItExitsIsCounted) {
  ::kill(leader_, SIGKILL);
  siginfo_t info{};
  ASSERT_EQ(::waitid(P_PID, static_cast<id_t>(leader_), &info, WEXITED | WNOWAIT), 0);
  EXPECT_EQ(kill_group_remains(leader_), 1);  // the zombie leader is not counted
  EXPECT_TRUE(was_killed(worker_));
  EXPECT_EQ(kill_group_remains(leader_), 0);
}

}  // namespace
}  // namespace molt::internal
