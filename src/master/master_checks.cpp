// The master's side of checking the source: when (CheckSchedule decides), starting the check
// helper, what its answer means, and the metrics file every event rewrites.
#include <molt/duration.hpp>

#include "master/master.hpp"
#include "util/atomic_file.hpp"
#include "util/log.hpp"

namespace molt::internal {
namespace {

const char* outcome_name(CheckOutcome::Kind kind) {
  switch (kind) {
    case CheckOutcome::Kind::kNothing:
      return "nothing";
    case CheckOutcome::Kind::kSkipped:
      return "skipped";
    case CheckOutcome::Kind::kRefused:
      return "refused";
    case CheckOutcome::Kind::kFailed:
      return "failed";
    case CheckOutcome::Kind::kStaged:
      return "staged";
  }
  return "failed";
}

}  // namespace

// SIGHUP, or a child's State::request_check(): `who` starts the line that says what follows.
void Master::check_now(const std::string& who, TimePoint now) {
  if (!checker_) {
    logger().info("{}: no source to check", who);
  } else if (hold_) {
    logger().info("{}: not checking: {}", who, held_line());
    return;
  } else if (checker_->checking()) {
    logger().info("{}: checking {} again once the check under way (for {}) ends", who,
                  setup_.fetcher->describe(),
                  format_duration(
                      std::chrono::duration_cast<std::chrono::milliseconds>(now - check_started_)));
  } else if (supervisor_.busy()) {
    logger().info("{}: checking {} once the new child's start is over", who,
                  setup_.fetcher->describe());
  } else {
    logger().info("{}: checking {} now", who, setup_.fetcher->describe());
  }
  schedule_.request();
  asked_ = true;
}

// A check bounds each transfer, but not what a transfer cannot see (a helper stuck in the kernel
// on a hung filesystem, or stopped): past every bound it could reach, the helper is killed.
std::chrono::milliseconds Master::check_limit() const {
  const HttpOptions& http = setup_.config.http;
  return http.connect_timeout + 2 * http.total_timeout + std::chrono::seconds(10);
}

void Master::maybe_check(TimePoint now) {
  if (checker_ && checker_->checking() && now >= check_started_ + check_limit()) {
    logger().error("check of {} took longer than {}: the check helper is killed",
                   setup_.fetcher->describe(), format_duration(check_limit()));
    checker_->abandon();
    remove_staged_leftovers_except_held();
    schedule_.failed_to_run(now);
    record_check("failed", "the check took longer than " + format_duration(check_limit()));
    return;
  }
  if (!checker_ || checker_->checking() || supervisor_.busy() || hold_) return;
  // Once the upgrade is over, not during it: the helper's start takes CPU from the children.
  if (supervisor_.settled()) checker_->prepare(own_fds());
  if (schedule_.take_due(now)) start_check(now);
}

// The file is for a collector to read: a whole old or new file, no fsync (a machine crash loses
// counters a restart resets anyway). A failure is said once, and again once it changes.
// `coalesce`: a routine check's counters reach the file within kMetricsCoalesce rather than at
// once: the create and rename of the file cost the master more CPU than a 1 s poll itself
// (bench/RESULTS.md), and a collector scrapes every 15 s or more.
void Master::write_metrics(bool coalesce) {
  if (setup_.config.metrics_file.empty()) return;
  const TimePoint now = Clock::now();
  if (coalesce && metrics_written_ != TimePoint{} && now < metrics_written_ + kMetricsCoalesce) {
    metrics_due_ = metrics_written_ + kMetricsCoalesce;
    return;
  }
  metrics_due_.reset();
  metrics_written_ = now;
  metrics_.build_id = running_build_id_;
  std::string error =
      write_file_atomically(real_sys(), setup_.config.metrics_file, prometheus_text(metrics_), 0644,
                            Durability::kProcessCrash);
  if (!error.empty() && error != metrics_error_) logger().warn("metrics: {}", error);
  metrics_error_ = error;
}

// A check someone asked for (SIGHUP, a child's request) always says its outcome: what would go
// to debug as a repeat is said at info, and a check that found nothing new says so. Returns the
// outcome in one line, for `molt status` and `molt check`.
std::string Master::say(const std::vector<CheckSchedule::Line>& lines, bool asked) {
  using Level = CheckSchedule::Line::Level;
  for (const CheckSchedule::Line& line : lines) {
    logger().log(line.level == Level::kError           ? spdlog::level::err
                 : line.level == Level::kInfo || asked ? spdlog::level::info
                                                       : spdlog::level::debug,
                 "{}", line.text);
  }
  const std::string nothing_new = setup_.fetcher->describe() + ": nothing new since the last check";
  if (asked && lines.empty()) logger().info("{}", nothing_new);
  std::string said;
  for (const CheckSchedule::Line& line : lines) said += (said.empty() ? "" : "; ") + line.text;
  return said.empty() ? nothing_new : said;
}

void Master::start_check(TimePoint now) {
  std::vector<CheckSchedule::Line> said;
  std::optional<CheckRequest> request = schedule_.start(running_build_id_, now, said);
  check_asked_ = std::exchange(asked_, false);
  ++checks_started_;
  std::string message = say(said, check_asked_);
  if (!request) return record_check("refused", message);
  check_started_ = now;
  if (std::string error = checker_->start(*request, own_fds()); !error.empty()) {
    logger().error("check: {}", error);
    schedule_.failed_to_run(now);
    record_check("failed", error);
  }
}

void Master::read_check() {
  CheckHelper::Answer answer = checker_->read();
  if (answer.complete) finish_check(answer.outcome);
}

void Master::finish_check(const std::optional<CheckOutcome>& outcome) {
  TimePoint now = Clock::now();
  if (!outcome) {
    logger().error("check of {} ended without an answer (helper crashed?)",
                   setup_.fetcher->describe());
    schedule_.failed_to_run(now);
    ++metrics_.checks["failed"];
    metrics_.last_check_time = unix_time_now();
    write_metrics(true);
    record_check("failed", "the check ended without an answer (helper crashed?)");
    return;
  }
  record_check(outcome_name(outcome->kind), say(schedule_.finished(*outcome, now), check_asked_));
  if (outcome->rollout) {
    metrics_.rollout = Metrics::Rollout{outcome->build_id, *outcome->rollout, outcome->cohort};
  }
  ++metrics_.checks[outcome_name(outcome->kind)];
  metrics_.download_bytes += outcome->downloaded_bytes;
  metrics_.last_check_time = unix_time_now();
  write_metrics(true);
  if (outcome->kind != CheckOutcome::Kind::kStaged || outcome->verify_failed) return;
  if (hold_) {
    // Held while it was checked: the build waits at the source for `molt resume`.
    ::unlink(outcome->staged_path.c_str());
    last_check_->message = "build " + outcome->build_id + " not taken: " + held_line();
    logger().info("{}", last_check_->message);
    return;
  }
  if (setup_.keys.empty()) logger().warn("build {} was not signature-checked", outcome->build_id);
  staged_ =
      Staged{outcome->staged_path, outcome->build_id, outcome->timestamp, outcome->signature_text};
  upgrade_ = Upgrade{.from = running_build_id_,
                     .to = outcome->build_id,
                     .bytes = outcome->downloaded_bytes,
                     .check_started = check_started_,
                     .verified = now};
  Supervisor::Actions actions = supervisor_.staged(outcome->build_id, now);
  if (actions.empty()) {
    // A restart or a stop began while it was checked: drop it and look again soon.
    drop_staged();
    schedule_.look_again(now);
    last_check_->message = "build " + outcome->build_id +
                           " not started: a restart or a stop began while it was checked";
  } else {
    last_check_->upgrade = upgrades_ended_ + 1;
  }
  apply(actions);
}

}  // namespace molt::internal
