#include "util/log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace molt::internal {
namespace {

// Not registered with spdlog: a program's own logger may be called "molt" too.
std::shared_ptr<spdlog::logger>& current() {
  static std::shared_ptr<spdlog::logger> logger = std::make_shared<spdlog::logger>(
      "molt", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  return logger;
}

}  // namespace

spdlog::logger& logger() { return *current(); }

void set_logger(std::shared_ptr<spdlog::logger> logger) { current() = std::move(logger); }

}  // namespace molt::internal
