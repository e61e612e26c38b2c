#pragma once

#include <CLI/CLI.hpp>

namespace molt::cli {

// `molt run [flags] -- PROGRAM [ARGS...]`: the molt command as the master of another program, in
// any language: PROGRAM's file is what is fetched, verified, swapped and restarted.
void add_run_command(CLI::App& app);

}  // namespace molt::cli
