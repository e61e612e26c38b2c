// What a killed master's children left is ended by the next master, and nothing else is.
#include "master/child_groups.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "util/proc_stat.hpp"

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

  // `cgroup_line`: this process's, as the master writes it, unless a test says otherwise.
  void write_record(const std::string& boot, pid_t session, std::uint64_t start_ticks,
                    const std::string& cgroup_line = "cgroup " + process_cgroups(::getpid()) +
                                                     "\n") {
    std::ofstream(dir_ / "children") << "boot " << boot << " session " << session << "\n"
                                     << cgroup_line << leader_ << " " << start_ticks << "\n";
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

// A record as an older master wrote it (no control groups line), or one rotted on disk: the
// next master cannot tell whose processes it names, so it kills none.
TEST_F(Group, ARecordWithoutItsControlGroupsNamesNothing) {
  for (const std::string& cgroup_line :
       {std::string(), std::string("cgroup\n"), "cgroups " + process_cgroups(::getpid()) + "\n"}) {
    write_record(boot_id(), ::getsid(0), process_start_ticks(leader_), cgroup_line);
    EXPECT_TRUE(kill_leftover_groups(dir_).empty()) << "with [" << cgroup_line << "]";
    EXPECT_TRUE(still_runs(leader_));
    EXPECT_TRUE(still_runs(worker_));
  }
}

TEST_F(Group, WhatALeaderLeavesWhenItExitsIsCounted) {
  ::kill(leader_, SIGKILL);
  siginfo_t info{};
  ASSERT_EQ(::waitid(P_PID, static_cast<id_t>(leader_), &info, WEXITED | WNOWAIT), 0);
  EXPECT_EQ(kill_group_remains(leader_), 1);  // the zombie leader is not counted
  EXPECT_TRUE(was_killed(worker_));
  EXPECT_EQ(kill_group_remains(leader_), 0);
}

// A child as spawn.cpp starts it: the leader of a session of its own, with a worker it forked
// (not ours to reap: the test tells it is gone from /proc, or a zombie there).
class Session : public Group {
 protected:
  void SetUp() override {
    Group::SetUp();
    ::kill(worker_, SIGKILL);  // the fixture's worker is in our session: not this case's
    ::waitpid(worker_, nullptr, 0);
    worker_ = -1;
    int pipe_fds[2];
    ASSERT_EQ(::pipe(pipe_fds), 0);
    session_leader_ = ::fork();
    if (session_leader_ == 0) {
      ::setsid();
      pid_t worker = ::fork();
      if (worker == 0) {
        for (;;) ::pause();
      }
      [[maybe_unused]] auto written = ::write(pipe_fds[1], &worker, sizeof worker);
      for (;;) ::pause();
    }
    ::close(pipe_fds[1]);
    ASSERT_EQ(::read(pipe_fds[0], &session_worker_, sizeof session_worker_),
              static_cast<ssize_t>(sizeof session_worker_));
    ::close(pipe_fds[0]);
  }
  void TearDown() override {
    if (session_leader_ > 0) {
      ::kill(-session_leader_, SIGKILL);
      ::waitpid(session_leader_, nullptr, 0);
    }
    Group::TearDown();
  }

  void write_session_record(const std::string& cgroups) {
    std::ofstream(dir_ / "children")
        << "boot " << boot_id() << " session " << ::getsid(0) << "\n"
        << "cgroup " << cgroups << "\n"
        << session_leader_ << " " << process_start_ticks(session_leader_) << "\n";
  }

  static bool gone(pid_t pid) {
    ProcStat stat;
    return !read_stat(pid, stat) || stat.state == 'Z';
  }

  pid_t session_leader_ = -1;
  pid_t session_worker_ = -1;
};

TEST_F(Session, AChildLeadingItsSessionIsKilledWithItsWorkers) {
  ASSERT_EQ(save_child_groups(real_sys(), dir_,
                              {{session_leader_, process_start_ticks(session_leader_)}}),
            "");
  ASSERT_EQ(kill_leftover_groups(dir_).size(), 1u);
  EXPECT_TRUE(was_killed(session_leader_));
  EXPECT_TRUE(gone(session_worker_));
}

// The group's id came back as a process that made itself a session and left a process in it
// (a daemon forking twice): the same group and session ids, started after the recorded leader,
// but not in the control groups of the master that wrote the record.
TEST_F(Session, ASessionOfTheRecordedIdInOtherControlGroupsIsNotOurs) {
  write_session_record("0::/system.slice/another.service");
  ::kill(session_leader_, SIGKILL);  // its worker stays: a group and session without a leader
  ::waitpid(session_leader_, nullptr, 0);
  session_leader_ = -1;
  EXPECT_TRUE(kill_leftover_groups(dir_).empty());
  EXPECT_FALSE(gone(session_worker_));
  ::kill(session_worker_, SIGKILL);
}

TEST_F(Session, ALeaderlessSessionInTheRecordedControlGroupsIsOurs) {
  write_session_record(process_cgroups(::getpid()));
  ::kill(session_leader_, SIGKILL);
  ::waitpid(session_leader_, nullptr, 0);
  session_leader_ = -1;
  EXPECT_EQ(kill_leftover_groups(dir_).size(), 1u);
  EXPECT_TRUE(gone(session_worker_));
}

}  // namespace
}  // namespace molt::internal
