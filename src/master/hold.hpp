// A hold: the operator's "take no new build" (`molt hold`), kept in <state-dir>/hold so that it
// outlives the master (a restart during an incident must not resume upgrades). The file is a
// JSON object {"since": <unix seconds>, "reason": "..."}.
#pragma once

#include <optional>
#include <string>

#include "util/sys.hpp"

namespace molt::internal {

struct Hold {
  double since = 0;  // Unix time, seconds
  std::string reason;
};

// nullopt when there is no hold file. A file that is there but unreadable or rotten still
// holds (the operator meant to hold), with its cause as the reason and in `error`.
std::optional<Hold> load_hold(const std::string& state_dir, std::string& error);
// Empty on success, else one line naming the file and the cause.
std::string save_hold(Sys& sys, const std::string& state_dir, const Hold& hold);
std::string clear_hold(Sys& sys, const std::string& state_dir);

}  // namespace molt::internal
