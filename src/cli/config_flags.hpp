// Every molt::Config setting as a command-line flag: what `molt run` takes, and what the example
// programs offer (examples/hello, and the tests' server in tests/fixtures/hello, which adds
// flags of its own), so that a molt program and `molt run` are configured alike.
#pragma once

#include <CLI/CLI.hpp>
#include <molt/config.hpp>
#include <molt/duration.hpp>
#include <string>

namespace molt::cli {

// "500ms", "2s", "1m" as a Duration; a CLI::ValidationError naming the text otherwise.
molt::Duration parse_or_throw(const std::string& text);

class ConfigFlags {
 public:
  // Adds the flags to `app`; once it has parsed, parse() fills `config`.
  ConfigFlags(CLI::App& app, molt::Config& config);

  // Parses the command line into the config. Returns -1 to go on, or the exit code: 0 after
  // --help, 2 after a usage error or a bad duration (said on stderr), as for a bad configuration.
  int parse(int argc, char** argv);
  // For a subcommand that `app` parses itself: the durations, once it has. Throws
  // CLI::ValidationError naming a bad one.
  void finish();

 private:
  CLI::App& app_;
  molt::Config& config_;
  std::string interval_ = "1s", ready_timeout_ = "30s", drain_timeout_ = "30s", probation_ = "10s",
              stall_timeout_ = "30s", transfer_timeout_ = "10m", start_boost_cpu_ = "100ms";
};

}  // namespace molt::cli
