// The scheduling priority of this whole process.
#pragma once

namespace molt::internal {

// Lowers every thread of this process by `steps` nice levels (at most to 19). Linux keeps a nice
// value per thread: nice(2) alone would leave the threads started earlier where they were.
// Unprivileged, a nice value only goes up: this is never undone.
void lower_priority(int steps);

}  // namespace molt::internal
