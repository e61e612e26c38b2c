#include "master/ready_mode.hpp"

#include <algorithm>
#include <molt/duration.hpp>

#include "util/json.hpp"

namespace molt::internal {

std::optional<ReadyMode> ReadyMode::parse(const std::string& text, std::string& error) {
  auto fail = [&](const std::string& cause) {
    error = "ready mode " + json_escape(text.substr(0, 200)) + ": " + cause;  // one line
    return std::nullopt;
  };
  ReadyMode mode;
  if (text == "notify") return mode;
  if (text == "tcp") {
    mode.kind = Kind::kTcp;
    return mode;
  }
  if (text.starts_with("delay:")) {
    std::string cause;
    std::optional<std::chrono::milliseconds> delay = parse_duration(text.substr(6), cause);
    if (!delay) return fail(cause);
    mode.kind = Kind::kDelay;
    mode.delay = *delay;
    return mode;
  }
  if (text.starts_with("http:")) {
    mode.kind = Kind::kHttp;
    mode.path = text.substr(5);
    // It goes into a request line as it is: nothing that could end the line or the target.
    bool printable = std::all_of(mode.path.begin(), mode.path.end(),
                                 [](unsigned char c) { return c > 0x20 && c < 0x7f; });
    if (!mode.path.starts_with("/") || !printable || mode.path.size() > 1024) {
      return fail("the path must begin with / and hold no space or control character");
    }
    return mode;
  }
  if (text.starts_with("exec:")) {
    mode.kind = Kind::kExec;
    mode.command = text.substr(5);
    if (mode.command.find_first_not_of(" \t") == std::string::npos) return fail("no command");
    return mode;
  }
  return fail("unknown: notify, http:PATH, tcp, exec:COMMAND or delay:DURATION");
}

}  // namespace molt::internal
