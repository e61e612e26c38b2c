// The molt command: a thin front door over the library.
#include <CLI/CLI.hpp>
#include <molt/molt.hpp>

#include "build_id_command.hpp"
#include "sign_commands.hpp"

int main(int argc, char** argv) {
  CLI::App app{"molt: sign, check and identify self-upgrading builds"};
  app.set_version_flag("--version", std::string("molt ") + molt::version());
  app.require_subcommand(1);
  molt::cli::add_build_id_command(app);
  molt::cli::add_sign_commands(app);
  CLI11_PARSE(app, argc, argv);
  return 0;
}
