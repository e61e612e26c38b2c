#pragma once

#include <CLI/CLI.hpp>

namespace molt::cli {

// `molt build-id FILE`: prints the BuildID molt reads from FILE without running it.
void add_build_id_command(CLI::App& app);

}  // namespace molt::cli
