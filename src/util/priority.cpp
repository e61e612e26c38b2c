#include "util/priority.hpp"

#include <dirent.h>
#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string_view>

#include "util/small_file.hpp"

namespace molt::internal {

void lower_priority_to(int nice) {
  std::unique_ptr<DIR, int (*)(DIR*)> tasks(::opendir("/proc/self/task"), ::closedir);
  if (!tasks) return;
  while (dirent* entry = ::readdir(tasks.get())) {
    char* end = nullptr;
    long tid = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0') continue;  // "." and ".."
    errno = 0;
    int now = ::getpriority(PRIO_PROCESS, static_cast<id_t>(tid));
    if (errno != 0) continue;  // the thread has just ended
    if (now < nice) ::setpriority(PRIO_PROCESS, static_cast<id_t>(tid), std::min(19, nice));
  }
}

std::string why_priority_cannot_rise_to(int nice) {
  constexpr int kCapSysNice = 23;
  constexpr std::string_view kCapEff = "\nCapEff:\t";
  std::string error;
  std::optional<std::string> status = read_small_file("/proc/self/status", 1 << 16, error);
  if (std::size_t at = status ? status->find(kCapEff) : std::string::npos;
      at != std::string::npos) {
    unsigned long long effective =
        std::strtoull(status->c_str() + at + kCapEff.size(), nullptr, 16);
    if (effective & (1ULL << kCapSysNice)) return {};
  }
  rlimit limit{};
  // RLIMIT_NICE's ceiling on a nice value is 20 - rlim_cur.
  if (::getrlimit(RLIMIT_NICE, &limit) == 0 &&
      (limit.rlim_cur == RLIM_INFINITY || 20 - static_cast<long long>(limit.rlim_cur) <= nice)) {
    return {};
  }
  return "nice " + std::to_string(nice) + " needs CAP_SYS_NICE or RLIMIT_NICE " +
         std::to_string(20 - nice) + " (systemd: LimitNICE=" + std::to_string(nice) + ")";
}

}  // namespace molt::internal
