#include "util/log.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <unistd.h>

#include <ctime>

namespace molt::internal {
namespace {

// Not registered with spdlog: a program's own logger may be called "molt" too.
std::shared_ptr<spdlog::logger>& current() {
  static std::shared_ptr<spdlog::logger> logger = std::make_shared<spdlog::logger>(
      "molt", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  return logger;
}

// The length of the UTF-8 sequence at the front of `s`, or 0 if it is not one.
std::size_t utf8_length(std::string_view s) {
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  unsigned char c = byte(0);
  std::size_t n = c < 0x80           ? 1
                  : (c >> 5) == 0x6  ? 2
                  : (c >> 4) == 0xe  ? 3
                  : (c >> 3) == 0x1e ? 4
                                     : 0;
  if (n == 0 || n > s.size() || (n == 2 && c < 0xc2)) return 0;
  for (std::size_t i = 1; i < n; ++i) {
    if ((byte(i) & 0xc0) != 0x80) return 0;
  }
  if (n == 3 && ((c == 0xe0 && byte(1) < 0xa0) || (c == 0xed && byte(1) >= 0xa0))) return 0;
  if (n == 4 && ((c == 0xf0 && byte(1) < 0x90) || c > 0xf4 || (c == 0xf4 && byte(1) >= 0x90))) {
    return 0;
  }
  return n;
}

class JsonFormatter final : public spdlog::formatter {
 public:
  explicit JsonFormatter(std::string role) : role_(std::move(role)), pid_(::getpid()) {}

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    auto since_epoch = msg.time.time_since_epoch();
    std::time_t seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch).count();
    long ms = static_cast<long>(
        std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch).count() % 1000);
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    char time[40];
    std::size_t n = std::strftime(time, sizeof time, "%Y-%m-%dT%H:%M:%S", &tm);
    std::snprintf(time + n, sizeof time - n, ".%03ldZ", ms);
    spdlog::string_view_t level = spdlog::level::to_string_view(msg.level);
    std::string line =
        std::string("{\"time\":\"") + time + "\",\"level\":\"" +
        std::string(level.data(), level.size()) + "\",\"pid\":" + std::to_string(pid_) +
        ",\"role\":\"" + role_ + "\",\"message\":\"" +
        json_escape(std::string_view(msg.payload.data(), msg.payload.size())) + "\"}\n";
    dest.append(line.data(), line.data() + line.size());
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>(role_);
  }

 private:
  std::string role_;
  int pid_;  // a re-executed or forked process makes its own logger
};

}  // namespace

spdlog::logger& logger() { return *current(); }

void set_logger(std::shared_ptr<spdlog::logger> logger) { current() = std::move(logger); }

std::shared_ptr<spdlog::logger> make_stderr_logger(const std::string& role,
                                                   spdlog::level::level_enum level,
                                                   LogFormat format) {
  auto logger = std::make_shared<spdlog::logger>(
      "molt", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  if (format == LogFormat::kJson) {
    logger->set_formatter(std::make_unique<JsonFormatter>(role));
  } else {
    logger->set_pattern("%Y-%m-%d %H:%M:%S.%e molt[%P] " + role + " %^%l%$: %v");
  }
  logger->set_level(level);
  return logger;
}

std::string json_escape(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    unsigned char c = static_cast<unsigned char>(text.front());
    std::size_t n = utf8_length(text);
    if (n == 0) {
      out += "\\ufffd";
      n = 1;
    } else if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c == 0x7f) {
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out.append(text.data(), n);
    }
    text.remove_prefix(n);
  }
  return out;
}

}  // namespace molt::internal
