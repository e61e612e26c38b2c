// When checks are due and what they carry, driven by a fake clock and a fixed jitter.
#include "master/check_schedule.hpp"

#include <gtest/gtest.h>

namespace molt::internal {
namespace {

using namespace std::chrono_literals;
using Kind = CheckOutcome::Kind;
using Level = CheckSchedule::Line::Level;
using TimePoint = CheckSchedule::TimePoint;

class CheckScheduleTest : public ::testing::Test {
 protected:
  TimePoint t0 = TimePoint{} + 1000s;
  double jitter = 0;
  CheckSchedule schedule{{.interval = 10s}, [this] { return jitter; }, t0};

  // Starts the due check at `now` and answers it with `outcome`; returns what was said.
  std::vector<CheckSchedule::Line> check(TimePoint now, CheckOutcome outcome) {
    std::vector<CheckSchedule::Line> said;
    EXPECT_TRUE(schedule.take_due(now));
    EXPECT_TRUE(schedule.start("v1", now, said).has_value());
    std::vector<CheckSchedule::Line> more = schedule.finished(outcome, now);
    said.insert(said.end(), more.begin(), more.end());
    return said;
  }

  static CheckOutcome outcome(Kind kind, std::string message = {}) {
    CheckOutcome o;
    o.kind = kind;
    o.message = std::move(message);
    return o;
  }
};

TEST_F(CheckScheduleTest, TheFirstCheckIsDueAtOnceThenEveryInterval) {
  EXPECT_EQ(schedule.next_due(), t0);
  check(t0, outcome(Kind::kNothing));
  EXPECT_EQ(schedule.next_due(), t0 + 10s);
  EXPECT_FALSE(schedule.take_due(t0 + 9999ms));
  EXPECT_TRUE(schedule.take_due(t0 + 10s));
}

TEST_F(CheckScheduleTest, JitterMovesThePollByAtMostATenth) {
  schedule.take_due(t0);
  jitter = 1;
  schedule.finished(outcome(Kind::kNothing), t0);
  EXPECT_EQ(schedule.next_due(), t0 + 11s);
  schedule.take_due(t0 + 11s);
  jitter = -1;
  schedule.finished(outcome(Kind::kNothing), t0 + 11s);
  EXPECT_EQ(schedule.next_due(), t0 + 11s + 9s);
  jitter = 7;  // out of range: clamped
  schedule.take_due(t0 + 20s);
  schedule.finished(outcome(Kind::kNothing), t0 + 20s);
  EXPECT_EQ(schedule.next_due(), t0 + 31s);
}

TEST_F(CheckScheduleTest, FailuresBackOffFromHalfASecondToTheIntervalAndASuccessResets) {
  TimePoint now = t0;
  for (auto expected : {500ms, 1000ms, 2000ms, 4000ms, 8000ms, 10000ms, 10000ms}) {
    check(now, outcome(Kind::kFailed, "fake: 503"));
    EXPECT_EQ(schedule.next_due() - now, expected);
    now = schedule.next_due();
  }
  check(now, outcome(Kind::kNothing));
  EXPECT_EQ(schedule.next_due() - now, 10s);
  now = schedule.next_due();
  check(now, outcome(Kind::kFailed, "fake: 503"));
  EXPECT_EQ(schedule.next_due() - now, 500ms);
}

TEST_F(CheckScheduleTest, ACheckThatCouldNotRunIsTriedAgainWithTheFailureBackoffAndReadsWhole) {
  schedule.take_due(t0);
  schedule.failed_to_run(t0);
  EXPECT_EQ(schedule.next_due(), t0 + 500ms);
  std::vector<CheckSchedule::Line> said;
  EXPECT_TRUE(schedule.start("v1", t0 + 500ms, said)->retry);
}

TEST_F(CheckScheduleTest, ARequestIsDueAtOnceAndServedOnceTheMasterMayCheck) {
  check(t0, outcome(Kind::kNothing));
  schedule.request();
  EXPECT_EQ(schedule.next_due(), TimePoint{});  // due already: before any check could be
  // The master asks only once nothing is under way; the request waits for it.
  EXPECT_TRUE(schedule.take_due(t0 + 1s));
  EXPECT_FALSE(schedule.take_due(t0 + 1s));
}

TEST_F(CheckScheduleTest, AWatchEventWaitsForTheWriterToSettle) {
  check(t0, outcome(Kind::kNothing));
  schedule.watch_event(false, t0 + 1s);
  EXPECT_EQ(schedule.next_due(), t0 + 1250ms);
  schedule.watch_event(false, t0 + 1200ms);  // still writing: later
  EXPECT_FALSE(schedule.take_due(t0 + 1250ms));
  EXPECT_TRUE(schedule.take_due(t0 + 1450ms));
  schedule.watch_event(true, t0 + 2s);  // closed after writing, or renamed: at once
  EXPECT_TRUE(schedule.take_due(t0 + 2s));
}

TEST_F(CheckScheduleTest, WhatTheLastCheckSawGoesIntoTheNext) {
  CheckOutcome seen = outcome(Kind::kNothing);
  seen.signature.etag = "sig";
  seen.artifact.etag = "art";
  check(t0, seen);
  schedule.mark_bad("v3");
  schedule.set_floor(1000, "");
  schedule.installed(2000);
  schedule.installed(std::nullopt);
  std::vector<CheckSchedule::Line> said;
  ASSERT_TRUE(schedule.take_due(t0 + 10s));
  CheckRequest request = *schedule.start("v2", t0 + 10s, said);
  EXPECT_EQ(request.running_build_id, "v2");
  EXPECT_EQ(request.signature_seen.etag, "sig");
  EXPECT_EQ(request.artifact_seen.etag, "art");
  EXPECT_FALSE(request.retry);
  EXPECT_EQ(request.bad_build_ids, std::set<std::string>{"v3"});
  EXPECT_EQ(request.high_water, 2000);
}

TEST_F(CheckScheduleTest, LookingAgainForgetsWhatWasSeenAndComesSoon) {
  CheckOutcome seen = outcome(Kind::kNothing);
  seen.signature.etag = "sig";
  check(t0, seen);
  schedule.look_again(t0 + 1s);
  EXPECT_EQ(schedule.next_due(), t0 + 1500ms);
  std::vector<CheckSchedule::Line> said;
  schedule.take_due(t0 + 1500ms);
  CheckRequest request = *schedule.start("v1", t0 + 1500ms, said);
  EXPECT_TRUE(request.signature_seen.empty());
  EXPECT_TRUE(request.retry);
}

TEST_F(CheckScheduleTest, AWaitingMessageIsSaidOnceThenAtDebugLevel) {
  auto first = check(t0, outcome(Kind::kNothing, "fake.minisig: no signature yet"));
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].level, Level::kInfo);
  auto again = check(t0 + 10s, outcome(Kind::kNothing, "fake.minisig: no signature yet"));
  EXPECT_EQ(again[0].level, Level::kDebug);
  check(t0 + 20s, outcome(Kind::kSkipped, "fake: build v1 is already running"));
  auto after = check(t0 + 30s, outcome(Kind::kNothing, "fake.minisig: no signature yet"));
  EXPECT_EQ(after[0].level, Level::kInfo);  // something else happened in between
  EXPECT_TRUE(check(t0 + 40s, outcome(Kind::kNothing)).empty());
}

TEST_F(CheckScheduleTest, OutcomesAreSaidAtTheirLevel) {
  EXPECT_EQ(check(t0, outcome(Kind::kSkipped, "skip"))[0],
            (CheckSchedule::Line{Level::kInfo, "skip"}));
  EXPECT_EQ(check(t0 + 10s, outcome(Kind::kStaged, "staged"))[0].level, Level::kInfo);
  EXPECT_EQ(check(t0 + 20s, outcome(Kind::kRefused, "no"))[0].level, Level::kError);
}

TEST_F(CheckScheduleTest, AVerifyFailureBacksOffFullDownloadsWithOneEarlyRetry) {
  CheckOutcome bad = outcome(Kind::kFailed, "fake: signature verification failed");
  bad.verify_failed = true;
  bad.signature_text = "signature A";
  bad.artifact.etag = "torn";
  auto said = check(t0, bad);
  EXPECT_EQ(said[0], (CheckSchedule::Line{Level::kError,
                                          "fake: signature verification failed; next full "
                                          "download in 1s"}));
  // Within the backoff: the signature is read whole, the artifact only if it changed, once.
  std::vector<CheckSchedule::Line> none;
  ASSERT_TRUE(schedule.take_due(t0 + 500ms));  // the failure backoff's poll
  CheckRequest waiting = *schedule.start("v1", t0 + 500ms, none);
  EXPECT_TRUE(waiting.retry);
  EXPECT_EQ(waiting.failed_signature, "signature A");
  EXPECT_TRUE(waiting.failed_signature_waits);
  EXPECT_EQ(waiting.failed_artifact.etag, "torn");
  EXPECT_TRUE(waiting.early_retry);
  bad.used_early_retry = true;
  said = schedule.finished(bad, t0 + 500ms);
  EXPECT_EQ(said[0].text, "fake: signature verification failed; next full download in 2s");
  ASSERT_TRUE(schedule.take_due(t0 + 2500ms));  // the full download is due
  CheckRequest due = *schedule.start("v1", t0 + 2500ms, none);
  EXPECT_FALSE(due.failed_signature_waits);
  EXPECT_FALSE(due.early_retry);  // used
  bad.used_early_retry = false;
  for (const char* wait : {"4s", "8s", "16s", "32s", "64s", "128s", "256s", "5m", "5m"}) {
    said = schedule.finished(bad, t0 + 3s);
    EXPECT_EQ(said[0].text,
              std::string("fake: signature verification failed; next full download in ") + wait);
  }
  // Another signature starts afresh.
  bad.signature_text = "signature B";
  said = schedule.finished(bad, t0 + 4s);
  EXPECT_EQ(said[0].text, "fake: signature verification failed; next full download in 1s");
  CheckOutcome good = outcome(Kind::kStaged, "verified");
  good.signature_text = "signature C";
  schedule.finished(good, t0 + 5s);
  ASSERT_TRUE(schedule.take_due(t0 + 15s));
  CheckRequest fresh = *schedule.start("v1", t0 + 15s, none);
  EXPECT_EQ(fresh.failed_signature, "");
  EXPECT_FALSE(fresh.retry);
}

TEST_F(CheckScheduleTest, WithoutATrustedFloorNoCheckRunsAndTheCauseIsSaidOnce) {
  schedule.set_floor(std::nullopt, "state: high-water: damaged; no downgrade floor can be trusted");
  std::vector<CheckSchedule::Line> said;
  ASSERT_TRUE(schedule.take_due(t0));
  EXPECT_FALSE(schedule.start("v1", t0, said).has_value());
  ASSERT_EQ(said.size(), 1u);
  EXPECT_EQ(said[0].level, Level::kError);
  EXPECT_EQ(schedule.next_due(), t0 + 10s);
  said.clear();
  ASSERT_TRUE(schedule.take_due(t0 + 10s));
  EXPECT_FALSE(schedule.start("v1", t0 + 10s, said).has_value());
  EXPECT_EQ(said[0].level, Level::kDebug);
}

}  // namespace
}  // namespace molt::internal
