// The molt command's key and signature subcommands: keygen, sign, verify (minisign formats).
#pragma once

#include <CLI/CLI.hpp>

namespace molt::cli {

// Registers the subcommands on `app`. Each one prints one line to stderr and throws
// CLI::RuntimeError(1) when it fails.
void add_sign_commands(CLI::App& app);

}  // namespace molt::cli
