#include "master/check_schedule.hpp"

#include <algorithm>
#include <molt/duration.hpp>
#include <utility>

namespace molt::internal {

using Kind = CheckOutcome::Kind;
using Level = CheckSchedule::Line::Level;

CheckSchedule::CheckSchedule(Settings settings, Jitter jitter, TimePoint now)
    : settings_(settings),
      jitter_(std::move(jitter)),
      failure_backoff_(std::min(settings.retry_first, settings.interval), settings.interval),
      next_poll_(now),  // the first check right away
      full_download_backoff_(settings.full_download_first, settings.full_download_max) {}

void CheckSchedule::watch_event(bool settled, TimePoint now) {
  if (settled) {
    requested_ = true;
    settle_at_.reset();
  } else {
    settle_at_ = now + settings_.settle;
  }
}

bool CheckSchedule::take_due(TimePoint now) {
  if (settle_at_ && now >= *settle_at_) {
    settle_at_.reset();
    requested_ = true;
  }
  if (now >= next_poll_) requested_ = true;
  if (full_download_due_ && now >= full_download_at_) {
    full_download_due_ = false;
    requested_ = true;
  }
  return std::exchange(requested_, false);
}

CheckSchedule::TimePoint CheckSchedule::next_due() const {
  // The clock's epoch, not TimePoint::min(): the master subtracts now from it.
  TimePoint next = requested_ ? TimePoint{} : next_poll_;
  if (settle_at_) next = std::min(next, *settle_at_);
  if (full_download_due_) next = std::min(next, full_download_at_);
  return next;
}

std::optional<CheckRequest> CheckSchedule::start(const std::string& running_build_id, TimePoint now,
                                                 std::vector<Line>& said) {
  if (!floor_error_.empty()) {
    bool news = floor_error_ != last_waiting_message_;
    said.push_back({news ? Level::kError : Level::kDebug, floor_error_});
    last_waiting_message_ = floor_error_;
    schedule_poll(false, now);
    return std::nullopt;
  }
  return CheckRequest{.running_build_id = running_build_id,
                      .bad_build_ids = bad_build_ids_,
                      .signature_seen = signature_seen_,
                      .artifact_seen = artifact_seen_,
                      .retry = retry_,
                      .high_water = high_water_,
                      .failed_signature = failed_signature_,
                      .failed_signature_waits = now < full_download_at_,
                      .failed_artifact = failed_artifact_,
                      .early_retry = early_retry_left_};
}

void CheckSchedule::failed_to_run(TimePoint now) {
  retry_ = true;
  schedule_poll(true, now);
}

void CheckSchedule::look_again(TimePoint now) {
  signature_seen_ = artifact_seen_ = {};
  retry_ = true;
  schedule_poll(true, now);
}

std::vector<CheckSchedule::Line> CheckSchedule::finished(const CheckOutcome& outcome,
                                                         TimePoint now) {
  std::vector<Line> said;
  schedule_poll(outcome.kind == Kind::kFailed, now);
  if (outcome.verify_failed) {
    if (outcome.signature_text != failed_signature_) {
      full_download_backoff_.reset();
      early_retry_left_ = true;
    }
    if (outcome.used_early_retry) early_retry_left_ = false;
    failed_signature_ = outcome.signature_text;
    failed_artifact_ = outcome.artifact;
    std::chrono::milliseconds wait = full_download_backoff_.next();
    full_download_at_ = now + wait;
    full_download_due_ = true;
    said.push_back(
        {Level::kError, outcome.message + "; next full download in " + format_duration(wait)});
    signature_seen_ = outcome.signature;
    artifact_seen_ = {};
    retry_ = true;
    last_waiting_message_.clear();
    return said;
  }
  if (outcome.used_early_retry) early_retry_left_ = false;
  if (!outcome.signature_text.empty() && outcome.signature_text != failed_signature_) {
    failed_signature_.clear();  // another signature: the pair is judged afresh
    full_download_backoff_.reset();
    full_download_due_ = false;
  }
  signature_seen_ = outcome.signature;
  artifact_seen_ = outcome.artifact;
  // While a pair that failed to verify waits for its next full download, the signature is read
  // whole at each poll, so the check can tell it is still the same one.
  retry_ = outcome.retry || outcome.kind == Kind::kFailed || !failed_signature_.empty();
  switch (outcome.kind) {
    case Kind::kNothing:
      if (!outcome.message.empty()) say_waiting(outcome.message, said);
      return said;
    case Kind::kSkipped:
    case Kind::kStaged:
      said.push_back({Level::kInfo, outcome.message});
      break;
    case Kind::kRefused:
    case Kind::kFailed:
      said.push_back({Level::kError, outcome.message});
      break;
  }
  last_waiting_message_.clear();
  return said;
}

void CheckSchedule::set_floor(std::optional<std::int64_t> high_water, std::string error) {
  high_water_ = high_water;
  floor_error_ = std::move(error);
}

void CheckSchedule::installed(std::optional<std::int64_t> signed_at) {
  if (signed_at) high_water_ = std::max(high_water_, signed_at);
}

void CheckSchedule::schedule_poll(bool failed, TimePoint now) {
  std::chrono::milliseconds delay = settings_.interval;
  if (failed) {
    delay = failure_backoff_.next();
  } else {
    failure_backoff_.reset();
  }
  long long spread = delay.count() / 10;
  double fraction = std::clamp(jitter_ ? jitter_() : 0.0, -1.0, 1.0);
  // Rounded half away from zero, as std::llround would, without it: llround was the one call
  // that made the molt command load libm (300 KiB of Rss in an idle master; issue 13).
  double jitter = static_cast<double>(spread) * fraction;
  delay +=
      std::chrono::milliseconds(static_cast<long long>(jitter < 0 ? jitter - 0.5 : jitter + 0.5));
  next_poll_ = now + delay;
}

void CheckSchedule::say_waiting(const std::string& message, std::vector<Line>& said) {
  bool news = message != last_waiting_message_;
  said.push_back({news ? Level::kInfo : Level::kDebug, message});
  last_waiting_message_ = message;
}

}  // namespace molt::internal
