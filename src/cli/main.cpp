// The molt command: a thin front door over the library.
#include <CLI/CLI.hpp>
#include <molt/molt.hpp>

#include "build_id_command.hpp"
#include "control_commands.hpp"
#include "delta_command.hpp"
#include "run_command.hpp"
#include "sign_commands.hpp"

int main(int argc, char** argv) {
  CLI::App app{
      "molt: run a program with zero-downtime signed upgrades; sign, check and identify builds; "
      "control a running master"};
  app.set_version_flag("--version", std::string("molt ") + molt::version());
  app.require_subcommand(1);
  molt::cli::add_build_id_command(app);
  molt::cli::add_sign_commands(app);
  molt::cli::add_delta_command(app);
  molt::cli::add_control_commands(app);
  molt::cli::add_run_command(app);
  // Exit codes, as for a molt program's master: 0 success, 1 a runtime failure (a command's own
  // CLI::RuntimeError), 2 a usage error.
  try {
    app.parse(argc, argv);
  } catch (const CLI::RuntimeError& e) {
    return e.get_exit_code();
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;  // --help and --version exit 0
  }
  return 0;
}
