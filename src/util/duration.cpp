#include <cstdint>
#include <limits>
#include <molt/duration.hpp>

namespace molt {
namespace {

struct Unit {
  std::string_view suffix;
  std::int64_t ms;
};
// Longest suffixes first so "ms" is not read as "m".
constexpr Unit kUnits[] = {{"ms", 1}, {"h", 3'600'000}, {"m", 60'000}, {"s", 1'000}};

}  // namespace

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text, std::string& error) {
  auto fail = [&](const std::string& why) {
    error = "duration \"" + std::string(text) + "\": " + why;
    return std::nullopt;
  };
  if (text.empty()) return fail("empty (write e.g. 500ms, 2s, 1m)");
  std::int64_t total = 0;
  std::string_view rest = text;
  while (!rest.empty()) {
    std::size_t digits = 0;
    std::int64_t value = 0;
    while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9') {
      if (value > std::numeric_limits<std::int64_t>::max() / 10 - 10) return fail("too large");
      value = value * 10 + (rest[digits] - '0');
      ++digits;
    }
    if (digits == 0) return fail("expected a number at \"" + std::string(rest) + "\"");
    rest.remove_prefix(digits);
    const Unit* unit = nullptr;
    for (const Unit& u : kUnits) {
      if (rest.starts_with(u.suffix)) {
        unit = &u;
        break;
      }
    }
    if (!unit) return fail("missing or unknown unit (use ms, s, m or h)");
    rest.remove_prefix(unit->suffix.size());
    if (value > (std::numeric_limits<std::int64_t>::max() - total) / unit->ms) {
      return fail("too large");
    }
    total += value * unit->ms;
  }
  return std::chrono::milliseconds(total);
}

std::string format_duration(std::chrono::milliseconds d) {
  std::int64_t ms = d.count();
  if (ms < 1000) return std::to_string(ms) + "ms";
  if (ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms / 1000) + "." + std::to_string(ms % 1000 / 100) + "s";
}

}  // namespace molt
