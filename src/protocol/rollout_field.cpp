#include "protocol/rollout_field.hpp"

#include <cstdio>
#include <sstream>

namespace molt::internal {

std::optional<int> rollout_of(const std::string& trusted_comment, std::string& error) {
  std::istringstream fields(trusted_comment);
  std::string field;
  while (std::getline(fields, field, '\t')) {
    if (!field.starts_with("rollout:")) continue;
    std::string text = field.substr(8);
    // "12", "12.5", "12.50": digits, and at most two after one point.
    int whole = 0, fraction = 0, fraction_digits = 0, whole_digits = 0;
    bool point = false, ok = !text.empty();
    for (char c : text) {
      if (c == '.' && !point) {
        point = true;
      } else if (c >= '0' && c <= '9' && !point && whole_digits < 3) {
        whole = whole * 10 + (c - '0');
        ++whole_digits;
      } else if (c >= '0' && c <= '9' && point && fraction_digits < 2) {
        fraction = fraction * 10 + (c - '0');
        ++fraction_digits;
      } else {
        ok = false;
      }
    }
    if (fraction_digits == 1) fraction *= 10;
    int hundredths = whole * 100 + fraction;
    if (!ok || whole_digits == 0 || (point && fraction_digits == 0) || hundredths > kWholeFleet) {
      error = "rollout:" + text.substr(0, 32) +
              " is not a percentage from 0 to 100 with two decimals at most";
      return std::nullopt;
    }
    return hundredths;
  }
  return kWholeFleet;
}

std::string hundredths_text(int hundredths) {
  char text[16];
  std::snprintf(text, sizeof text, "%d.%02d", hundredths / 100, hundredths % 100);
  return text;
}

}  // namespace molt::internal
