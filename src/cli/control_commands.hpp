#pragma once

#include <CLI/CLI.hpp>

namespace molt::cli {

// `molt status`, `molt check`, `molt restart`, `molt rollback`, `molt hold` and `molt resume`:
// requests to a running master over its control socket (protocol/control.hpp).
void add_control_commands(CLI::App& app);

}  // namespace molt::cli
