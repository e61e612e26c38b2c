// run_check, one check of a source, as a table: what the source holds and what the master knows
// in, the outcome out. A fake Fetcher stands for the source (the fetchers have tests of their
// own); signatures are real, made with a key generated here; the disk is real, or fails where
// FaultySys says.
#include "master/check.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <functional>
#include <molt/build_id.hpp>
#include <molt/signature.hpp>
#include <optional>

#include "faulty_sys.hpp"
#include "master/cohort.hpp"
#include "temp_files.hpp"

namespace molt::internal {
namespace {

namespace fs = std::filesystem;
using Kind = CheckOutcome::Kind;
using Status = FetchResult::Status;

// Two objects, each present or not, with a validator that says whether it changed.
class FakeSource final : public Fetcher {
 public:
  std::optional<std::string> signature;
  std::optional<std::string> artifact;
  Validator signature_validator{.etag = "sig-1"};
  Validator artifact_validator{.etag = "art-1"};
  bool exact = false;  // exact_validators()
  int downloads = 0;

  std::string describe() const override { return "fake:app"; }
  bool exact_validators() const override { return exact; }
  FetchResult poll(const Validator& since, Sink& sink) override {
    return send(signature, signature_validator, since, sink);
  }
  FetchResult download(const Validator& since, Sink& sink) override {
    ++downloads;
    return send(artifact, artifact_validator, since, sink);
  }

 private:
  static FetchResult send(const std::optional<std::string>& object, const Validator& validator,
                          const Validator& since, Sink& sink) {
    if (!object) return {.status = Status::kMissing};
    if (!since.empty() && since == validator) return {.status = Status::kNotModified};
    if (!sink.write(object->data(), object->size())) {
      return {.status = Status::kFailed, .error = "fake:app: " + sink.error()};
    }
    return {.status = Status::kChanged, .validator = validator};
  }
};

using test::read_file;

// A binary that runs, a new signed build at the source, and the request a master would make.
struct Scene {
  Scene() {
    bin_ = (dir_.path() / "app").string();
    fs::copy_file("/bin/true", bin_);
    // The artifact: another ELF than the running one, so it has a BuildID of its own.
    artifact_path_ = (dir_.path() / "artifact").string();
    fs::copy_file("/bin/false", artifact_path_);
    std::string error;
    artifact_id_ = read_build_id(artifact_path_, error).value();
    key_ = sig::generate_key_pair();
    request_.bin_path = bin_;
    request_.running_build_id = read_build_id(bin_, error).value();
    request_.keys = {key_.public_key};
    request_.host_id = "host-7";
    source_.artifact = read_file(artifact_path_);
    source_.signature = sign("timestamp:1000\tfile:app\tbuild_id:" + artifact_id_);
  }

  std::string sign(const std::string& trusted_comment, const sig::KeyPair* key = nullptr) {
    std::string error;
    std::string text = sig::sign_file((key ? *key : key_).secret_key, artifact_path_,
                                      trusted_comment, "test", error);
    EXPECT_EQ(error, "");
    return text;
  }

  CheckOutcome check(Sys& sys = real_sys()) { return run_check(source_, request_, sys); }

  // This host's cohort for the artifact, and a signature rolling it out to `hundredths`.
  int cohort() const { return cohort_of(request_.host_id, artifact_id_); }
  std::string sign_rollout(int hundredths) {
    return sign("timestamp:1000\tfile:app\tbuild_id:" + artifact_id_ +
                "\trollout:" + hundredths_text(hundredths));
  }

  // What a check must never leave: a temp file beside the binary, or another binary.
  void expect_nothing_left_but_the_binary() {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir_.path())) {
      names.push_back(entry.path().filename());
    }
    std::sort(names.begin(), names.end());
    EXPECT_EQ(names, (std::vector<std::string>{"app", "artifact"}));
    EXPECT_EQ(read_file(bin_), read_file("/bin/true"));
  }

  test::TempDir dir_;
  std::string bin_, artifact_path_, artifact_id_;
  sig::KeyPair key_;
  FakeSource source_;
  CheckRequest request_;
};

class CheckTest : public ::testing::Test, public Scene {};

// Each row: what differs from a good, new, signed build at the source, and what must come out.
struct Row {
  const char* name;
  std::function<void(Scene&, FakeSource&, CheckRequest&)> arrange;
  Kind kind;
  const char* message;  // a part of the outcome's message
  bool downloads;       // whether the artifact was fetched at all
};

TEST_F(CheckTest, Table) {
  sig::KeyPair stranger = sig::generate_key_pair();
  std::vector<Row> rows = {
      {"no signature yet", [](auto&, auto& s, auto&) { s.signature.reset(); }, Kind::kNothing,
       ".minisig: no signature yet", false},
      {"the signature judged last time",
       [](auto&, auto& s, auto& r) { r.signature_seen = s.signature_validator; }, Kind::kNothing,
       "", false},
      {"a key that is not pinned",
       [&](auto& t, auto& s, auto&) { s.signature = t.sign("timestamp:1000", &stranger); },
       Kind::kRefused, ".minisig: ", false},
      {"a forged trusted comment",
       [](auto&, auto& s, auto&) {
         std::size_t at = s.signature->find("timestamp:1000");
         s.signature->replace(at, 14, "timestamp:9999");
       },
       Kind::kRefused, ".minisig: refused: ", false},
      {"no timestamp", [](auto& t, auto& s, auto&) { s.signature = t.sign("file:app"); },
       Kind::kRefused, "no timestamp", false},
      {"the build that runs", [](auto& t, auto&, auto& r) { r.running_build_id = t.artifact_id_; },
       Kind::kSkipped, "is already running; nothing to do", false},
      {"a build that failed before",
       [](auto& t, auto&, auto& r) { r.bad_build_ids = {t.artifact_id_}; }, Kind::kSkipped,
       "failed before; not retried", false},
      {"a downgrade", [](auto&, auto&, auto& r) { r.high_water = 2000; }, Kind::kRefused,
       "refused as a downgrade", false},
      {"a downgrade allowed",
       [](auto&, auto&, auto& r) {
         r.high_water = 2000;
         r.allow_downgrade = true;
       },
       Kind::kStaged, "verified build", true},
      {"the artifact not there yet", [](auto&, auto& s, auto&) { s.artifact.reset(); },
       Kind::kNothing, "signature present, waiting for the artifact", true},
      {"an artifact that does not match", [](auto&, auto& s, auto&) { (*s.artifact)[100] ^= 1; },
       Kind::kFailed, "", true},
      {"signed for another build",
       [](auto& t, auto& s, auto&) { s.signature = t.sign("timestamp:1000\tbuild_id:other"); },
       Kind::kRefused, "refused: signed for build other but the file is build", true},
      {"larger than max_size", [](auto&, auto&, auto& r) { r.max_size = 1000; }, Kind::kFailed, "",
       true},
      {"refused by pre_upgrade",
       [](auto&, auto&, auto& r) {
         r.pre_upgrade = [](const std::string&, const std::string&) { return "not now"; };
       },
       Kind::kFailed, "refused by pre_upgrade: not now", true},
      {"outside a staged rollout",
       [](auto& t, auto& s, auto&) { s.signature = t.sign_rollout(t.cohort()); }, Kind::kSkipped,
       "not taken until the rollout widens", false},
      {"inside a staged rollout",
       [](auto& t, auto& s, auto&) { s.signature = t.sign_rollout(t.cohort() + 1); }, Kind::kStaged,
       "verified build", true},
      {"a halted rollout", [](auto& t, auto& s, auto&) { s.signature = t.sign_rollout(0); },
       Kind::kSkipped, "its rollout is halted; not taken", false},
      {"a rollout and no host id",
       [](auto& t, auto& s, auto& r) {
         s.signature = t.sign_rollout(kWholeFleet - 1);
         r.host_id.clear();
       },
       Kind::kSkipped, "no id to draw its cohort from", false},
      {"a rollout that is not a percentage",
       [](auto& t, auto& s, auto&) {
         s.signature = t.sign("timestamp:1000\tbuild_id:" + t.artifact_id_ + "\trollout:150");
       },
       Kind::kRefused, "rollout:150 is not a percentage", false},
      {"a rollout whose build is known only once downloaded",
       [](auto& t, auto& s, auto&) { s.signature = t.sign("timestamp:1000\trollout:0"); },
       Kind::kSkipped, "its rollout is halted", true},
      {"a good new build", [](auto&, auto&, auto&) {}, Kind::kStaged, "verified build", true},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    Scene fresh;
    row.arrange(fresh, fresh.source_, fresh.request_);
    CheckOutcome outcome = fresh.check();
    EXPECT_EQ(outcome.kind, row.kind) << outcome.message;
    EXPECT_NE(outcome.message.find(row.message), std::string::npos) << outcome.message;
    EXPECT_EQ(fresh.source_.downloads > 0, row.downloads);
    if (outcome.kind == Kind::kStaged) {
      EXPECT_EQ(outcome.build_id, fresh.artifact_id_);
      EXPECT_EQ(read_file(outcome.staged_path), *fresh.source_.artifact);
      EXPECT_TRUE(fs::status(outcome.staged_path).permissions() == fs::perms(0755));
      EXPECT_EQ(outcome.timestamp, 1000);
      EXPECT_EQ(outcome.signature_text, *fresh.source_.signature);
      fs::remove(outcome.staged_path);
    }
    fresh.expect_nothing_left_but_the_binary();
  }
}

// A deploy that renames the new signature in before the new artifact: the first check sees the
// signature of a build that is not running beside the artifact downloaded last.
TEST_F(CheckTest, ASignatureAheadOfItsArtifactWaitsForItWithoutAnError) {
  source_.exact = true;
  request_.artifact_seen = source_.artifact_validator;  // the running build's, unchanged
  const std::string old_artifact = *source_.artifact;
  CheckOutcome waiting = check();
  EXPECT_EQ(waiting.kind, Kind::kNothing) << waiting.message;
  EXPECT_NE(waiting.message.find("the signature names build " + artifact_id_ +
                                 ", the artifact is still the one downloaded last"),
            std::string::npos)
      << waiting.message;
  EXPECT_FALSE(waiting.verify_failed);
  EXPECT_FALSE(waiting.downloaded);
  EXPECT_TRUE(waiting.retry);  // the next check reads both again
  expect_nothing_left_but_the_binary();

  // Still the old artifact at the next look: still waiting, still no download.
  request_.retry = waiting.retry;
  request_.signature_seen = waiting.signature;
  request_.artifact_seen = waiting.artifact;
  CheckOutcome again = check();
  EXPECT_EQ(again.kind, Kind::kNothing) << again.message;
  EXPECT_TRUE(again.retry);

  // The artifact lands: the check it brings verifies it.
  source_.artifact_validator = {.etag = "art-2"};
  request_.retry = again.retry;
  CheckOutcome staged = check();
  ASSERT_EQ(staged.kind, Kind::kStaged) << staged.message;
  EXPECT_EQ(read_file(staged.staged_path), old_artifact);  // (the fake's bytes never changed)
  fs::remove(staged.staged_path);
}

TEST_F(CheckTest, WithoutExactValidatorsANewSignatureAlwaysDownloads) {
  request_.artifact_seen = source_.artifact_validator;  // same validator, maybe other bytes
  CheckOutcome outcome = check();
  EXPECT_EQ(outcome.kind, Kind::kStaged) << outcome.message;
  EXPECT_TRUE(outcome.downloaded);
  fs::remove(outcome.staged_path);
}

TEST_F(CheckTest, AnArtifactThatFailsToVerifyIsSaidSoForTheMastersBackoff) {
  (*source_.artifact)[100] ^= 1;
  CheckOutcome outcome = check();
  EXPECT_TRUE(outcome.verify_failed);
  EXPECT_EQ(outcome.signature_text, *source_.signature);
}

TEST_F(CheckTest, ARefusedBuildIsNotRememberedAsSeenSoTheNextCheckDownloadsItAgain) {
  request_.pre_upgrade = [](const std::string&, const std::string&) { return "not now"; };
  CheckOutcome outcome = check();
  ASSERT_EQ(outcome.kind, Kind::kFailed);
  EXPECT_TRUE(outcome.artifact.empty());
  EXPECT_EQ(outcome.signature, source_.signature_validator);
}

TEST_F(CheckTest, ThePreUpgradeHookSeesTheVerifiedStagedFileAndItsBuildId) {
  std::string seen_path, seen_id, seen_bytes;
  request_.pre_upgrade = [&](const std::string& path, const std::string& id) {
    seen_path = path;
    seen_id = id;
    seen_bytes = read_file(path);
    return std::string();
  };
  CheckOutcome outcome = check();
  ASSERT_EQ(outcome.kind, Kind::kStaged) << outcome.message;
  EXPECT_EQ(seen_path, outcome.staged_path);
  EXPECT_EQ(seen_id, artifact_id_);
  EXPECT_EQ(seen_bytes, *source_.artifact);
  fs::remove(outcome.staged_path);
}

TEST_F(CheckTest, EverySyscallThatFailsWhileStagingLeavesNothingAndSaysWhy) {
  FaultySys counting(0);
  CheckOutcome good = check(counting);
  ASSERT_EQ(good.kind, Kind::kStaged) << good.message;
  fs::remove(good.staged_path);
  for (int n = 1; n <= counting.calls(); ++n) {
    FaultySys faulty(n, ENOSPC);
    CheckOutcome outcome = check(faulty);
    SCOPED_TRACE("call " + std::to_string(n) + ": " + faulty.failed_call());
    if (outcome.kind == Kind::kStaged) {
      // A failed close or unlink of something already done may not matter; the file must.
      EXPECT_EQ(read_file(outcome.staged_path), *source_.artifact);
      fs::remove(outcome.staged_path);
    } else {
      EXPECT_EQ(outcome.kind, Kind::kFailed);
      EXPECT_NE(outcome.message.find("fake:app: "), std::string::npos) << outcome.message;
    }
    expect_nothing_left_but_the_binary();
  }
}

}  // namespace
}  // namespace molt::internal
