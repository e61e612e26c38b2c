#include "master/check_helper.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <utility>

#include "minisign/signature_internal.hpp"
#include "util/fd.hpp"
#include "util/framing.hpp"
#include "util/priority.hpp"
#include "util/sys.hpp"
#include "util/write_all.hpp"

namespace molt::internal {
namespace {

// After a transfer, or a failure (whose cause, such as a library that would not load, a fresh
// process may not share), the helper exits and the next check gets a new one. Both sides decide
// it from the outcome, so the master never hands a request to a helper that is on its way out.
bool helper_retires_after(const CheckOutcome& outcome) {
  return outcome.downloaded || outcome.kind == CheckOutcome::Kind::kFailed;
}

std::string frame(const std::string& payload) {
  std::string out;
  put_field(out, payload);
  return out;
}

// A whole frame at the front of `buffer`: its payload, which is removed from the buffer.
std::optional<std::string> take_frame(std::string& buffer) {
  std::string_view in = buffer;
  std::string payload;
  if (!take_field(in, payload)) return std::nullopt;
  buffer.erase(0, buffer.size() - in.size());
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
      if (std::string error = fork_helper(close_in_helper, Load::kOnDemand); !error.empty()) {
        return error;
      }
    }
    if (write_all(request_fd_.get(), message)) {
      checking_ = true;
      answer_.clear();
      return {};
    }
    stop();  // it died between checks: start over once with a fresh one
  }
  return std::string("check helper: write: ") + std::strerror(errno);
}

void CheckHelper::prepare(const std::vector<int>& close_in_helper) {
  if (!std::exchange(replace_ahead_, false) || pid_ >= 0) return;
  close_pipes();
  (void)fork_helper(close_in_helper, Load::kAhead);  // on failure start() tries again, says why
}

std::string CheckHelper::fork_helper(const std::vector<int>& close_in_helper, Load load) {
  Pipe requests = Pipe::open();
  if (!requests.read) return std::string("pipe: ") + std::strerror(errno);
  Pipe answers = Pipe::open();
  if (!answers.read) return std::string("pipe: ") + std::strerror(errno);
  pid_t pid = ::fork();
  if (pid < 0) return std::string("fork: ") + std::strerror(errno);
  if (pid == 0) {
    requests.write.reset();
    answers.read.reset();
    for (int fd : close_in_helper) ::close(fd);
    serve(requests.read.get(), answers.write.get(), load);
  }
  ::fcntl(answers.read.get(), F_SETFL, O_NONBLOCK);
  pid_ = pid;
  request_fd_ = std::move(requests.write);
  answer_fd_ = std::move(answers.read);
  return {};
}

void CheckHelper::serve(int request_fd, int answer_fd, Load load) {
  // Default signal handling, so the master can kill it; it dies with the master.
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  // A session of its own, so an autogroup of its own where the kernel shares the CPU per
  // session: a check then competes with the serving child (which leads a session too, spawn.cpp)
  // at its own priority, not inside the master's session at that session's share. Its levels
  // count from the master's session's.
  const std::optional<int> master_autogroup = own_autogroup_nice();
  ::setsid();
  // Told apart from the master in ps and top, whose name it would otherwise carry.
  ::prctl(PR_SET_NAME, "molt-check");
  // Only ahead of need: a helper forked for a check that is due loads what it uses as it goes
  // (an idle poll needs no libcrypto; when polls fail in a row, one fresh helper each).
  if (load == Load::kAhead) {
    sig::detail::load_crypto_ahead();
    fetcher_.load_ahead();
  }
  // Waits at the master's priority; a check runs at request.check_nice (its threads and its
  // autogroup), so that it is prompt under load. A large transfer lowers it for its bulk
  // (StagedFile), and the helper exits after any transfer, so the next one starts here again.
  const int waiting_nice = ::getpriority(PRIO_PROCESS, 0);
  // Its autogroup stays at the checks' value in between: a waiting helper uses no CPU, and the
  // kernel takes one change of any autogroup per 100 ms from a process without CAP_SYS_ADMIN,
  // which the new child's session (StartBoost::started), right after a check, needs more.
  std::optional<int> autogroup_nice;
  CheckRequest request = fixed_;
  std::string buffer;
  while (std::optional<std::string> changes = read_frame(request_fd, buffer)) {
    CheckOutcome outcome;
    if (decode_changes(*changes, request)) {
      if (request.check_nice) {
        ::setpriority(PRIO_PROCESS, 0, *request.check_nice);
        std::optional<int> wanted;
        if (master_autogroup) {
          wanted = autogroup_nice_moved(*master_autogroup, waiting_nice, *request.check_nice);
        }
        if (wanted && wanted != autogroup_nice && set_own_autogroup_nice(*wanted) == 0) {
          autogroup_nice = wanted;
        }
      }
      outcome = run_check(fetcher_, request, real_sys());
      if (request.check_nice) ::setpriority(PRIO_PROCESS, 0, waiting_nice);
    } else {
      outcome.kind = CheckOutcome::Kind::kFailed;
      outcome.message = "check helper: garbled request";
    }
    if (!write_all(answer_fd, frame(encode_outcome(outcome))) || helper_retires_after(outcome))
      break;
  }
  _exit(0);
}

CheckHelper::Answer CheckHelper::read() {
  if (!checking_) return {};
  bool ended = false;
  for (;;) {
    char chunk[4096];
    ssize_t n = ::read(answer_fd_.get(), chunk, sizeof chunk);
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
    std::optional<CheckOutcome> outcome = decode_outcome(*payload);
    if (!outcome || helper_retires_after(*outcome)) {
      // It exits on its own (the master reaps it as any child); prepare() or the next check
      // forks anew.
      close_pipes();
      retired_ = std::exchange(pid_, -1);
      replace_ahead_ = outcome && outcome->downloaded;
    }
    return {.complete = true, .outcome = std::move(outcome)};
  }
  if (!ended) return {};
  checking_ = false;  // the helper died mid-check
  close_pipes();
  return {.complete = true};
}

bool CheckHelper::reaped_retired(pid_t pid) {
  if (pid != retired_ || pid < 0) return false;
  retired_ = -1;
  return true;
}

bool CheckHelper::reaped(pid_t pid) {
  if (pid != pid_ || pid < 0) return false;
  pid_ = -1;
  // Its answer, if any, is still in the pipe: read() gets it; otherwise nothing is pending.
  if (!checking_) close_pipes();
  return true;
}

void CheckHelper::close_pipes() {
  request_fd_.reset();
  answer_fd_.reset();
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

}  // namespace molt::internal
