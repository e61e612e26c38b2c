// One master per binary: an exclusive lock on <state-dir>/lock, held for the master's life.
// Two masters on one binary would race on <bin>.prev and each other's staged files.
#pragma once

#include <optional>
#include <string>

#include "util/fd.hpp"

namespace molt::internal {

// Takes the lock and writes this process's pid in the file. Returns the descriptor (close-on-
// exec: children never hold it), or nullopt with `error` naming the holder.
std::optional<Fd> take_master_lock(const std::string& state_dir, const std::string& bin_path,
                                   std::string& error);

}  // namespace molt::internal
