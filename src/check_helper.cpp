#include "check_helper.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <utility>

#include "sys.hpp"
#include "write_all.hpp"

namespace molt {
namespace {

// After a transfer, or a failure (whose cause, such as a library that would not load, a fresh
// process may not share), the helper exits and the next check gets a new one. Both sides decide
// it from the outcome, so the master never hands a request to a helper that is on its way out.
bool helper_retires_after(const CheckOutcome& outcome) {
  return outcome.downloaded || outcome.kind == CheckOutcome::Kind::kFailed;
}

std::string frame(const std::string& payload) {
  return std::to_string(payload.size()) + "\n" + payload;
}

// A whole frame at the front of `buffer`: its payload, which is removed from the buffer.
std::optional<std::string> take_frame(std::string& buffer) {
  std::size_t newline = buffer.find('\n');
  if (newline == std::string::npos) return std::nullopt;
  std::size_t size = 0;
  if (std::from_chars(buffer.data(), buffer.data() + newline, size).ec != std::errc() ||
      buffer.size() - newline - 1 < size) {
    return std::nullopt;
  }
  std::string payload = buffer.substr(newline + 1, size);
  buffer.erase(0, newline + 1 + size);
  return payload;
}

// Blocking read of one frame; nullopt at end of file.
std::optional<std::string> read_frame(int fd, std::string& buffer) {
  for (;;) {
    if (auto payload = take_frame(buffer)) return payload;
    char chunk[4096];
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    buffer.append(chunk, static_cast<std::size_t>(n));
  }
}

}  // namespace

CheckHelper::CheckHelper(Fetcher& fetcher, CheckRequest fixed)
    : fetcher_(fetcher), fixed_(std::move(fixed)) {}

CheckHelper::~CheckHelper() { stop(); }

std::string CheckHelper::start(const CheckRequest& request,
                               const std::vector<int>& close_in_helper) {
  std::string message = frame(encode_changes(request));
  // A helper that exited since its last answer (after a transfer, or killed) is replaced.
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (pid_ < 0) {
      close_pipes();
      if (std::string error = fork_helper(close_in_helper); !error.empty()) return error;
    }
    if (write_all(request_fd_, message)) {
      checking_ = true;
      answer_.clear();
      return {};
    }
    stop();  // it died between checks: start over once with a fresh one
  }
  return std::string("check helper: write: ") + std::strerror(errno);
}

std::string CheckHelper::fork_helper(const std::vector<int>& close_in_helper) {
  int requests[2], answers[2];
  if (::pipe2(requests, O_CLOEXEC) != 0) return std::string("pipe: ") + std::strerror(errno);
  if (::pipe2(answers, O_CLOEXEC) != 0) {
    std::string error = std::string("pipe: ") + std::strerror(errno);
    ::close(requests[0]);
    ::close(requests[1]);
    return error;
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    std::string error = std::string("fork: ") + std::strerror(errno);
    for (int fd : {requests[0], requests[1], answers[0], answers[1]}) ::close(fd);
    return error;
  }
  if (pid == 0) {
    ::close(requests[1]);
    ::close(answers[0]);
    for (int fd : close_in_helper) ::close(fd);
    serve(requests[0], answers[1]);
  }
  ::close(requests[0]);
  ::close(answers[1]);
  ::fcntl(answers[0], F_SETFL, O_NONBLOCK);
  pid_ = pid;
  request_fd_ = requests[1];
  answer_fd_ = answers[0];
  return {};
}

void CheckHelper::serve(int request_fd, int answer_fd) {
  // Default signal handling, so the master can kill it; it dies with the master.
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  // Checking (transfers, hashing, fsync) must never compete with the children serving requests:
  // 10 below the master (a master started at nice -10 gets a helper at 0, not 10).
  (void)!::nice(10);
  CheckRequest request = fixed_;
  std::string buffer;
  while (std::optional<std::string> changes = read_frame(request_fd, buffer)) {
    CheckOutcome outcome;
    if (decode_changes(*changes, request)) {
      outcome = run_check(fetcher_, request, real_sys());
    } else {
      outcome.kind = CheckOutcome::Kind::kFailed;
      outcome.message = "check helper: garbled request";
    }
    if (!write_all(answer_fd, frame(encode(outcome))) || helper_retires_after(outcome)) break;
  }
  _exit(0);
}

CheckHelper::Answer CheckHelper::read() {
  if (!checking_) return {};
  bool ended = false;
  for (;;) {
    char chunk[4096];
    ssize_t n = ::read(answer_fd_, chunk, sizeof chunk);
    if (n > 0) {
      answer_.append(chunk, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    ended = !(n < 0 && errno == EAGAIN);
    break;
  }
  if (std::optional<std::string> payload = take_frame(answer_)) {
    checking_ = false;
    std::optional<CheckOutcome> outcome = decode(*payload);
    if (!outcome || helper_retires_after(*outcome)) {
      // It exits on its own (the master reaps it as any child); the next check forks anew.
      close_pipes();
      pid_ = -1;
    }
    return {.complete = true, .outcome = std::move(outcome)};
  }
  if (!ended) return {};
  checking_ = false;  // the helper died mid-check
  close_pipes();
  return {.complete = true};
}

bool CheckHelper::reaped(pid_t pid) {
  if (pid != pid_ || pid < 0) return false;
  pid_ = -1;
  // Its answer, if any, is still in the pipe: read() gets it; otherwise nothing is pending.
  if (!checking_) close_pipes();
  return true;
}

void CheckHelper::close_pipes() {
  if (request_fd_ >= 0) ::close(request_fd_);
  if (answer_fd_ >= 0) ::close(answer_fd_);
  request_fd_ = answer_fd_ = -1;
}

void CheckHelper::stop() {
  close_pipes();
  checking_ = false;
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  pid_ = -1;
}

}  // namespace molt
