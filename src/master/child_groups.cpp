#include "master/child_groups.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/atomic_file.hpp"
#include "util/proc_stat.hpp"
#include "util/small_file.hpp"

namespace molt::internal {
namespace {

constexpr const char* kFileName = "/children";
constexpr const char* kBootIdPath = "/proc/sys/kernel/random/boot_id";
constexpr int kKilledExitTimeoutMs = 5000;
constexpr const char* kUnknownCgroups = "-";  // process_cgroups() of a process gone

// Start times count from boot: a record is meaningful only in the boot that wrote it.
std::string boot_id() {
  std::string error;
  std::string id = read_small_file(kBootIdPath, 128, error).value_or("");
  while (!id.empty() && id.back() == '\n') id.pop_back();
  return id;
}

// The first line says the boot and the master's session (its children's before each child led
// a session of its own, spawn.cpp); the second the master's control groups (which its children
// and their workers inherit); each further line is one group: "<pgid> <leader's start ticks>".
struct Record {
  pid_t session = 0;
  std::string cgroups;
  std::vector<ChildGroup> groups;
};

Record load(const std::string& state_dir) {
  std::string error;
  Record record;
  std::optional<std::string> text = read_small_file(state_dir + kFileName, 1 << 20, error);
  if (!text) return record;
  std::istringstream lines(*text);
  std::string boot_word, boot, session_word, cgroup_word;
  if (!(lines >> boot_word >> boot >> session_word >> record.session) || boot_word != "boot" ||
      session_word != "session" || boot.empty() || boot != boot_id()) {
    return {};  // unreadable, or from another boot: the processes it names are gone
  }
  if (!(lines >> cgroup_word >> record.cgroups) || cgroup_word != "cgroup") return {};
  ChildGroup group;
  while (lines >> group.pgid >> group.start_ticks) {
    if (group.pgid > 1) record.groups.push_back(group);
  }
  return record;
}

}  // namespace

std::uint64_t process_start_ticks(pid_t pid) {
  ProcStat stat;
  return read_stat(pid, stat) ? stat.start_ticks : 0;
}

std::string process_cgroups(pid_t pid) {
  std::string error;
  std::optional<std::string> text =
      read_small_file("/proc/" + std::to_string(pid) + "/cgroup", 1 << 16, error);
  if (!text || text->empty()) return kUnknownCgroups;
  std::string word;
  for (char c : *text) {
    auto byte = static_cast<unsigned char>(c);
    if (byte > ' ' && byte < 0x7f && byte != '\\') {
      word += c;
    } else {
      constexpr char kHex[] = "0123456789abcdef";
      word += {'\\', 'x', kHex[byte >> 4], kHex[byte & 0xf]};
    }
  }
  return word;
}

std::string save_child_groups(Sys& sys, const std::string& state_dir,
                              const std::vector<ChildGroup>& groups) {
  std::string text = "boot " + boot_id() + " session " + std::to_string(::getsid(0)) + "\ncgroup " +
                     process_cgroups(::getpid()) + "\n";
  for (const ChildGroup& g : groups) {
    text += std::to_string(g.pgid) + " " + std::to_string(g.start_ticks) + "\n";
  }
  // No fsync: after a crash of the machine the processes it names are gone, and load() ignores a
  // record from another boot. Written at every spawn and exit, in the master's one thread.
  return write_file_atomically(sys, state_dir + kFileName, text, 0600, Durability::kProcessCrash);
}

std::vector<std::string> kill_leftover_groups(const std::string& state_dir) {
  std::vector<std::string> said;
  std::vector<pollfd> gone;
  Record record = load(state_dir);
  for (const ChildGroup& group : record.groups) {
    // Never a process that is not our predecessor's. A group's id is its leader's pid, and the
    // kernel does not reuse a pid while any process of the group (or of the session) it leads
    // lives: as long as one of the recorded group's processes is alive, the id is still that
    // group's. Once the group has emptied, the id may come back as another process's group.
    // Then: its leader, when alive, has another start time (the whole group is skipped); its
    // processes started after the recorded leader (as ours did), and they may be in a session of
    // that id too, as a child and its workers are (a daemon that forks twice leaves just that),
    // but not in our predecessor's control groups, which only its own descendants share (and
    // what root moves there); and a record from before a reboot, when start times meant
    // something else, is ignored (load).
    ProcStat leader;
    if (read_stat(group.pgid, leader) && leader.pgid == group.pgid &&
        leader.start_ticks != group.start_ticks) {
      continue;
    }
    int killed = 0;
    for_each_live_process([&](pid_t pid, const ProcStat& stat) {
      if (stat.pgid != group.pgid || stat.start_ticks < group.start_ticks) return;
      const bool ours = stat.session == record.session ||
                        (stat.session == group.pgid && record.cgroups != kUnknownCgroups &&
                         process_cgroups(pid) == record.cgroups);
      if (!ours) return;
      // A pidfd first: it tells when the process is gone (and its sockets closed).
      int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
      if (::kill(pid, SIGKILL) == 0) {
        ++killed;
        if (pidfd >= 0) gone.push_back({pidfd, POLLIN, 0});
      } else if (pidfd >= 0) {
        ::close(pidfd);
      }
    });
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

int kill_group_remains(pid_t pgid) {
  int remains = 0;
  for_each_live_process([&](pid_t, const ProcStat& stat) { remains += stat.pgid == pgid; });
  // kill() of a group reaches every process in it at once, also one forked after the count.
  if (remains > 0) ::kill(-pgid, SIGKILL);
  return remains;
}

}  // namespace molt::internal
