#include "util/priority.hpp"

#include <dirent.h>
#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <memory>

namespace molt::internal {

void lower_priority(int steps) {
  std::unique_ptr<DIR, int (*)(DIR*)> tasks(::opendir("/proc/self/task"), ::closedir);
  if (!tasks) return;
  while (dirent* entry = ::readdir(tasks.get())) {
    char* end = nullptr;
    long tid = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0') continue;  // "." and ".."
    errno = 0;
    int now = ::getpriority(PRIO_PROCESS, static_cast<id_t>(tid));
    if (errno != 0) continue;  // the thread has just ended
    ::setpriority(PRIO_PROCESS, static_cast<id_t>(tid), std::min(19, now + steps));
  }
}

}  // namespace molt::internal
