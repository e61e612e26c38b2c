// molt's own logger. molt never touches spdlog's default logger, which belongs to the program:
// every line of molt's goes through this one ("molt", to stderr, unless Config::logger).
#pragma once

#include <spdlog/spdlog.h>

#include <memory>

namespace molt::internal {

spdlog::logger& logger();
void set_logger(std::shared_ptr<spdlog::logger> logger);

}  // namespace molt::internal
