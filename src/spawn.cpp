// Starting children and probes: fork, set up fds and environment, exec.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include "handoff.hpp"

extern char** environ;

namespace molt::handoff {
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

bool owned_by_molt(std::string_view entry) {
  for (std::string_view key : {"LISTEN_FDS=", "LISTEN_PID=", "LISTEN_FDNAMES=", "NOTIFY_SOCKET=",
                               "MOLT_ROLE=", "MOLT_GENERATION=", "MOLT_MASTER_PID="}) {
    if (entry.starts_with(key)) return true;
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

[[noreturn]] void exec_or_die(const ExecImage& image, const std::string& path) {
  ::execve(path.c_str(), image.argv.data(), image.envp.data());
  const char* cause = std::strerror(errno);
  std::string line = "molt: exec " + path + ": " + cause + "\n";
  (void)!::write(2, line.data(), line.size());
  _exit(127);
}

void fill_pid(std::string& entry, pid_t pid) { entry = "LISTEN_PID=" + std::to_string(pid); }

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

pid_t spawn_child(const SpawnRequest& request, std::string& error) {
  ExecImage image;
  image.args = request.argv;
  image.env = inherited_env();
  std::string names;
  for (const Listener& l : request.listeners) names += (names.empty() ? "" : ":") + l.name;
  image.env.push_back("LISTEN_FDS=" + std::to_string(request.listeners.size()));
  image.env.push_back("LISTEN_FDNAMES=" + names);
  image.env.push_back("NOTIFY_SOCKET=" + request.notify_socket);
  image.env.push_back(std::string(kRole) + "=" + kRoleChild);
  image.env.push_back(std::string(kGeneration) + "=" + std::to_string(request.generation));
  image.env.push_back(std::string(kMasterPid) + "=" + std::to_string(::getpid()));
  image.listen_pid_index = image.env.size();
  image.env.push_back("LISTEN_PID=");
  pid_t master = ::getpid();

  pid_t pid = ::fork();
  if (pid < 0) {
    error = std::string("fork: ") + std::strerror(errno);
    return -1;
  }
  if (pid > 0) return pid;

  // Child. The master is single-threaded, so everything here is safe after fork.
  reset_signals();
  ::setpgid(0, 0);
  ::prctl(PR_SET_PDEATHSIG, request.drain_signal);
  if (::getppid() != master) _exit(1);  // the master died before prctl took effect
  // Move the listeners out of the way first: one may already sit on a target fd number.
  std::vector<int> moved;
  for (const Listener& l : request.listeners) moved.push_back(::fcntl(l.fd, F_DUPFD_CLOEXEC, 64));
  for (std::size_t i = 0; i < moved.size(); ++i) {
    if (moved[i] < 0 || ::dup2(moved[i], kFirstListenFd + static_cast<int>(i)) < 0) _exit(126);
  }
  int devnull = ::open("/dev/null", O_RDONLY);
  if (devnull >= 0) ::dup2(devnull, 0);
  fill_pid(image.env[image.listen_pid_index], ::getpid());
  image.finalize();
  exec_or_die(image, request.path);
}

std::string probe(const std::string& path, const std::vector<std::string>& argv,
                  const std::string& expected_build_id, std::chrono::milliseconds timeout) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return std::string("pipe: ") + std::strerror(errno);
  ExecImage image;
  image.args = argv;
  image.env = inherited_env();
  image.env.push_back(std::string(kRole) + "=" + kRoleProbe);
  image.finalize();
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(out[0]);
    ::close(out[1]);
    return std::string("fork: ") + std::strerror(errno);
  }
  if (pid == 0) {
    reset_signals();
    ::dup2(out[1], 1);
    ::dup2(out[1], 2);  // a loader error ("cannot open shared object") becomes part of the line
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    exec_or_die(image, path);
  }
  ::close(out[1]);
  std::string output;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  bool timed_out = false;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{out[0], POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) {
      timed_out = ready == 0;
      break;
    }
    char buffer[512];
    ssize_t n = ::read(out[0], buffer, sizeof buffer);
    if (n <= 0) break;
    if (output.size() < 4096) output.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(out[0]);
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  std::string said = output.substr(0, output.find('\n'));
  if (!said.empty()) said = " (" + said + ")";
  if (timed_out) {
    return "probe run did not answer within " + std::to_string(timeout.count()) + "ms";
  }
  if (WIFSIGNALED(status)) {
    return std::string("probe run was killed by signal ") + ::strsignal(WTERMSIG(status)) + said;
  }
  if (WEXITSTATUS(status) != 0) {
    return "probe run exited with status " + std::to_string(WEXITSTATUS(status)) + said;
  }
  std::string expected = std::string(kProbeAnswer) + expected_build_id;
  if (output.find(expected) == std::string::npos) {
    return "probe run did not report BuildID " + expected_build_id + " (is it built with molt?)";
  }
  return {};
}

}  // namespace molt::handoff
