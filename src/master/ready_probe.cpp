#include "master/ready_probe.hpp"

#include <netinet/in.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <molt/duration.hpp>

#include "master/spawn.hpp"
#include "util/address.hpp"
#include "util/log.hpp"
#include "util/socket_owner.hpp"

namespace molt::internal {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kFirstAttempt{10};   // after the child starts
constexpr milliseconds kRetry{25};          // after a connection probe that failed
constexpr milliseconds kCommandRetry{100};  // after a readiness command that failed
constexpr milliseconds kAcceptLimit{2000};  // for some child to accept a probe's connection
constexpr milliseconds kAnswerLimit{5000};  // for an HTTP answer, or a command to exit
constexpr milliseconds kLongestWait{64};    // between two looks at who accepted
constexpr std::size_t kStatusLineMax = 1024;

// "HTTP/1.1 503 Service Unavailable" -> 503; 0 for anything else.
int status_of(const std::string& line) {
  if (line.size() < 12 || !line.starts_with("HTTP/1.") || line[8] != ' ') return 0;
  int status = 0;
  for (std::size_t i = 9; i < 12; ++i) {
    if (line[i] < '0' || line[i] > '9') return 0;
    status = status * 10 + (line[i] - '0');
  }
  return line.size() == 12 || line[12] == ' ' || line[12] == '\r' ? status : 0;
}

}  // namespace

std::optional<ReadyProbe::Target> ReadyProbe::target_of(const std::vector<Listener>& listeners) {
  for (const Listener& l : listeners) {
    Target t;
    t.length = sizeof t.address;
    if (::getsockname(l.fd, reinterpret_cast<sockaddr*>(&t.address), &t.length) != 0) continue;
    if (t.address.ss_family == AF_INET) {
      auto& in = reinterpret_cast<sockaddr_in&>(t.address);
      if (in.sin_addr.s_addr == htonl(INADDR_ANY)) in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    } else if (t.address.ss_family == AF_INET6) {
      auto& in6 = reinterpret_cast<sockaddr_in6&>(t.address);
      if (IN6_IS_ADDR_UNSPECIFIED(&in6.sin6_addr)) in6.sin6_addr = in6addr_loopback;
    } else {
      continue;
    }
    std::optional<Address> address = address_from(t.address);
    if (!address) continue;
    t.text = address->to_string();
    return t;
  }
  return std::nullopt;
}

ReadyProbe::ReadyProbe(const ReadyMode& mode, pid_t child, std::optional<Target> target,
                       TimePoint now)
    : mode_(mode), child_(child), target_(std::move(target)) {
  deadline_ = now + (mode_.kind == ReadyMode::Kind::kDelay ? mode_.delay : kFirstAttempt);
}

ReadyProbe::~ReadyProbe() { kill_command(); }

bool ReadyProbe::step(short revents, TimePoint now, const std::vector<pid_t>& children) {
  bool due = now >= deadline_;
  switch (phase_) {
    case Phase::kWaiting:
      if (!due) return false;
      if (mode_.kind == ReadyMode::Kind::kDelay) {
        return succeed("it ran " + format_duration(mode_.delay) + " without exiting");
      }
      start_attempt(now);
      return false;
    case Phase::kConnecting:
      if (revents) {
        connected(now);
      } else if (due) {
        retry(now, kRetry, "connecting to " + target_->text + " timed out");
      }
      return false;
    case Phase::kIdentifying:
      return due && identify(now, children);
    case Phase::kReading:
      if (revents) return read_answer(now);
      if (due && others_) {
        next_attempt(now, kRetry);
      } else if (due) {
        retry(now, kRetry,
              "GET " + mode_.path + " got no answer within " + format_duration(kAnswerLimit));
      }
      return false;
    case Phase::kRunning:
      if (due) {
        kill_command();  // its exit, reaped by the master, says the rest
        deadline_ = now + std::chrono::hours(1);
      }
      return false;
  }
  return false;
}

void ReadyProbe::start_attempt(TimePoint now) {
  ++attempts_;
  if (mode_.kind == ReadyMode::Kind::kExec) {
    std::vector<std::string> env{"MOLT_CHILD_PID=" + std::to_string(child_)};
    if (target_) env.push_back("MOLT_LISTEN=" + target_->text);
    std::string error;
    std::optional<pid_t> pid = spawn_command(mode_.command, env, error);
    if (!pid) return retry(now, kCommandRetry, "its readiness command: " + error);
    command_pid_ = *pid;
    phase_ = Phase::kRunning;
    deadline_ = now + kAnswerLimit;
    return;
  }
  fd_.reset(::socket(target_->address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd_) return retry(now, kRetry, std::string("socket: ") + std::strerror(errno));
  if (::connect(fd_.get(), reinterpret_cast<const sockaddr*>(&target_->address), target_->length) ==
      0) {
    return connected(now);
  }
  if (errno != EINPROGRESS) {
    return retry(now, kRetry, "connect to " + target_->text + ": " + std::strerror(errno));
  }
  phase_ = Phase::kConnecting;
  events_ = POLLOUT;
  deadline_ = now + kAcceptLimit;
}

void ReadyProbe::connected(TimePoint now) {
  int error = 0;
  socklen_t length = sizeof error;
  ::getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &error, &length);
  if (error != 0) {
    return retry(now, kRetry, "connect to " + target_->text + ": " + std::strerror(error));
  }
  if (mode_.kind == ReadyMode::Kind::kHttp) {
    // All but the blank line that ends the request: the server waits for it, holding the
    // connection open, while the master finds out who accepted it.
    std::string head = "GET " + mode_.path + " HTTP/1.1\r\nHost: " + target_->text +
                       "\r\nUser-Agent: molt-ready-probe\r\nConnection: close\r\n";
    if (::send(fd_.get(), head.data(), head.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(head.size())) {
      return retry(now, kRetry, "GET " + mode_.path + ": the request could not be sent");
    }
  }
  phase_ = Phase::kIdentifying;
  events_ = 0;
  identify_wait_ = milliseconds(1);
  deadline_ = now + identify_wait_;
  attempt_limit_ = now + kAcceptLimit;
}

bool ReadyProbe::identify(TimePoint now, const std::vector<pid_t>& children) {
  std::string error;
  std::optional<std::uint64_t> inode = accepted_socket_inode(fd_.get(), error);
  if (!inode) {
    retry(now, kRetry, error);
    return false;
  }
  std::optional<pid_t> holder = *inode ? group_holding_socket(*inode, children) : std::nullopt;
  if (!holder) {
    if (now >= attempt_limit_) {
      retry(now, kRetry,
            "no child accepted a connection to " + target_->text + " within " +
                format_duration(kAcceptLimit));
      return false;
    }
    identify_wait_ = std::min(identify_wait_ * 2, kLongestWait);
    deadline_ = now + identify_wait_;
    return false;
  }
  others_ = *holder != child_;  // the old child took it: expected, and tried again
  if (others_) ++taken_by_others_;
  if (mode_.kind == ReadyMode::Kind::kTcp) {
    if (!others_) return succeed("it accepted a connection on " + target_->text);
    next_attempt(now, kRetry);
    return false;
  }
  // To another child too: its answer is read and dropped, so it sees an ordinary request
  // rather than a connection cut mid-way.
  if (::send(fd_.get(), "\r\n", 2, MSG_NOSIGNAL) != 2) {
    retry(now, kRetry, "GET " + mode_.path + ": the request could not be sent");
    return false;
  }
  answer_.clear();
  phase_ = Phase::kReading;
  events_ = POLLIN;
  deadline_ = now + kAnswerLimit;
  return false;
}

bool ReadyProbe::read_answer(TimePoint now) {
  char buffer[512];
  ssize_t n = ::recv(fd_.get(), buffer, sizeof buffer, 0);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return false;
  if (others_) {  // another child's answer: read to its end (Connection: close), not looked at
    if (n <= 0) next_attempt(now, kRetry);
    return false;
  }
  if (n < 0) {
    retry(now, kRetry, "GET " + mode_.path + ": " + std::strerror(errno));
    return false;
  }
  answer_.append(buffer, static_cast<std::size_t>(n));
  std::size_t line_end = answer_.find('\n');
  if (line_end == std::string::npos && n > 0 && answer_.size() < kStatusLineMax) return false;
  int status = status_of(answer_.substr(0, std::min(line_end, answer_.size())));
  std::string request = "GET " + mode_.path;
  if (status >= 200 && status < 300) {
    return succeed(request + " answered " + std::to_string(status));
  }
  retry(now, kRetry,
        status            ? request + " answered " + std::to_string(status)
        : answer_.empty() ? request + ": the connection closed without an answer"
                          : request + ": the answer is not HTTP/1.x");
  return false;
}

bool ReadyProbe::exited(int status, TimePoint now) {
  command_pid_ = -1;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    return succeed("its readiness command exited 0");
  }
  retry(now, kCommandRetry,
        "its readiness command " + (command_killed_
                                        ? "ran " + format_duration(kAnswerLimit) + " and was killed"
                                        : describe_exit(status)));
  command_killed_ = false;
  return false;
}

bool ReadyProbe::succeed(std::string how) {
  fd_.reset();
  how_ = std::move(how);
  if (attempts_ > 1) how_ += " (attempt " + std::to_string(attempts_) + ")";
  if (taken_by_others_ > 0) {
    how_ += "; " + std::to_string(taken_by_others_) +
            " earlier probe(s) were accepted by another child";
  }
  return true;
}

void ReadyProbe::next_attempt(TimePoint now, milliseconds after) {
  fd_.reset();
  events_ = 0;
  phase_ = Phase::kWaiting;
  deadline_ = now + after;
}

void ReadyProbe::retry(TimePoint now, milliseconds after, const std::string& why) {
  next_attempt(now, after);
  if (why != last_failure_) {  // once per cause: a probe tried every 25 ms would flood the log
    last_failure_ = why;
    logger().info("child {} is not ready yet: {} (tried every {})", child_, why,
                  format_duration(after));
  }
}

void ReadyProbe::kill_command() {
  if (command_pid_ <= 0) return;
  ::kill(-command_pid_, SIGKILL);
  command_killed_ = true;
}

}  // namespace molt::internal
