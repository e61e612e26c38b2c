// The check helper: a process forked from the master that runs checks (check.hpp) for it, one at
// a time, so the master never blocks on the network or a disk.
//
// It lives on between checks that transfer no artifact: an idle poll then costs the master no
// fork (fork and the copy-on-write faults that follow it were most of an idle master's CPU), and
// an HTTP(S) poll reuses the helper's connection. After a check that transferred an artifact or
// failed it exits, taking whatever the transfer left behind (TLS state, buffers, libcurl itself)
// or whatever made it fail; the next check forks a fresh one from the master, which stays at its
// floor.
//
// Over two pipes: the master writes a request (the parts of CheckRequest that change, framed as
// "<length>\n<bytes>"), the helper answers with one framed outcome. End of file on the request
// pipe ends the helper; end of file on the answer pipe tells the master it is gone.
#pragma once

#include <sys/types.h>

#include <molt/fetcher.hpp>
#include <optional>
#include <string>
#include <vector>

#include "master/check.hpp"
#include "util/fd.hpp"

namespace molt::internal {

class CheckHelper {
 public:
  // `fixed`: the parts of every request that never change (bin_path, keys, limits).
  CheckHelper(Fetcher& fetcher, CheckRequest fixed);
  ~CheckHelper();  // kills and reaps a helper that still lives
  CheckHelper(const CheckHelper&) = delete;
  CheckHelper& operator=(const CheckHelper&) = delete;

  // Hands `request` to the helper, forking one first when none lives; `close_in_helper` are the
  // master's own descriptors (listeners, sockets) that a helper must not keep open. Returns an
  // empty string, or one line saying why no check could start.
  std::string start(const CheckRequest& request, const std::vector<int>& close_in_helper);

  // Forks the helper that follows one which retired after a transfer, ahead of its first check,
  // while the master has nothing else under way: a fresh helper loads and starts libcrypto
  // (about 4 ms of CPU) and what its fetcher needs (Fetcher::load_ahead: libcurl) before it
  // reads a request, so the next build's check does not wait for that. Nothing otherwise: once per
  // retirement, so a helper that keeps dying is not forked again and again; start() forks one, and
  // says why when it cannot.
  void prepare(const std::vector<int>& close_in_helper);

  bool checking() const { return checking_; }
  // Readable when an answer (or the helper's end) is there; -1 when no check is in flight.
  int fd() const { return checking_ ? answer_fd_.get() : -1; }

  struct Answer {
    bool complete = false;                // false: read again when fd() is readable
    std::optional<CheckOutcome> outcome;  // complete without one: the helper died mid-check
  };
  Answer read();

  // Kills the helper (and reaps it): its check is abandoned; the next one forks anew.
  void abandon() { stop(); }

  // The master reaped `pid`; true when it was the helper.
  bool reaped(pid_t pid);
  // The master reaped `pid`; true when it was a helper that had retired (after its answer).
  bool reaped_retired(pid_t pid);
  pid_t pid() const { return pid_; }

 private:
  enum class Load { kOnDemand, kAhead };  // kAhead: load libcrypto and the fetcher's library first
  std::string fork_helper(const std::vector<int>& close_in_helper, Load load);
  [[noreturn]] void serve(int request_fd, int answer_fd, Load load);
  void close_pipes();
  void stop();

  Fetcher& fetcher_;
  CheckRequest fixed_;
  pid_t pid_ = -1;
  pid_t retired_ = -1;  // a helper that answered and exits on its own, until it is reaped
  Fd request_fd_;       // the master writes requests here
  Fd answer_fd_;        // and reads answers here
  bool checking_ = false;
  bool replace_ahead_ = false;  // the helper retired after a transfer: prepare() forks the next
  std::string answer_;
};

}  // namespace molt::internal
