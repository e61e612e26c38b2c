// molt's own logger. molt never touches spdlog's default logger, which belongs to the program:
// every line of molt's goes through this one ("molt", to stderr, unless Config::logger).
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace molt::internal {

spdlog::logger& logger();
void set_logger(std::shared_ptr<spdlog::logger> logger);

enum class LogFormat { kText, kJson };

// molt's logger to stderr. Text: "<date> <time> molt[<pid>] <role> <level>: <message>". JSON: one
// object per line, {"time", "level", "pid", "role", "message"}, for a log collector.
// The build (and generation) a JSON line is about: the master's serving build and child, or a
// child's own. Set by the thread that logs (the master's only one; a child before it serves).
void set_log_build(const std::string& build_id, unsigned generation);

std::shared_ptr<spdlog::logger> make_stderr_logger(const std::string& role,
                                                   spdlog::level::level_enum level,
                                                   LogFormat format);

}  // namespace molt::internal
