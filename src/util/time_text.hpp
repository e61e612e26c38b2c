// A Unix time as a person reads it in a log line or a status: "2026-12-04 09:12:03".
#pragma once

#include <cstdint>
#include <ctime>
#include <string>

namespace molt::internal {

enum class Zone { kUtc, kLocal };

// kUtc ends with " UTC", as the log says times that come from elsewhere (a signature's).
inline std::string time_text(std::int64_t unix_seconds, Zone zone) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  if (zone == Zone::kUtc) {
    gmtime_r(&t, &tm);
  } else {
    localtime_r(&t, &tm);
  }
  char text[32];
  std::strftime(text, sizeof text,
                zone == Zone::kUtc ? "%Y-%m-%d %H:%M:%S UTC" : "%Y-%m-%d %H:%M:%S", &tm);
  return text;
}

}  // namespace molt::internal
