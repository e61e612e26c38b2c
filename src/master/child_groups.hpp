// The process groups of a master's children, remembered in the state dir so that a master
// started after a crash (SIGKILL, OOM) can end what its predecessor's children left behind.
//
// Each child leads its own session and process group (spawn.cpp). When the master dies, its
// children get the drain signal (PR_SET_PDEATHSIG), but processes they forked (pre-fork workers)
// get nothing and would serve the old build for ever, holding the listening sockets the next master
// must bind.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "util/sys.hpp"

namespace molt::internal {

struct ChildGroup {
  pid_t pgid = 0;                 // the child's pid, which leads the group
  std::uint64_t start_ticks = 0;  // its start time (field 22 of /proc/<pid>/stat)
};

// The start time of `pid` in clock ticks since boot, 0 when it is gone.
std::uint64_t process_start_ticks(pid_t pid);

// The control groups of `pid` (/proc/<pid>/cgroup) as one word: bytes outside printable ASCII,
// and the backslash, as \xHH; "-" when it is gone.
std::string process_cgroups(pid_t pid);

// Rewrites <state_dir>/children: the groups, with this boot's id, this process's session and its
// control groups (which its children and their workers inherit). Empty on success, else one line.
std::string save_child_groups(Sys& sys, const std::string& state_dir,
                              const std::vector<ChildGroup>& groups);

// Kills (SIGKILL) every process left in the groups <state_dir>/children names, and returns one
// line per group that still had processes (empty when none did).
std::vector<std::string> kill_leftover_groups(const std::string& state_dir);

// Kills (SIGKILL) the processes of group `pgid` other than its leader, a zombie the caller has
// not reaped yet (so the group's id cannot have been reused); returns how many there were.
int kill_group_remains(pid_t pgid);

}  // namespace molt::internal
