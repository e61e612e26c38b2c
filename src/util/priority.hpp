// The scheduling priority of this whole process.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

namespace molt::internal {

// Lowers every thread of this process to nice value `nice` (at most 19); a thread already lower
// stays. Linux keeps a nice value per thread: nice(2) alone would leave the threads started
// earlier where they were. Unprivileged, a nice value only goes up: this is never undone.
void lower_priority_to(int nice);

// Empty when this process may set a thread's nice value to `nice` below its own: CAP_SYS_NICE,
// or an RLIMIT_NICE that reaches it. Otherwise why not, for the log.
std::string why_priority_cannot_rise_to(int nice);

// The nice value of the autogroup of this process's session (/proc/self/autogroup): where the
// kernel groups scheduling by session (kernel.sched_autogroup_enabled, and no cpu cgroup of
// its own), a session competes with the others as a whole, at that value, whatever its threads'
// own. 0 on success, else the errno: ENOENT where there are no autogroups, EPERM for a raise this
// process may not make (as for a nice value), and EAGAIN when the kernel refused because some
// process changed one less than 100 ms ago (only CAP_SYS_ADMIN is exempt): a caller that must have
// it tries again later.
int set_own_autogroup_nice(int nice);
// The same for the session led by process `pid`.
int set_autogroup_nice(pid_t pid, int nice);
// The nice value of this process's session's autogroup; 0 where its session has none (init's
// session, where the kernel prints nothing: a session started from it gets a new autogroup, at
// 0); nullopt where the kernel has no autogroups or the text is garbled.
std::optional<int> own_autogroup_nice();
// The same, from the text of /proc/<pid>/autogroup ("/autogroup-123 nice 0\n", or "").
std::optional<int> parse_autogroup_nice(std::string_view text);
// An autogroup's nice value moved as far as a thread's moves from `from_nice` to `to_nice`,
// kept within -20..19: a session whose threads change priority changes its share as much.
int autogroup_nice_moved(int autogroup_nice, int from_nice, int to_nice);

}  // namespace molt::internal
