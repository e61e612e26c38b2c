#include "child_groups.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <charconv>
#include <filesystem>
#include <sstream>

#include "atomic_file.hpp"
#include "small_file.hpp"

namespace molt {
namespace {

constexpr const char* kFileName = "/children";
constexpr int kKilledExitTimeoutMs = 5000;

struct ProcStat {
  char state = '?';
  pid_t pgid = 0;
  std::uint64_t start_ticks = 0;
};

// Fields of /proc/<pid>/stat after the command name (which may hold spaces and parentheses).
bool read_stat(pid_t pid, ProcStat& out) {
  std::string error;
  std::optional<std::string> text =
      read_small_file("/proc/" + std::to_string(pid) + "/stat", 4096, error);
  if (!text) return false;
  std::size_t close = text->rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream fields(text->substr(close + 1));
  std::string field;
  // After ")": state(3) ppid(4) pgrp(5) ... starttime(22).
  for (int number = 3; fields >> field; ++number) {
    if (number == 3) out.state = field[0];
    if (number == 5) out.pgid = std::stoi(field);
    if (number == 22) {
      out.start_ticks = std::stoull(field);
      return true;
    }
  }
  return false;
}

std::vector<ChildGroup> load(const std::string& state_dir) {
  std::string error;
  std::vector<ChildGroup> groups;
  std::optional<std::string> text = read_small_file(state_dir + kFileName, 1 << 20, error);
  if (!text) return groups;
  std::istringstream lines(*text);
  ChildGroup group;
  while (lines >> group.pgid >> group.start_ticks) {
    if (group.pgid > 1) groups.push_back(group);
  }
  return groups;
}

}  // namespace

std::uint64_t process_start_ticks(pid_t pid) {
  ProcStat stat;
  return read_stat(pid, stat) ? stat.start_ticks : 0;
}

std::string save_child_groups(Sys& sys, const std::string& state_dir,
                              const std::vector<ChildGroup>& groups) {
  std::string text;
  for (const ChildGroup& g : groups) {
    text += std::to_string(g.pgid) + " " + std::to_string(g.start_ticks) + "\n";
  }
  return write_file_atomically(sys, state_dir + kFileName, text);
}

std::vector<std::string> kill_leftover_groups(const std::string& state_dir) {
  std::vector<std::string> said;
  std::vector<pollfd> gone;
  for (const ChildGroup& group : load(state_dir)) {
    // A pid is not reused while a process group of that id exists, so a group whose members all
    // started no earlier than the recorded leader is the one our predecessor's child led. A
    // live leader with another start time means the id was reused: that group is not ours.
    ProcStat leader;
    if (read_stat(group.pgid, leader) && leader.pgid == group.pgid &&
        leader.start_ticks != group.start_ticks) {
      continue;
    }
    int killed = 0;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
      const std::string name = entry.path().filename().string();
      pid_t pid = 0;
      if (std::from_chars(name.data(), name.data() + name.size(), pid).ec != std::errc()) continue;
      ProcStat stat;
      if (read_stat(pid, stat) && stat.state != 'Z' && stat.pgid == group.pgid &&
          stat.start_ticks >= group.start_ticks) {
        // A pidfd first: it tells when the process is gone (and its sockets closed).
        int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
        if (::kill(pid, SIGKILL) == 0) {
          ++killed;
          if (pidfd >= 0) gone.push_back({pidfd, POLLIN, 0});
        } else if (pidfd >= 0) {
          ::close(pidfd);
        }
      }
    }
    if (killed > 0) {
      said.push_back("killed " + std::to_string(killed) + " process(es) left in process group " +
                     std::to_string(group.pgid) + " by the children of a previous master");
    }
  }
  // Wait until they are gone: their listening sockets close only then. SIGKILL is not
  // refused, so this is short; the bound covers a process stuck in the kernel.
  for (pollfd& p : gone) {
    ::poll(&p, 1, kKilledExitTimeoutMs);
    ::close(p.fd);
  }
  return said;
}

}  // namespace molt
