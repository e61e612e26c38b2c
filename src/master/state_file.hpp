// The downgrade floor: the signing time of the newest build installed, remembered across
// restarts twice over, so that losing one copy never means "no floor":
//   <state-dir>/high-water   the time itself, written durably before a build is installed;
//   <bin>.minisig            the installed build's signature, written with the swap; its time
//                            counts only when its trusted comment verifies with a pinned key.
#pragma once

#include <cstdint>
#include <molt/signature.hpp>
#include <optional>
#include <string>
#include <vector>

#include "util/sys.hpp"

namespace molt::internal {

// Absent: nullopt and no error. Unreadable or not a time: nullopt and `error` (one line).
std::optional<std::int64_t> load_high_water(const std::string& state_dir, std::string& error);
// Empty on success, else one line naming the file and the cause.
std::string save_high_water(Sys& sys, const std::string& state_dir, std::int64_t timestamp);

// A master killed between the binary's rename and its signature's (swap.cpp) left
// <bin>.minisig.new: it becomes <bin>.minisig when it signs <bin>, else it is dropped. Returns a
// line for the log, empty when there was nothing to do.
std::string finish_interrupted_install(const std::string& bin_path,
                                       const std::vector<sig::PublicKey>& keys);

// <bin>.minisig once its trusted comment verifies with a pinned key: what `molt status` shows.
struct InstalledSignature {
  std::int64_t timestamp = 0;
  std::string key_id;
  std::string build_id;  // from the trusted comment; empty when it names none
};
std::optional<InstalledSignature> installed_signature(const std::string& bin_path,
                                                      const std::vector<sig::PublicKey>& keys,
                                                      std::string& error);
// The signing time in <bin>.minisig, as load_high_water reports.
std::optional<std::int64_t> installed_signature_time(const std::string& bin_path,
                                                     const std::vector<sig::PublicKey>& keys,
                                                     std::string& error);

// A probation in progress, so that a master restarted during it (after a crash) rolls back a
// build that then crashes, as an uninterrupted master would. `until`: wall-clock ms since 1970.
struct Probation {
  std::string build_id;
  std::int64_t until_ms = 0;
};
std::string save_probation(Sys& sys, const std::string& state_dir, const Probation& probation);
std::optional<Probation> load_probation(const std::string& state_dir);
void clear_probation(const std::string& state_dir);

}  // namespace molt::internal
