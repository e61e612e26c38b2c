#include "util/priority.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
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

namespace {

int write_autogroup_nice(const std::string& path, int nice) {
  const std::string text = std::to_string(nice);
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  int error =
      ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) ? 0 : errno;
  ::close(fd);
  return error;
}

}  // namespace

int set_own_autogroup_nice(int nice) { return write_autogroup_nice("/proc/self/autogroup", nice); }

int set_autogroup_nice(pid_t pid, int nice) {
  return write_autogroup_nice("/proc/" + std::to_string(pid) + "/autogroup", nice);
}

int autogroup_nice_moved(int autogroup_nice, int from_nice, int to_nice) {
  return std::clamp(autogroup_nice + to_nice - from_nice, -20, 19);
}

std::optional<int> parse_autogroup_nice(std::string_view text) {
  if (text.empty()) return 0;
  std::size_t at = text.rfind(" nice ");
  if (at == std::string_view::npos) return std::nullopt;
  text.remove_prefix(at + 6);
  while (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  int nice = 0;
  auto [end, error_code] = std::from_chars(text.data(), text.data() + text.size(), nice);
  if (error_code != std::errc() || end != text.data() + text.size() || nice < -20 || nice > 19) {
    return std::nullopt;
  }
  return nice;
}

std::optional<int> own_autogroup_nice() {
  std::string error;
  std::optional<std::string> text = read_small_file("/proc/self/autogroup", 256, error);
  if (!text) return std::nullopt;
  return parse_autogroup_nice(*text);
}

}  // namespace molt::internal
