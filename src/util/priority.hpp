// The scheduling priority of this whole process.
#pragma once

#include <string>

namespace molt::internal {

// Lowers every thread of this process to nice value `nice` (at most 19); a thread already lower
// stays. Linux keeps a nice value per thread: nice(2) alone would leave the threads started
// earlier where they were. Unprivileged, a nice value only goes up: this is never undone.
void lower_priority_to(int nice);

// Empty when this process may set a thread's nice value to `nice` below its own: CAP_SYS_NICE,
// or an RLIMIT_NICE that reaches it. Otherwise why not, for the log.
std::string why_priority_cannot_rise_to(int nice);

}  // namespace molt::internal
