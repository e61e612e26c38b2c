// Starting children: fork, set up fds and environment, exec.
#include "master/spawn.hpp"

#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include "protocol/environment.hpp"
#include "util/fd.hpp"

extern char** environ;

namespace molt::internal {
namespace {

// Everything the forked child needs, built before fork so the child only fills in its pid.
struct ExecImage {
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::vector<char*> argv;
  std::vector<char*> envp;
  std::size_t listen_pid_index = SIZE_MAX;

  void finalize() {
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (std::string& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
  }
};

// "NAME=value" sets variable `name`.
std::string assignment(const char* name, const std::string& value) {
  return std::string(name) + "=" + value;
}

bool owned_by_molt(std::string_view entry) {
  for (const char* name :
       {env::kListenFds, env::kListenPid, env::kListenFdNames, env::kNotifySocket, env::kRole,
        env::kGeneration, env::kMasterPid, env::kHandoverFd, env::kHandoverProbe}) {
    if (entry.starts_with(assignment(name, ""))) return true;
  }
  return false;
}

std::vector<std::string> inherited_env() {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    if (!owned_by_molt(*e)) env.emplace_back(*e);
  }
  return env;
}

// In the forked child: clear what the master set up for itself.
void reset_signals() {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int sig = 1; sig < NSIG; ++sig) signal(sig, SIG_DFL);
}

// On failure the errno goes up `report` (close-on-exec: a successful exec closes it empty).
[[noreturn]] void exec_or_die(const ExecImage& image, const std::string& path, int report) {
  ::execve(path.c_str(), image.argv.data(), image.envp.data());
  int cause = errno;
  (void)!::write(report, &cause, sizeof cause);
  _exit(127);
}

void fill_pid(std::string& entry, pid_t pid) {
  entry = assignment(env::kListenPid, std::to_string(pid));
}

// fork(), the child leading a process group of its own. Both sides set it: whichever runs first,
// the group exists before the master can signal it (the parent's call may fail once the child
// has exec'd, which is fine). nullopt with `error` when fork fails; 0 in the child.
std::optional<pid_t> fork_group_leader(std::string& error) {
  pid_t pid = ::fork();
  if (pid < 0) {
    error = std::string("fork: ") + std::strerror(errno);
    return std::nullopt;
  }
  ::setpgid(pid, pid);  // in the child, setpgid(0, 0)
  return pid;
}

}  // namespace

std::vector<std::string> own_argv() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> argv;
  std::size_t start = 0;
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (all[i] == '\0') {
      argv.push_back(all.substr(start, i - start));
      start = i + 1;
    }
  }
  return argv;
}

std::string describe_exit(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("was killed by ") + ::sigabbrev_np(WTERMSIG(status));
  return "stopped";
}

std::optional<pid_t> spawn_child(const SpawnRequest& request, std::string& error,
                                 bool& exec_failed) {
  exec_failed = false;
  ExecImage image;
  image.args = request.argv;
  image.env = inherited_env();
  std::string names;
  for (const Listener& l : request.listeners) names += (names.empty() ? "" : ":") + l.name;
  image.env.push_back(assignment(env::kListenFds, std::to_string(request.listeners.size())));
  image.env.push_back(assignment(env::kListenFdNames, names));
  image.env.push_back(assignment(env::kNotifySocket, request.notify_socket));
  image.env.push_back(assignment(env::kRole, env::kRoleChild));
  image.env.push_back(assignment(env::kGeneration, std::to_string(request.generation)));
  image.env.push_back(assignment(env::kMasterPid, std::to_string(::getpid())));
  image.listen_pid_index = image.env.size();
  image.env.push_back(assignment(env::kListenPid, ""));
  pid_t master = ::getpid();

  Pipe report = Pipe::open();
  if (!report.read) {
    error = std::string("pipe: ") + std::strerror(errno);
    return std::nullopt;
  }
  std::optional<pid_t> pid = fork_group_leader(error);
  if (!pid) return std::nullopt;
  if (*pid > 0) {
    // Until the exec happened or failed: a binary that cannot run at all (wrong architecture,
    // not executable) is said here, with its cause. Its exit is reaped like any other.
    report.write.reset();
    int cause = 0;
    ssize_t n;
    do {
      n = ::read(report.read.get(), &cause, sizeof cause);
    } while (n < 0 && errno == EINTR);
    if (n == static_cast<ssize_t>(sizeof cause)) {
      error = "exec " + request.path + ": " + std::strerror(cause);
      exec_failed = true;
      return std::nullopt;
    }
    return pid;
  }
  report.read.reset();

  // Child. The master is single-threaded, so everything here is safe after fork.
  if (request.nice) ::setpriority(PRIO_PROCESS, 0, *request.nice);  // one thread here
  reset_signals();
  ::prctl(PR_SET_PDEATHSIG, request.drain_signal);
  if (::getppid() != master) _exit(1);  // the master died before prctl took effect
  // Move the listeners out of the way first: one may already sit on a target fd number.
  std::vector<int> moved;
  for (const Listener& l : request.listeners) moved.push_back(::fcntl(l.fd, F_DUPFD_CLOEXEC, 64));
  for (std::size_t i = 0; i < moved.size(); ++i) {
    if (moved[i] < 0 || ::dup2(moved[i], env::kFirstListenFd + static_cast<int>(i)) < 0) _exit(126);
  }
  int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (devnull == 0) {
    ::fcntl(0, F_SETFD, 0);
  } else if (devnull > 0) {
    ::dup2(devnull, 0);  // fd 0 loses close-on-exec; the copy closes at exec
  }
  // fds 0-2 and the listeners, nothing else: whatever the master or its own parent had open
  // closes at exec (the report pipe too, which is how the master learns the exec happened).
  ::close_range(static_cast<unsigned>(env::kFirstListenFd + static_cast<int>(moved.size())), ~0U,
                CLOSE_RANGE_CLOEXEC);
  fill_pid(image.env[image.listen_pid_index], ::getpid());
  image.finalize();
  exec_or_die(image, request.path, report.write.get());
}

std::optional<pid_t> spawn_command(const std::string& command,
                                   const std::vector<std::string>& extra_env, std::string& error) {
  ExecImage image;
  image.args = {"/bin/sh", "-c", command};
  image.env = inherited_env();
  image.env.insert(image.env.end(), extra_env.begin(), extra_env.end());
  image.finalize();
  std::optional<pid_t> pid = fork_group_leader(error);
  if (!pid || *pid > 0) return pid;
  reset_signals();
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull >= 0) {
    ::dup2(devnull, 0);
    ::dup2(devnull, 1);
  }
  ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
  ::execve("/bin/sh", image.argv.data(), image.envp.data());
  _exit(127);
}

}  // namespace molt::internal
