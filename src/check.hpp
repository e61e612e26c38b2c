// One check of the source: the upgrade pipeline up to and including the swap.
//
//   poll the signature (conditional) -> skip by its build_id / refuse a downgrade -> download
//   the artifact into a temp file beside the binary, hashing it as it is written -> verify ->
//   read its BuildID -> skip a running or bad build -> probe it -> install it atomically.
//
// It runs in a helper process the master forks, so the master never blocks on the network or a
// disk and keeps none of what a transfer allocates. The outcome goes back over a pipe.
#pragma once

#include <chrono>
#include <cstdint>
#include <molt/fetcher.hpp>
#include <molt/signature.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "sys.hpp"

namespace molt {

struct CheckRequest {
  std::string bin_path;
  std::string running_build_id;
  std::set<std::string> bad_build_ids;
  Validator signature_seen;  // the signature judged last time
  Validator artifact_seen;   // the artifact judged last time
  bool retry = false;        // the last check failed for a reason a changed object may fix
  std::optional<std::int64_t> high_water;  // signing time of the running build
  std::vector<sig::PublicKey> keys;        // empty: unsigned artifacts are accepted
  bool allow_downgrade = false;
  std::uint64_t max_size = 1ull << 30;
  std::chrono::milliseconds probe_timeout{5'000};
  std::vector<std::string> argv;  // for the probe run
};

struct CheckOutcome {
  enum class Kind {
    kNothing,    // nothing new (or not complete yet)
    kSkipped,    // a complete build we do not want (running already, or known bad)
    kRefused,    // a complete artifact that fails a check; not retried until it changes
    kFailed,     // could not finish (network, disk, a signature that does not match yet)
    kInstalled,  // the new build is at bin_path, the old one at bin_path.prev
  };
  Kind kind = Kind::kNothing;
  std::string message;
  Validator signature;
  Validator artifact;
  std::string build_id;
  std::optional<std::int64_t> timestamp;
  bool bad = false;    // remember build_id as bad
  bool retry = false;  // incomplete (one half of a pair is missing): look at both next time
};

CheckOutcome run_check(Fetcher& fetcher, const CheckRequest& request, Sys& sys);

std::string encode(const CheckOutcome& outcome);
std::optional<CheckOutcome> decode(const std::string& bytes);

}  // namespace molt
