// Readiness of one child for a program that does not send READY=1 (Config::ready): a delay, a
// command, or a connection to the first TCP listener, which this child must be the one to accept.
//
// The listener is shared: while the new child starts, the old one accepts too, and the kernel
// gives each connection to whichever accepts first. So a connection probe asks the kernel
// (sock_diag) for the inode of the socket that accepted it and looks for that inode among the
// fds of the child's process group; a probe the old child took is closed and tried again. An
// HTTP probe holds back the request's last line until the acceptor is known, so even a server
// that answers and closes at once is told apart.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <chrono>
#include <molt/state.hpp>
#include <optional>
#include <string>
#include <vector>

#include "master/ready_mode.hpp"
#include "util/fd.hpp"

namespace molt::internal {

class ReadyProbe {
 public:
  using Clock = std::chrono::steady_clock;
  using TimePoint = Clock::time_point;

  // Where connection probes go: the first TCP listener, a wildcard address made loopback.
  struct Target {
    sockaddr_storage address{};
    socklen_t length = 0;
    std::string text;  // "127.0.0.1:8080", for the log and the Host header
  };
  static std::optional<Target> target_of(const std::vector<Listener>& listeners);

  // `target`: http and tcp need it; an exec command gets its text in MOLT_LISTEN.
  ReadyProbe(const ReadyMode& mode, pid_t child, std::optional<Target> target, TimePoint now);
  ~ReadyProbe();
  ReadyProbe(const ReadyProbe&) = delete;
  ReadyProbe& operator=(const ReadyProbe&) = delete;

  // What to poll for (fd -1 when only the deadline counts) and until when.
  pollfd poll_fd() const { return {fd_.get(), events_, 0}; }
  TimePoint deadline() const { return deadline_; }

  // After poll: moves on if the fd is ready or the deadline passed. `children` are every child's
  // pid (each leads its group), to tell who accepted. True once the child is ready.
  bool step(short revents, TimePoint now, const std::vector<pid_t>& children);

  // The exec command this probe runs, if `pid` is it; `exited` takes its wait status.
  bool runs(pid_t pid) const { return command_pid_ == pid; }
  bool exited(int status, TimePoint now);

  // "GET /healthz answered 200", for the line that says the child is ready.
  const std::string& how() const { return how_; }

 private:
  enum class Phase { kWaiting, kConnecting, kIdentifying, kReading, kRunning };

  void start_attempt(TimePoint now);
  void connected(TimePoint now);
  bool identify(TimePoint now, const std::vector<pid_t>& children);
  bool read_answer(TimePoint now);
  bool succeed(std::string how);
  void next_attempt(TimePoint now, std::chrono::milliseconds after);
  void retry(TimePoint now, std::chrono::milliseconds after, const std::string& why);
  void kill_command();

  ReadyMode mode_;
  pid_t child_;
  std::optional<Target> target_;
  Phase phase_ = Phase::kWaiting;
  TimePoint deadline_;
  TimePoint attempt_limit_{};
  short events_ = 0;
  Fd fd_;
  std::chrono::milliseconds identify_wait_{1};
  std::string answer_;
  pid_t command_pid_ = -1;
  bool command_killed_ = false;  // it ran too long
  unsigned attempts_ = 0;
  unsigned taken_by_others_ = 0;  // connections another child accepted
  bool others_ = false;           // this attempt's connection is another child's
  std::string last_failure_;      // said once per distinct cause
  std::string how_;
};

}  // namespace molt::internal
