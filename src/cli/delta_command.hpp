#pragma once

#include <CLI/CLI.hpp>

namespace molt::cli {

// `molt delta --from OLD --to NEW -o PATCH`: the delta update from one build to the next, which
// a publisher puts beside the artifact as <source>.patch/<name the command prints>.
void add_delta_command(CLI::App& app);

}  // namespace molt::cli
