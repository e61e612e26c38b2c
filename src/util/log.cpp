#include "util/log.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <unistd.h>

#include <ctime>

#include "util/json.hpp"

namespace molt::internal {
namespace {

// Not registered with spdlog: a program's own logger may be called "molt" too.
std::shared_ptr<spdlog::logger>& current() {
  static std::shared_ptr<spdlog::logger> logger = std::make_shared<spdlog::logger>(
      "molt", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  return logger;
}

struct LogBuild {
  std::string build_id;
  unsigned generation = 0;
};

LogBuild& log_build() {
  static LogBuild build;
  return build;
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
    JsonObject line;
    line.string("time", time)
        .string("level", std::string_view(level.data(), level.size()))
        .number("pid", std::int64_t{pid_})
        .string("role", role_)
        .string("message", std::string_view(msg.payload.data(), msg.payload.size()));
    const LogBuild& build = log_build();
    if (!build.build_id.empty()) line.string("build_id", build.build_id);
    if (build.generation) line.number("generation", std::int64_t{build.generation});
    std::string text = line.str() + "\n";
    dest.append(text.data(), text.data() + text.size());
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

void set_log_build(const std::string& build_id, unsigned generation) {
  log_build() = {build_id, generation};
}

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

}  // namespace molt::internal
