#include "master/state_file.hpp"

#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <sstream>

#include "master/swap.hpp"
#include "util/atomic_file.hpp"
#include "util/in_child.hpp"
#include "util/small_file.hpp"

namespace molt::internal {
namespace {

constexpr std::size_t kMaxStateFileSize = 64 * 1024;

std::string file_in(const std::string& state_dir) { return state_dir + "/high-water"; }

// The file's text, nullopt when it is absent (no error) or cannot be read (`error`).
std::optional<std::string> read_state(const std::string& path, std::string& error) {
  std::optional<std::string> text = read_small_file(path, kMaxStateFileSize, error);
  if (!text && errno == ENOENT) error.clear();
  return text;
}

// The master checks the signature beside <bin> (at start, and for every `molt status`) in a
// forked child (util/in_child.hpp): Ed25519 needs libcrypto, and a master that loaded it once
// would keep its 1.4 MiB of Rss and 400 KiB of relocated data while it sits (issue 13). The
// check helper and the molt command check signatures in processes of their own.
//
// verify_comment so, the last answer kept: the file rarely changes, and `molt status` asks every
// time. The answer is a function of the key and the signature file's bytes.
std::string verify_comment_in_child(const sig::PublicKey& key, const sig::Signature& signature,
                                    const std::string& text) {
  static std::string last_question, last_answer;
  std::string question = sig::format_public_key(key) + text;
  if (question == last_question) return last_answer;
  std::string error;
  std::optional<std::string> answer =
      run_in_child([&] { return sig::verify_comment(key, signature); }, error);
  if (!answer) return "cannot check the signature: " + error;  // not kept: the next may run
  last_question = std::move(question);
  last_answer = *answer;
  return last_answer;
}

}  // namespace

std::optional<std::int64_t> load_high_water(const std::string& state_dir, std::string& error) {
  const std::string path = file_in(state_dir);
  std::optional<std::string> text = read_state(path, error);
  if (!text) return std::nullopt;
  std::string_view digits = *text;
  if (digits.ends_with('\n')) digits.remove_suffix(1);
  std::int64_t timestamp = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), timestamp);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() ||
      timestamp < 0) {
    error = path + ": not a signing time (damaged?)";
    return std::nullopt;
  }
  return timestamp;
}

std::string save_high_water(Sys& sys, const std::string& state_dir, std::int64_t timestamp) {
  return write_file_atomically(sys, file_in(state_dir), std::to_string(timestamp) + "\n");
}

std::string finish_interrupted_install(const std::string& bin_path,
                                       const std::vector<sig::PublicKey>& keys) {
  const std::string pending = pending_signature_path(bin_path);
  std::string error;
  std::optional<std::string> text = read_state(pending, error);
  if (!text) return error;
  std::optional<sig::Signature> signature = sig::parse_signature(*text, error);
  const sig::PublicKey* key = signature ? sig::find_key(keys, *signature, error) : nullptr;
  if (key) {
    std::optional<std::string> bad =
        run_in_child([&] { return sig::verify_file(*key, *signature, bin_path); }, error);
    if (!bad) return "cannot check " + pending + " (kept for the next start): " + error;
    if (bad->empty() && ::rename(pending.c_str(), signature_path(bin_path).c_str()) == 0) {
      return "an interrupted install is complete: " + signature_path(bin_path) + " signs " +
             bin_path;
    }
  }
  ::unlink(pending.c_str());
  return "an interrupted install left " + pending + ", which does not sign " + bin_path +
         ": removed";
}

std::optional<InstalledSignature> installed_signature(const std::string& bin_path,
                                                      const std::vector<sig::PublicKey>& keys,
                                                      std::string& error) {
  const std::string path = signature_path(bin_path);
  std::optional<std::string> text = read_state(path, error);
  if (!text) return std::nullopt;
  std::optional<sig::Signature> signature = sig::parse_signature(*text, error);
  const sig::PublicKey* key = signature ? sig::find_key(keys, *signature, error) : nullptr;
  if (key) error = verify_comment_in_child(*key, *signature, *text);
  if (!key || !error.empty()) {
    error = path + ": " + error;
    return std::nullopt;
  }
  sig::TrustedComment comment = sig::parse_trusted_comment(signature->trusted_comment);
  if (!comment.timestamp) {
    error = path + ": its trusted comment has no timestamp";
    return std::nullopt;
  }
  return InstalledSignature{*comment.timestamp, sig::key_id_to_string(signature->key_id),
                            comment.build_id};
}

std::optional<std::int64_t> installed_signature_time(const std::string& bin_path,
                                                     const std::vector<sig::PublicKey>& keys,
                                                     std::string& error) {
  std::optional<InstalledSignature> installed = installed_signature(bin_path, keys, error);
  if (!installed) return std::nullopt;
  return installed->timestamp;
}

std::string save_probation(Sys& sys, const std::string& state_dir, const Probation& probation) {
  return write_file_atomically(
      sys, state_dir + "/probation",
      probation.build_id + " " + std::to_string(probation.until_ms) + "\n");
}

std::optional<Probation> load_probation(const std::string& state_dir) {
  std::string error;
  std::optional<std::string> text = read_state(state_dir + "/probation", error);
  if (!text) return std::nullopt;
  std::istringstream in(*text);
  Probation probation;
  if (!(in >> probation.build_id >> probation.until_ms)) return std::nullopt;
  return probation;
}

void clear_probation(const std::string& state_dir) { ::unlink((state_dir + "/probation").c_str()); }

}  // namespace molt::internal
