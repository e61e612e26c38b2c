// One check of the source: the upgrade pipeline up to a verified build in a staged file.
//
//   poll the signature (conditional) -> skip by its build_id / refuse a downgrade -> download
//   the artifact into a temp file beside the binary, hashing it as it is written -> verify ->
//   read its BuildID -> skip a running or bad build -> ask Config::pre_upgrade -> leave it staged.
//
// The master then starts the new child from the staged file itself, and installs the file as
// <bin> only once that child is ready: the child's own start is the proof that the build runs
// on this machine, done once instead of a separate probe run followed by the same exec again.
//
// It runs in the check helper (check_helper.hpp), so the master never blocks on the network or
// a disk and keeps none of what a transfer allocates.
#pragma once

#include <cstdint>
#include <functional>
#include <molt/fetcher.hpp>
#include <molt/signature.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "util/sys.hpp"

namespace molt::internal {

struct CheckRequest {
  std::string bin_path;
  std::string running_build_id;
  std::set<std::string> bad_build_ids;
  Validator signature_seen;  // the signature judged last time
  Validator artifact_seen;   // the artifact judged last time
  bool retry = false;        // the last check failed for a reason a changed object may fix
  std::optional<std::int64_t> high_water;  // signing time of the running build
  // After an artifact failed to verify under this signature (its text): the next tries download
  // it whole, never trusting the validator of what may have been a torn read...
  std::string failed_signature;
  // ...but not before the master's backoff says so; meanwhile the artifact is downloaded only
  // if it changed since that read (`failed_artifact`), and only once (`early_retry`): a deploy
  // that put the signature first is then picked up at once, a server that keeps changing a
  // broken artifact still waits for the backoff.
  bool failed_signature_waits = false;
  Validator failed_artifact;
  bool early_retry = false;
  std::vector<sig::PublicKey> keys;  // empty: unsigned artifacts are accepted
  bool allow_downgrade = false;
  std::uint64_t max_size = 1ull << 30;
  // Config::pre_upgrade: a non-empty answer refuses the verified build.
  std::function<std::string(const std::string&, const std::string&)> pre_upgrade;
  std::string host_id;  // draws this host's cohort in staged rollouts (master/cohort.hpp)
  // The check helper's nice value per phase: a check runs at `check_nice` (the start boost's,
  // so a build is verified as promptly as it then starts; unset: the helper's own), the bulk of
  // a large transfer at `bulk_nice` (StagedFile).
  std::optional<int> check_nice;
  std::optional<int> bulk_nice;
};

struct CheckOutcome {
  enum class Kind {
    kNothing,  // nothing new (or not complete yet)
    kSkipped,  // a complete build we do not want (running already, or known bad)
    kRefused,  // a complete artifact that fails a check; not retried until it changes
    kFailed,   // could not finish (network, disk, a signature that does not match yet)
    kStaged,   // a verified new build waits at staged_path for the master to start it
  };
  Kind kind = Kind::kNothing;
  std::string message;
  Validator signature;
  Validator artifact;
  std::string build_id;
  std::optional<std::int64_t> timestamp;
  std::string staged_path;
  std::string signature_text;     // the .minisig, verified: kept beside <bin> once installed
  bool verify_failed = false;     // the artifact did not match its (verified) signature
  bool used_early_retry = false;  // the artifact had changed and was downloaded before its time
  bool retry = false;       // incomplete (one half of a pair is missing): look at both next time
  bool downloaded = false;  // the artifact was transferred (the helper then exits)
  std::uint64_t downloaded_bytes = 0;  // the artifact's bytes written to the staged file
  // The signature's "rollout:" and this host's cohort for its build, in hundredths of a
  // percent (master/cohort.hpp): set when the signature names a rollout below the whole fleet.
  std::optional<int> rollout;
  std::optional<int> cohort;
};

CheckOutcome run_check(Fetcher& fetcher, const CheckRequest& request, Sys& sys);

std::string encode_outcome(const CheckOutcome& outcome);
std::optional<CheckOutcome> decode_outcome(const std::string& bytes);

// What changes from one check to the next (the running build, bad builds, what was seen last,
// the high-water mark); the rest of a request is fixed for the master's life and reaches the
// check helper when it is forked.
std::string encode_changes(const CheckRequest& request);
bool decode_changes(const std::string& bytes, CheckRequest& into);

}  // namespace molt::internal
