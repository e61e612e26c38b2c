// Durations as people write them on a command line: "500ms", "2s", "1m30s", "1h".
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace molt {

// Returns nullopt and sets `error` for anything else (no unit, negative, unknown unit, overflow).
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text, std::string& error);

// "1.5s", "250ms", "2m": for log lines.
std::string format_duration(std::chrono::milliseconds d);

}  // namespace molt
