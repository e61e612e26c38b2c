// What the master remembers across restarts: the signing time of the running build, the
// high-water mark against downgrades. One small file, replaced atomically.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace molt {

std::optional<std::int64_t> load_high_water(const std::string& state_dir);
// Returns an empty string on success, else one line naming the file and the cause.
std::string save_high_water(const std::string& state_dir, std::int64_t timestamp);

}  // namespace molt
