#include "master/check.hpp"

#include <charconv>
#include <ctime>
#include <molt/build_id.hpp>

#include "master/cohort.hpp"
#include "master/staged_file.hpp"
#include "util/build_id.hpp"
#include "util/framing.hpp"
#include "util/mapped_file.hpp"
#include "util/memory_sink.hpp"
#include "util/patch.hpp"
#include "util/time_text.hpp"

namespace molt::internal {
namespace {

using Kind = CheckOutcome::Kind;
using Status = FetchResult::Status;

constexpr std::size_t kMaxSignatureSize = 64 * 1024;

std::string utc(std::int64_t unix_time) { return time_text(unix_time, Zone::kUtc); }

// Why a build is not wanted (it runs already, or it failed before), or "" if it is. Asked of the
// signed comment's build_id before the download, and of the file's own after it.
std::string not_wanted(const std::string& build_id, const CheckRequest& request) {
  if (build_id.empty()) return {};
  if (build_id == request.running_build_id) {
    return "build " + build_id + " is already running; nothing to do";
  }
  if (request.bad_build_ids.contains(build_id)) {
    return "build " + build_id + " failed before; not retried";
  }
  return {};
}

// Why this host does not take `build_id` at this rollout, or "" if it does (master/cohort.hpp).
std::string outside_rollout(int rollout, const std::string& build_id, const CheckRequest& request,
                            CheckOutcome& result) {
  if (rollout >= kWholeFleet) return {};
  result.rollout = rollout;
  std::string share = "build " + build_id + " is rolled out to " + hundredths_text(rollout) + "%";
  if (request.host_id.empty()) {
    return share +
           " of hosts, and this host has no id to draw its cohort from (no "
           "/etc/machine-id: give --host-id); not taken";
  }
  result.cohort = cohort_of(request.host_id, build_id);
  if (*result.cohort < rollout) return {};
  if (rollout == 0) return share + ": its rollout is halted; not taken";
  return share + " of hosts and this host's cohort is " + hundredths_text(*result.cohort) +
         ": not taken until the rollout widens";
}

std::string verify_staged(const sig::PublicKey& key, const sig::Signature& signature,
                          const StagedFile& staged) {
  return signature.prehashed ? sig::verify_digest(key, signature, staged.digest())
                             : sig::verify_file(key, signature, staged.path());
}

// The new build rebuilt from <bin> and the source's patch from the running build, verified
// against the artifact's signature; null when there is no patch or it did not give the signed
// file (`why_not` then says why, for the log).
std::unique_ptr<StagedFile> staged_from_patch(Fetcher& fetcher, const CheckRequest& request,
                                              const sig::PublicKey& key,
                                              const sig::Signature& signature, Sys& sys,
                                              CheckOutcome& result, std::string& why_not) {
  const std::string name = patch_name(request.running_build_id);
  MemorySink patch(request.max_size, "patch");
  FetchResult got = fetcher.fetch_patch(name, patch);
  if (got.status == Status::kMissing) return nullptr;
  const std::string what = "the patch from build " + request.running_build_id;
  if (got.status != Status::kChanged) {
    why_not = what + ": " + (got.error.empty() ? "not read" : got.error) +
              "; the whole artifact is downloaded instead";
    return nullptr;
  }
  result.downloaded = true;
  result.downloaded_bytes = patch.bytes().size();
  std::string error;
  std::optional<MappedFile> old = MappedFile::open(request.bin_path, error);
  auto staged =
      std::make_unique<StagedFile>(sys, request.bin_path, request.max_size, request.bulk_nice);
  if (!old || !staged->open() || !apply_patch(old->bytes(), patch.bytes(), *staged, error) ||
      !staged->finish()) {
    why_not = what + ": " + (!error.empty() ? error : staged->error()) +
              "; the whole artifact is downloaded instead";
    return nullptr;
  }
  if (std::string bad = verify_staged(key, signature, *staged); !bad.empty()) {
    why_not = what + " rebuilt a file that does not match the signature (" + bad +
              "); the whole artifact is downloaded instead";
    return nullptr;
  }
  return staged;
}

// Accumulates the outcome; each step returns early through one of these.
struct Outcome {
  CheckOutcome result;
  std::string note;  // said after the message: why a patch was not used
  CheckOutcome done(Kind kind, std::string message = {}) {
    result.kind = kind;
    result.message = std::move(message);
    if (!note.empty()) result.message += (result.message.empty() ? "" : "; ") + note;
    return result;
  }
};

}  // namespace

CheckOutcome run_check(Fetcher& fetcher, const CheckRequest& request, Sys& sys) {
  Outcome out;
  out.result.signature = request.signature_seen;
  out.result.artifact = request.artifact_seen;
  const std::string source = fetcher.describe();
  const bool verify = !request.keys.empty();

  std::optional<sig::Signature> signature;
  const sig::PublicKey* key = nullptr;  // the pinned key the signature names
  sig::TrustedComment comment;
  std::optional<int> rollout;
  bool early = false;
  Validator artifact_since = request.artifact_seen;
  if (verify) {
    MemorySink sink(kMaxSignatureSize, "signature");
    // After a failure the artifact may have changed under an unchanged signature: read both.
    FetchResult polled = fetcher.poll(request.retry ? Validator{} : request.signature_seen, sink);
    if (polled.status == Status::kNotModified) return out.done(Kind::kNothing);
    if (polled.status == Status::kMissing) {
      return out.done(Kind::kNothing, source +
                                          ".minisig: no signature yet; nothing unsigned is "
                                          "installed");
    }
    if (polled.status == Status::kFailed) return out.done(Kind::kFailed, polled.error);
    bool same_signature = polled.validator == request.signature_seen;
    out.result.signature = polled.validator;
    if (!request.retry || !same_signature) artifact_since = {};
    std::string error;
    signature = sig::parse_signature(sink.bytes(), error);
    if (!signature) return out.done(Kind::kFailed, source + ".minisig: " + error);
    // A signature by a key we do not pin can never verify, whatever the artifact: refuse it
    // before any download, and look again only when the signature changes.
    key = sig::find_key(request.keys, *signature, error);
    if (!key) return out.done(Kind::kRefused, source + ".minisig: " + error);
    // Nothing in the comment counts before its own signature checks: a forged comment could
    // otherwise trigger a download or a decision ("already running", "downgrade").
    if (std::string bad = sig::verify_comment(*key, *signature); !bad.empty()) {
      return out.done(Kind::kRefused, source + ".minisig: refused: " + bad);
    }
    comment = sig::parse_trusted_comment(signature->trusted_comment);
    if (!comment.timestamp && !request.allow_downgrade) {
      return out.done(Kind::kRefused,
                      source +
                          ".minisig: refused: its trusted comment has no timestamp, so it could "
                          "be replayed for ever (molt sign and minisign -S write one; "
                          "--allow-downgrade accepts such signatures)");
    }
    out.result.signature_text = sink.bytes();
    if (sink.bytes() == request.failed_signature) {
      if (!request.failed_signature_waits) {
        artifact_since = {};  // the last read of it may have been torn: read it whole again
      } else if (request.early_retry) {
        artifact_since = request.failed_artifact;  // only if it changed since
        early = true;
      } else {
        return out.done(Kind::kNothing);
      }
    }
    out.result.build_id = comment.build_id;
    out.result.timestamp = comment.timestamp;
    if (std::string skip = not_wanted(comment.build_id, request); !skip.empty()) {
      return out.done(Kind::kSkipped, source + ": " + skip);
    }
    std::string bad_rollout;
    rollout = rollout_of(signature->trusted_comment, bad_rollout);
    if (!rollout) return out.done(Kind::kRefused, source + ".minisig: refused: " + bad_rollout);
    // Decided before the download when the comment names the build, as molt sign's does.
    if (!comment.build_id.empty()) {
      std::string outside = outside_rollout(*rollout, comment.build_id, request, out.result);
      if (!outside.empty()) return out.done(Kind::kSkipped, source + ": " + outside);
    }
    if (comment.timestamp && request.high_water && *comment.timestamp < *request.high_water &&
        !request.allow_downgrade) {
      return out.done(Kind::kRefused,
                      source + ": refused as a downgrade: signed at " + utc(*comment.timestamp) +
                          ", older than the running build signed at " + utc(*request.high_water));
    }
  }

  // A deploy that puts the signature in place before the artifact: the verified comment names
  // a build that is not running, while the artifact is still the one downloaded last (the
  // running build's, as its validator says). Downloading it would only fail to verify the old
  // bytes and say so as an error; the artifact's own change brings the next check (inotify, or
  // the next poll, which reads both again). Only where a validator tells every change.
  const bool signature_may_lead =
      verify && fetcher.exact_validators() && !comment.build_id.empty() &&
      !request.artifact_seen.empty() &&
      (artifact_since.empty() || artifact_since == request.artifact_seen);
  if (signature_may_lead) artifact_since = request.artifact_seen;

  // A delta update first, when the source has a patch from the running build: rebuilt from
  // <bin> and verified like a download. Any failure falls back to the whole artifact.
  std::unique_ptr<StagedFile> patched;
  if (verify && !request.running_build_id.empty()) {
    patched = staged_from_patch(fetcher, request, *key, *signature, sys, out.result, out.note);
  }
  const bool from_patch = patched != nullptr;
  std::unique_ptr<StagedFile> owned =
      from_patch ? std::move(patched)
                 : std::make_unique<StagedFile>(sys, request.bin_path, request.max_size,
                                                request.bulk_nice);
  StagedFile& staged = *owned;
  if (!from_patch) {
    if (!staged.open()) return out.done(Kind::kFailed, source + ": " + staged.error());
    FetchResult fetched = fetcher.download(artifact_since, staged);
    out.result.downloaded = staged.size() > 0 || fetched.status == Status::kChanged;
    out.result.downloaded_bytes = staged.size();
    if (fetched.status == Status::kNotModified && signature_may_lead) {
      out.result.retry = true;
      return out.done(Kind::kNothing, source + ": the signature names build " + comment.build_id +
                                          ", the artifact is still the one downloaded last; "
                                          "waiting for it to change");
    }
    if (fetched.status == Status::kNotModified) return out.done(Kind::kNothing);
    out.result.used_early_retry = early;
    if (fetched.status == Status::kMissing) {
      if (!verify) return out.done(Kind::kNothing);
      out.result.retry = true;
      return out.done(Kind::kNothing, source + ": signature present, waiting for the artifact");
    }
    if (fetched.status == Status::kFailed) return out.done(Kind::kFailed, fetched.error);
    out.result.artifact = fetched.validator;
    if (!staged.finish()) return out.done(Kind::kFailed, source + ": " + staged.error());
    if (verify) {
      std::string error = verify_staged(*key, *signature, staged);
      if (!error.empty()) {
        out.result.verify_failed = true;
        return out.done(Kind::kFailed, source + ": " + error);
      }
    }
  }

  // Any file has a BuildID (a script's is its hash), but a program that runs as an ELF binary
  // is not replaced by something else: most likely a wrong upload.
  if (is_elf_file(request.bin_path) && !is_elf_file(staged.path())) {
    return out.done(Kind::kRefused,
                    source + ": refused: not an ELF executable, as the running build is");
  }
  std::string cause;
  std::optional<std::string> build_id = build_id_or_cause(staged.path(), cause);
  if (!build_id) return out.done(Kind::kRefused, source + ": refused: " + cause);
  out.result.build_id = *build_id;
  if (std::string skip = not_wanted(*build_id, request); !skip.empty()) {
    return out.done(Kind::kSkipped, source + ": " + skip);
  }
  if (verify && !comment.build_id.empty() && comment.build_id != *build_id) {
    return out.done(Kind::kRefused, source + ": refused: signed for build " + comment.build_id +
                                        " but the file is build " + *build_id);
  }
  if (rollout && comment.build_id.empty()) {
    std::string outside = outside_rollout(*rollout, *build_id, request, out.result);
    if (!outside.empty()) return out.done(Kind::kSkipped, source + ": " + outside);
  }
  if (request.pre_upgrade) {
    if (std::string refusal = request.pre_upgrade(staged.path(), *build_id); !refusal.empty()) {
      // Not remembered as seen: the next check downloads it again and asks again.
      out.result.artifact = {};
      return out.done(Kind::kFailed,
                      source + ": build " + *build_id + " refused by pre_upgrade: " + refusal);
    }
  }
  staged.release();
  out.result.staged_path = staged.path();
  std::string how = from_patch ? " (rebuilt from a " + std::to_string(out.result.downloaded_bytes) +
                                     "-byte patch from build " + request.running_build_id + ")"
                               : "";
  return out.done(Kind::kStaged, source + ": verified build " + *build_id + how + "; starting it");
}

std::string encode_outcome(const CheckOutcome& o) {
  std::string out;
  put_field(out, std::to_string(static_cast<int>(o.kind)));
  put_field(out, o.message);
  put_field(out, o.signature.etag);
  put_field(out, o.signature.last_modified);
  put_field(out, o.artifact.etag);
  put_field(out, o.artifact.last_modified);
  put_field(out, o.build_id);
  put_field(out, o.timestamp ? std::to_string(*o.timestamp) : "");
  put_field(out, o.staged_path);
  put_field(out, o.retry ? "1" : "0");
  put_field(out, o.downloaded ? "1" : "0");
  put_field(out, std::to_string(o.downloaded_bytes));
  put_field(out, o.signature_text);
  put_field(out, o.verify_failed ? "1" : "0");
  put_field(out, o.used_early_retry ? "1" : "0");
  put_field(out, o.rollout ? std::to_string(*o.rollout) : "");
  put_field(out, o.cohort ? std::to_string(*o.cohort) : "");
  return out;
}

std::optional<CheckOutcome> decode_outcome(const std::string& bytes) {
  std::string_view in = bytes;
  std::string kind, timestamp, retry, downloaded, byte_count, verify_failed, early, rollout, cohort;
  CheckOutcome o;
  if (!take_field(in, kind) || !take_field(in, o.message) || !take_field(in, o.signature.etag) ||
      !take_field(in, o.signature.last_modified) || !take_field(in, o.artifact.etag) ||
      !take_field(in, o.artifact.last_modified) || !take_field(in, o.build_id) ||
      !take_field(in, timestamp) || !take_field(in, o.staged_path) || !take_field(in, retry) ||
      !take_field(in, downloaded) || !take_field(in, byte_count) ||
      !take_field(in, o.signature_text) || !take_field(in, verify_failed) ||
      !take_field(in, early) || !take_field(in, rollout) || !take_field(in, cohort) ||
      kind.size() != 1 || kind[0] < '0' || kind[0] > '4') {
    return std::nullopt;
  }
  auto hundredths = [](const std::string& text, std::optional<int>& into) {
    if (text.empty()) return true;
    int value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value < 0 || value > kWholeFleet) {
      return false;
    }
    into = value;
    return true;
  };
  if (!hundredths(rollout, o.rollout) || !hundredths(cohort, o.cohort)) return std::nullopt;
  o.kind = static_cast<Kind>(kind[0] - '0');
  if (!timestamp.empty()) o.timestamp = std::stoll(timestamp);
  o.retry = retry == "1";
  o.downloaded = downloaded == "1";
  if (std::from_chars(byte_count.data(), byte_count.data() + byte_count.size(), o.downloaded_bytes)
          .ec != std::errc()) {
    return std::nullopt;
  }
  o.verify_failed = verify_failed == "1";
  o.used_early_retry = early == "1";
  return o;
}

std::string encode_changes(const CheckRequest& r) {
  std::string out;
  put_field(out, r.running_build_id);
  put_field(out, std::to_string(r.bad_build_ids.size()));
  for (const std::string& id : r.bad_build_ids) put_field(out, id);
  put_field(out, r.signature_seen.etag);
  put_field(out, r.signature_seen.last_modified);
  put_field(out, r.artifact_seen.etag);
  put_field(out, r.artifact_seen.last_modified);
  put_field(out, r.retry ? "1" : "0");
  put_field(out, r.high_water ? std::to_string(*r.high_water) : "");
  put_field(out, r.failed_signature);
  put_field(out, r.failed_signature_waits ? "1" : "0");
  put_field(out, r.failed_artifact.etag);
  put_field(out, r.failed_artifact.last_modified);
  put_field(out, r.early_retry ? "1" : "0");
  return out;
}

bool decode_changes(const std::string& bytes, CheckRequest& into) {
  std::string_view in = bytes;
  CheckRequest r = into;
  std::string count, retry, high_water, waits, early;
  std::size_t n = 0;
  if (!take_field(in, r.running_build_id) || !take_field(in, count) ||
      std::from_chars(count.data(), count.data() + count.size(), n).ec != std::errc()) {
    return false;
  }
  r.bad_build_ids.clear();
  for (std::size_t i = 0; i < n; ++i) {
    std::string id;
    if (!take_field(in, id)) return false;
    r.bad_build_ids.insert(std::move(id));
  }
  if (!take_field(in, r.signature_seen.etag) || !take_field(in, r.signature_seen.last_modified) ||
      !take_field(in, r.artifact_seen.etag) || !take_field(in, r.artifact_seen.last_modified) ||
      !take_field(in, retry) || !take_field(in, high_water) ||
      !take_field(in, r.failed_signature) || !take_field(in, waits) ||
      !take_field(in, r.failed_artifact.etag) || !take_field(in, r.failed_artifact.last_modified) ||
      !take_field(in, early)) {
    return false;
  }
  r.failed_signature_waits = waits == "1";
  r.early_retry = early == "1";
  r.retry = retry == "1";
  r.high_water.reset();
  if (!high_water.empty()) r.high_water = std::stoll(high_water);
  into = std::move(r);
  return true;
}

}  // namespace molt::internal
