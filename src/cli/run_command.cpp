#include "run_command.hpp"

#include <signal.h>
#include <string.h>

#include <charconv>
#include <memory>
#include <molt/molt.hpp>
#include <optional>
#include <string>
#include <vector>

#include "config_flags.hpp"

namespace molt::cli {
namespace {

// "TERM", "SIGTERM", "15": a signal a program drains on.
std::optional<int> signal_named(std::string name) {
  if (name.starts_with("SIG")) name.erase(0, 3);
  int number = 0;
  auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), number);
  if (ec == std::errc() && end == name.data() + name.size() && number > 0 && number < NSIG) {
    return number;
  }
  for (int sig = 1; sig < NSIG; ++sig) {
    const char* abbrev = ::sigabbrev_np(sig);
    if (abbrev && name == abbrev) return sig;
  }
  return std::nullopt;
}

struct RunOptions {
  Config config;
  std::unique_ptr<ConfigFlags> flags;
  std::vector<std::string> command;
  std::string drain_signal = "TERM";
};

}  // namespace

void add_run_command(CLI::App& app) {
  auto opt = std::make_shared<RunOptions>();
  CLI::App* run = app.add_subcommand(
      "run",
      "be the master of PROGRAM (any language): it gets the listeners from fd 3 (LISTEN_FDS) "
      "and a NOTIFY_SOCKET, and its file is upgraded from the source as a molt program is");
  opt->flags = std::make_unique<ConfigFlags>(*run, opt->config);
  run->add_option("--ready", opt->config.ready,
                  "how a new child shows it is ready: notify (READY=1 on NOTIFY_SOCKET), "
                  "http:PATH (GET PATH on the first TCP listener, accepted by it, answers 2xx), "
                  "tcp (it accepts a connection there), exec:COMMAND (COMMAND exits 0; it gets "
                  "MOLT_CHILD_PID and MOLT_LISTEN) or delay:DURATION (it ran that long)")
      ->capture_default_str();
  run->add_option("--drain-signal", opt->drain_signal,
                  "the signal PROGRAM drains on: TERM, INT, QUIT (nginx-style), USR1, ...")
      ->capture_default_str();
  run->add_option("PROGRAM", opt->command, "the program and its arguments (after --)")
      ->required()
      ->expected(1, -1);
  run->callback([opt] {
    opt->flags->finish();
    std::optional<int> sig = signal_named(opt->drain_signal);
    if (!sig) throw CLI::ValidationError("--drain-signal", opt->drain_signal + " is not a signal");
    opt->config.drain_signal = *sig;
    opt->config.command = opt->command;
    // The program is another file: nothing runs in this process but the master.
    if (int code = molt::run(opt->config, [](State&) { return 0; }); code != 0) {
      throw CLI::RuntimeError(code);
    }
  });
}

}  // namespace molt::cli
