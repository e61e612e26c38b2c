// What /proc/<pid>/stat says of a process, and a walk over every process there is.
#pragma once

#include <sys/types.h>

#include <charconv>
#include <cstdint>
#include <filesystem>
#include <sstream>
#include <string>

#include "util/small_file.hpp"

namespace molt::internal {

struct ProcStat {
  char state = '?';
  pid_t pgid = 0;
  pid_t session = 0;
  std::uint64_t cpu_ticks = 0;  // user + system time of all its threads so far
  std::uint64_t start_ticks = 0;
};

// Fields of /proc/<pid>/stat after the command name (which may hold spaces and parentheses).
inline bool read_stat(pid_t pid, ProcStat& out) {
  out.cpu_ticks = 0;
  std::string error;
  std::optional<std::string> text =
      read_small_file("/proc/" + std::to_string(pid) + "/stat", 4096, error);
  if (!text) return false;
  std::size_t close = text->rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream fields(text->substr(close + 1));
  std::string field;
  // After ")": state(3) ppid(4) pgrp(5) session(6) ... utime(14) stime(15) ... starttime(22).
  for (int number = 3; fields >> field; ++number) {
    if (number == 3) out.state = field[0];
    if (number == 5) out.pgid = std::stoi(field);
    if (number == 6) out.session = std::stoi(field);
    if (number == 14 || number == 15) out.cpu_ticks += std::stoull(field);
    if (number == 22) {
      out.start_ticks = std::stoull(field);
      return true;
    }
  }
  return false;
}

// Calls `visit(pid, stat)` for every process there is, zombies left out.
template <typename Visit>
void for_each_live_process(Visit visit) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    pid_t pid = 0;
    if (std::from_chars(name.data(), name.data() + name.size(), pid).ec != std::errc()) continue;
    ProcStat stat;
    if (read_stat(pid, stat) && stat.state != 'Z' && stat.state != 'X') visit(pid, stat);
  }
}

}  // namespace molt::internal
