// When the master checks its source, and what each check must know: the decisions about checks,
// off the helper and the clock, as Supervisor is for children. It takes events (a request, a
// watch event, time, a check that started, answered or was lost, a build marked bad or
// installed) and says when the next check is due, what the next request holds and which lines
// the master logs. Tests drive it with a fake clock and a fixed jitter.
//
//   - The first check is due at once; then every poll interval, with about +-10% of jitter so a
//     fleet does not poll in lockstep. A failed check backs off 0.5 s, 1 s, 2 s ... up to the
//     interval; a check that did not fail resets that.
//   - A SIGHUP or a child's request_check() makes a check due now; a watch event does too once
//     the writer settled (at once, or 250 ms after the last event).
//   - An artifact that did not match its (verified) signature is downloaded whole again after a
//     backoff of 1 s doubling to 5 min while the signature stays the same; meanwhile each check
//     reads the signature whole (to tell it is the same) and downloads the artifact only if it
//     changed since, once. A new signature starts afresh.
//   - "Waiting" messages (no signature yet, an artifact still missing) are said once, then at
//     debug level while they stay the same.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "master/check.hpp"
#include "util/backoff.hpp"

namespace molt::internal {

class CheckSchedule {
 public:
  using Clock = std::chrono::steady_clock;
  using TimePoint = Clock::time_point;
  // A fraction in [-1, 1]: the next poll comes at interval * (1 + jitter / 10).
  using Jitter = std::function<double()>;

  struct Settings {
    std::chrono::milliseconds interval{5'000};
    std::chrono::milliseconds settle{250};
    std::chrono::milliseconds retry_first{500};
    std::chrono::milliseconds full_download_first{1'000};
    std::chrono::milliseconds full_download_max{300'000};
  };

  // A line for the master's log.
  struct Line {
    enum class Level { kDebug, kInfo, kError };
    Level level;
    std::string text;
    bool operator==(const Line&) const = default;
  };

  CheckSchedule(Settings settings, Jitter jitter, TimePoint now);

  // A SIGHUP or a child's request_check(): a check is due now.
  void request() { requested_ = true; }
  // The source's watch descriptor said something changed; `settled`: the writer is done.
  void watch_event(bool settled, TimePoint now);

  // Whether a check is due now; asked only while no check and no new child's start is under
  // way. A yes is taken: the master starts the check.
  bool take_due(TimePoint now);
  // The earliest time take_due() may say yes (the master's poll timeout).
  TimePoint next_due() const;

  // The check that starts now, with what changes from one check to the next (the master's
  // helper holds the rest). nullopt when no check may run: no downgrade floor can be trusted
  // (`said` gets the line, once).
  std::optional<CheckRequest> start(const std::string& running_build_id, TimePoint now,
                                    std::vector<Line>& said);
  // The helper could not be started, or a check ended without an answer (crashed, or killed
  // past its time limit): tried again after the failure backoff.
  void failed_to_run(TimePoint now);
  // A check answered: what to log. A staged build (kStaged) is then the master's to start.
  std::vector<Line> finished(const CheckOutcome& outcome, TimePoint now);
  // The staged build could not be started now (a restart or a stop began), or it was discarded
  // for a cause that is not the build's: the source is read whole again soon.
  void look_again(TimePoint now);

  // A build that failed (not ready, crashed, rolled back) is not tried again.
  void mark_bad(const std::string& build_id) { bad_build_ids_.insert(build_id); }
  // The downgrade floor: the signing time of the running build, raised by each install.
  void set_floor(std::optional<std::int64_t> high_water, std::string error);
  void installed(std::optional<std::int64_t> signed_at);

  const std::set<std::string>& bad_build_ids() const { return bad_build_ids_; }
  std::optional<std::int64_t> high_water() const { return high_water_; }

 private:
  void schedule_poll(bool failed, TimePoint now);
  void say_waiting(const std::string& message, std::vector<Line>& said);

  Settings settings_;
  Jitter jitter_;
  Backoff failure_backoff_;
  bool requested_ = false;
  TimePoint next_poll_;
  std::optional<TimePoint> settle_at_;

  // What the last check saw, so an unchanged object costs a 304 or a stat.
  Validator signature_seen_;
  Validator artifact_seen_;
  bool retry_ = false;                // read both objects whole next time
  std::string last_waiting_message_;  // said once, then at debug level

  std::set<std::string> bad_build_ids_;
  std::optional<std::int64_t> high_water_;
  std::string floor_error_;  // no floor can be trusted: every check is refused

  // An artifact that failed to verify under this signature (its text) is downloaded again only
  // after a backoff: a torn read recovers within a step, a broken or hostile pair costs a bounded
  // number of downloads an hour.
  std::string failed_signature_;
  Validator failed_artifact_;     // the artifact as it was read when it failed
  bool early_retry_left_ = true;  // one download before the backoff if the artifact changes
  Backoff full_download_backoff_;
  TimePoint full_download_at_{};
  bool full_download_due_ = false;
};

}  // namespace molt::internal
