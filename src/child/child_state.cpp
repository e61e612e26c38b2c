#include "child/child_state.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <molt/build_id.hpp>
#include <sstream>

#include "protocol/environment.hpp"
#include "protocol/notify_socket.hpp"
#include "util/address.hpp"

namespace molt::internal {
namespace {

// Written by the signal handler: the one eventfd of this process's State.
std::atomic<int> g_drain_fd{-1};
std::atomic<bool> g_draining{false};

void on_drain_signal(int) {
  g_draining.store(true);
  int fd = g_drain_fd.load();
  if (fd >= 0) {
    std::uint64_t one = 1;
    (void)!::write(fd, &one, sizeof one);
  }
}

std::string env_or_empty(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

}  // namespace

std::unique_ptr<ChildState> ChildState::from_environment(int drain_signal, std::string& error) {
  std::unique_ptr<ChildState> state(new ChildState());
  std::string listen_pid = env_or_empty(env::kListenPid);
  int count = std::atoi(env_or_empty(env::kListenFds).c_str());
  if (listen_pid != std::to_string(::getpid())) {
    count = 0;  // the fds were meant for another process (we are a grandchild)
  }
  std::istringstream names(env_or_empty(env::kListenFdNames));
  for (int i = 0; i < count; ++i) {
    Listener l;
    l.fd = env::kFirstListenFd + i;
    if (!std::getline(names, l.name, ':')) l.name = "listen" + std::to_string(i);
    l.address = local_address_text(l.fd);
    if (l.address.empty()) {
      error = "LISTEN_FDS says " + std::to_string(count) + " but fd " + std::to_string(l.fd) +
              " is not a socket";
      return nullptr;
    }
    ::fcntl(l.fd, F_SETFD, FD_CLOEXEC);  // as sd_listen_fds does: not for our own children
    state->listeners_.push_back(l);
  }
  std::string build_error;
  state->build_id_ = read_build_id("/proc/self/exe", build_error).value_or("unknown");
  state->generation_ = static_cast<unsigned>(std::atoi(env_or_empty(env::kGeneration).c_str()));
  state->master_pid_ = std::atoi(env_or_empty(env::kMasterPid).c_str());
  state->notify_socket_ = env_or_empty(env::kNotifySocket);
  // Not for grandchildren: they are not ours to supervise.
  for (const char* name :
       {env::kListenFds, env::kListenPid, env::kListenFdNames, env::kNotifySocket, env::kRole}) {
    ::unsetenv(name);
  }

  state->catch_drain_signals({drain_signal});
  // The master may have died between our fork and the PR_SET_PDEATHSIG it set for us.
  if (state->master_pid_ != 0 && ::getppid() != state->master_pid_) on_drain_signal(drain_signal);
  return state;
}

std::unique_ptr<ChildState> ChildState::unsupervised(std::vector<Listener> listeners,
                                                     const std::vector<int>& drain_signals) {
  std::unique_ptr<ChildState> state(new ChildState());
  state->listeners_ = std::move(listeners);
  std::string build_error;
  state->build_id_ = read_build_id("/proc/self/exe", build_error).value_or("unknown");
  state->catch_drain_signals(drain_signals);
  return state;
}

void ChildState::catch_drain_signals(const std::vector<int>& signals) {
  drain_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  g_drain_fd.store(drain_fd_);
  g_draining.store(false);  // only tests make a second State in a process: it starts afresh
  struct sigaction action {};
  action.sa_handler = on_drain_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  for (int signal : signals) ::sigaction(signal, &action, nullptr);
}

ChildState::~ChildState() {
  if (watcher_.joinable()) {
    std::uint64_t one = 1;
    (void)!::write(stop_fd_, &one, sizeof one);
    watcher_.join();
  }
  g_drain_fd.store(-1);
  ::close(drain_fd_);
  ::close(stop_fd_);
}

void ChildState::ready() {
  notify(notify_socket_, "READY=1\nMAINPID=" + std::to_string(::getpid()));
}

void ChildState::status(const std::string& text) { notify(notify_socket_, "STATUS=" + text); }

void ChildState::stopping() { notify(notify_socket_, "STOPPING=1"); }

// Not part of sd_notify: only a molt master reads these (systemd ignores fields it does not know).
void ChildState::request_check() {
  notify(notify_socket_, std::string(env::kRequestField) + "=check");
}

void ChildState::request_restart() {
  notify(notify_socket_, std::string(env::kRequestField) + "=restart");
}

bool ChildState::draining() const { return g_draining.load(); }

void ChildState::on_drain(std::function<void()> callback) {
  {
    std::lock_guard lock(mutex_);
    // Under the lock, a callback either joins the list before the watcher takes it, or sees
    // that the watcher took it already (or that draining began): it runs exactly once.
    if (!drained_ && !draining()) {
      callbacks_.push_back(std::move(callback));
      if (!watcher_.joinable()) watcher_ = std::thread([this] { watch(); });
      return;
    }
  }
  callback();  // draining already began: at once, on the caller's thread, outside the lock
}

void ChildState::watch() {
  pollfd fds[2] = {{drain_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
  while (::poll(fds, 2, -1) < 0 && errno == EINTR) {
  }
  if (!(fds[0].revents & POLLIN)) return;
  std::vector<std::function<void()>> callbacks;
  {
    std::lock_guard lock(mutex_);
    drained_ = true;  // from now on on_drain runs its callback itself
    callbacks.swap(callbacks_);
  }
  for (auto& callback : callbacks) callback();
}

void ChildState::wait_for_drain() {
  pollfd p{drain_fd_, POLLIN, 0};
  while (!draining()) {
    if (::poll(&p, 1, -1) < 0 && errno != EINTR) break;
  }
}

}  // namespace molt::internal
