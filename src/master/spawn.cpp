// Starting children: clone sharing the master's memory until exec, set up fds and environment.
#include "master/spawn.hpp"

#include <fcntl.h>
#include <linux/close_range.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include "protocol/environment.hpp"

extern char** environ;

namespace molt::internal {
namespace {

// Everything the child needs, built before it exists: between clone and exec the child runs in
// the master's memory and may not allocate.
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

// In the child: the master's signal handling undone. Dispositions first, then the mask: a signal
// the master blocks must not reach a handler while the child still shares its memory.
void reset_signals() {
  for (int sig = 1; sig < NSIG; ++sig) signal(sig, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
}

// `pid` in decimal at `out`, NUL-terminated, without allocating. `out` has room for 21 bytes.
void write_decimal(char* out, pid_t pid) {
  char digits[20];
  int n = 0;
  auto value = static_cast<unsigned long>(pid);
  do {
    digits[n++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0);
  while (n > 0) *out++ = digits[--n];
  *out = '\0';
}

// What the child does between clone and exec; runs in the master's memory (only syscalls, and
// writes to what the parent prepared for it).
struct ChildSetup {
  const ExecImage* image = nullptr;
  const char* path = nullptr;
  std::optional<int> nice;
  int death_signal = SIGKILL;
  pid_t master = 0;
  const std::vector<Listener>* listeners = nullptr;  // moved to fds 3.., the rest close at exec
  int* moved = nullptr;                              // room for one fd per listener
  char* listen_pid = nullptr;                        // the LISTEN_PID value, filled in by the child
  bool devnull_stdout = false;
  int exec_errno = 0;  // read by the parent once the child has exec'd or exited
};

// The child's side. Never returns: exec, or _exit with the cause in `setup.exec_errno`. Not
// instrumented by AddressSanitizer: it runs on a stack of its own that ASan does not know.
[[gnu::no_sanitize_address]] int run_child(void* arg) {
  auto& setup = *static_cast<ChildSetup*>(arg);
  // The child leads a session of its own, as a systemd service does: its own process group,
  // which the master signals whole (the group is the child's before the parent resumes), and,
  // where the kernel shares the CPU per session (autogroups), its own share of it: a new child
  // then competes with the serving one as a whole, not as one thread against its many. The
  // master sets that share once this returns (StartBoost::started).
  ::setsid();
  if (setup.nice) ::setpriority(PRIO_PROCESS, 0, *setup.nice);  // one thread here
  reset_signals();
  ::prctl(PR_SET_PDEATHSIG, setup.death_signal);
  if (::getppid() != setup.master) _exit(1);  // the master died before prctl took effect
  const std::size_t count = setup.listeners ? setup.listeners->size() : 0;
  // Move the listeners out of the way first: one may already sit on a target fd number.
  for (std::size_t i = 0; i < count; ++i) {
    setup.moved[i] = ::fcntl((*setup.listeners)[i].fd, F_DUPFD_CLOEXEC, 64);
  }
  for (std::size_t i = 0; i < count; ++i) {
    if (setup.moved[i] < 0 || ::dup2(setup.moved[i], env::kFirstListenFd + static_cast<int>(i)) < 0)
      _exit(126);
  }
  int devnull = ::open("/dev/null", (setup.devnull_stdout ? O_RDWR : O_RDONLY) | O_CLOEXEC);
  if (devnull == 0) {
    ::fcntl(0, F_SETFD, 0);
  } else if (devnull > 0) {
    ::dup2(devnull, 0);  // fd 0 loses close-on-exec; the copy closes at exec
  }
  if (setup.devnull_stdout && devnull >= 0) ::dup2(devnull, 1);
  // fds 0-2 and the listeners, nothing else: whatever the master or its own parent had open
  // closes at exec.
  ::close_range(static_cast<unsigned>(env::kFirstListenFd + static_cast<int>(count)), ~0U,
                CLOSE_RANGE_CLOEXEC);
  if (setup.listen_pid) write_decimal(setup.listen_pid, ::getpid());
  ::execve(setup.path, setup.image->argv.data(), setup.image->envp.data());
  setup.exec_errno = errno;
  _exit(127);
}

// Starts run_child(setup) as a process that shares the master's memory until it execs, and
// waits for that exec (or its exit): no copy of the master's page tables, and none of the
// copy-on-write faults a fork leaves the master to take while the new child starts.
std::optional<pid_t> clone_and_exec(ChildSetup& setup, std::string& error) {
  constexpr std::size_t kStackSize = 256 * 1024;  // run_child and libc's calls, sanitizers too
  void* stack = ::mmap(nullptr, kStackSize, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) {
    error = std::string("mmap: ") + std::strerror(errno);
    return std::nullopt;
  }
  pid_t pid = ::clone(run_child, static_cast<char*>(stack) + kStackSize,
                      CLONE_VM | CLONE_VFORK | SIGCHLD, &setup);
  int cause = errno;
  ::munmap(stack, kStackSize);
  if (pid < 0) {
    error = std::string("clone: ") + std::strerror(cause);
    return std::nullopt;
  }
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
  image.env.push_back(assignment(env::kListenPid, std::string(20, '0')));  // the child's pid
  image.finalize();

  std::vector<int> moved(request.listeners.size(), -1);
  ChildSetup setup{.image = &image,
                   .path = request.path.c_str(),
                   .nice = request.nice,
                   .death_signal = request.drain_signal,
                   .master = ::getpid(),
                   .listeners = &request.listeners,
                   .moved = moved.data(),
                   .listen_pid = image.envp[image.listen_pid_index] +
                                 std::char_traits<char>::length(env::kListenPid) + 1};
  std::optional<pid_t> pid = clone_and_exec(setup, error);
  if (pid && setup.exec_errno != 0) {
    // A binary that cannot run at all (wrong architecture, not executable) is said here, with
    // its cause. Its exit is reaped like any other.
    error = "exec " + request.path + ": " + std::strerror(setup.exec_errno);
    exec_failed = true;
    return std::nullopt;
  }
  return pid;
}

std::optional<pid_t> spawn_command(const std::string& command,
                                   const std::vector<std::string>& extra_env, std::string& error) {
  ExecImage image;
  image.args = {"/bin/sh", "-c", command};
  image.env = inherited_env();
  image.env.insert(image.env.end(), extra_env.begin(), extra_env.end());
  image.finalize();
  ChildSetup setup{
      .image = &image, .path = "/bin/sh", .master = ::getpid(), .devnull_stdout = true};
  return clone_and_exec(setup, error);
}

}  // namespace molt::internal
