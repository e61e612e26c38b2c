// molt::run: decides this process's role and starts it.
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <molt/duration.hpp>
#include <molt/molt.hpp>
#include <molt/version.hpp>
#include <string_view>

#include "child/child_state.hpp"
#include "fetchers/http_text.hpp"
#include "fetchers/make_fetcher.hpp"
#include "master/child_groups.hpp"
#include "master/handover.hpp"
#include "master/listeners.hpp"
#include "master/master.hpp"
#include "master/master_lock.hpp"
#include "master/ready_mode.hpp"
#include "master/spawn.hpp"
#include "protocol/environment.hpp"
#include "util/address.hpp"
#include "util/atomic_file.hpp"
#include "util/log.hpp"
#include "util/small_file.hpp"

namespace molt::internal {
namespace {

// spdlog reads an unknown name as "off": a typo would silence every line.
std::optional<spdlog::level::level_enum> log_level(const std::string& name) {
  spdlog::level::level_enum level = spdlog::level::from_str(name);
  if (level == spdlog::level::off && name != "off") return std::nullopt;
  return level;
}

// The program's own logger (Config::logger) is used as it is; molt's default one says which role
// wrote each line. spdlog's default logger is left to the program.
void setup_logging(const Config& config, const char* role) {
  if (config.logger) {
    set_logger(config.logger);
    return;
  }
  set_logger(make_stderr_logger(role, log_level(config.log_level).value_or(spdlog::level::info),
                                config.log_format == "json" ? LogFormat::kJson : LogFormat::kText));
}

// command[0] as a path to swap: as given when it names a folder, else found in PATH as exec
// would find it; always absolute, since the master and its children may change folders.
std::string program_path(const std::string& name) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (name.find('/') != std::string::npos) return fs::absolute(name, ec).string();
  const char* path = std::getenv("PATH");
  std::string_view dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  while (!dirs.empty()) {
    std::string_view dir = dirs.substr(0, dirs.find(':'));
    dirs.remove_prefix(std::min(dirs.size(), dir.size() + 1));
    fs::path candidate = fs::path(dir.empty() ? "." : std::string(dir)) / name;
    if (::access(candidate.c_str(), X_OK) == 0) return fs::absolute(candidate, ec).string();
  }
  return name;
}

// Empty `error` when Config::log_level and log_format are known (setup_logging falls back, so
// that even this error can be logged).
bool logging_settings_valid(const Config& config, std::string& error) {
  if (!log_level(config.log_level)) {
    error = "log level " + config.log_level +
            " is unknown: trace, debug, info, warn, error, critical or off";
  } else if (config.log_format != "text" && config.log_format != "json") {
    error = "log format " + config.log_format + " is unknown: text or json";
  }
  return error.empty();
}

constexpr std::size_t kMaxKeyFileSize = 64 * 1024;
constexpr std::size_t kMaxCaFileSize = 16 << 20;

// Everything a bad configuration can get wrong is found here, before anything starts. With a
// handover (the master re-executed itself) the lock, the listeners and the children are the
// previous code's: nothing is taken, bound or killed.
std::optional<MasterSetup> prepare(const Config& config, std::string& error,
                                   const Handover* handover = nullptr) {
  MasterSetup setup;
  setup.config = config;
  if (!logging_settings_valid(config, error)) return std::nullopt;
  if (config.ready_timeout.count() <= 0 || config.drain_timeout.count() <= 0 ||
      config.poll_interval.count() <= 0) {
    error = "timeouts and the poll interval must be greater than zero";
    return std::nullopt;
  }
  std::optional<std::vector<Address>> addresses = parse_addresses(config.listen, error);
  if (!addresses) return std::nullopt;
  std::optional<ReadyMode> ready = ReadyMode::parse(config.ready, error);
  if (!ready) return std::nullopt;
  setup.ready = *ready;
  if (ready->kind == ReadyMode::Kind::kDelay && ready->delay >= config.ready_timeout) {
    error = "ready mode " + config.ready + " waits as long as the ready timeout (" +
            format_duration(config.ready_timeout) + ") or longer: no child could be ready";
    return std::nullopt;
  }
  if (ready->needs_tcp_listener() &&
      std::none_of(addresses->begin(), addresses->end(),
                   [](const Address& a) { return a.kind == Address::Kind::kTcp; })) {
    error = "ready mode " + config.ready + " connects to a TCP listener, and --listen names none";
    return std::nullopt;
  }
  char self[4096];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  setup.bin_path = !config.install_path.empty() ? config.install_path
                   : !config.command.empty()    ? program_path(config.command[0])
                                                : std::string(self, n > 0 ? n : 0);
  if (::access(setup.bin_path.c_str(), X_OK) != 0) {
    error = (config.command.empty() ? "install path " : "program ") + setup.bin_path +
            " is not an executable file";
    return std::nullopt;
  }
  setup.state_dir = config.state_dir.empty() ? setup.bin_path + ".molt" : config.state_dir;
  if (error = make_private_dir(setup.state_dir); !error.empty()) {
    error = "state dir " + error;
    return std::nullopt;
  }
  // A master started from <bin> may follow it: its code is the installed build's.
  std::error_code ec;
  setup.master_runs_bin =
      (config.command.empty() && config.install_path.empty()) ||
      std::filesystem::equivalent(std::filesystem::path(self, self + std::max<ssize_t>(n, 0)),
                                  setup.bin_path, ec);
  if (!handover) {
    // Before anything touches the binary's folder, the state or the ports.
    std::optional<Fd> lock = take_master_lock(setup.state_dir, setup.bin_path, error);
    if (!lock) return std::nullopt;
    setup.lock = std::move(*lock);
    // What a crashed predecessor's children left would hold the ports this master binds.
    for (const std::string& line : kill_leftover_groups(setup.state_dir)) {
      logger().warn("{}", line);
    }
  }
  for (const std::string& path : config.pubkeys) {
    std::optional<std::string> text = read_small_file(path, kMaxKeyFileSize, error);
    if (!text) {
      error = "public key " + error;
      return std::nullopt;
    }
    std::optional<sig::PublicKey> key = sig::parse_public_key(*text, error);
    if (!key) {
      error = "public key " + path + ": " + error;
      return std::nullopt;
    }
    setup.keys.push_back(*key);
  }
  if (config.fetcher) {
    setup.fetcher = config.fetcher;
    if (setup.keys.empty() && !config.insecure_no_verify) {
      error = "source " + config.fetcher->describe() +
              " has no public key: set Config::pubkeys (or insecure_no_verify to run unsigned "
              "builds)";
      return std::nullopt;
    }
  } else if (!config.source.empty()) {
    if (setup.keys.empty() && !config.insecure_no_verify) {
      error = "source " + config.source +
              " has no public key: pass --pubkey FILE (or --insecure-no-verify to run unsigned "
              "builds)";
      return std::nullopt;
    }
    // Files the check helper would read later are read now, so a bad one stops the start.
    if (!config.http.ca_file.empty() &&
        !read_small_file(config.http.ca_file, kMaxCaFileSize, error)) {
      error = "CA file " + error;
      return std::nullopt;
    }
    if (std::vector<std::string> lines; !expand_headers(config.http.headers, lines, error)) {
      return std::nullopt;
    }
    setup.fetcher = make_fetcher(config, error);
    if (!setup.fetcher) return std::nullopt;
  }
  if (setup.fetcher) {
    Fetcher::PollFloor floor = setup.fetcher->poll_floor();
    if (setup.config.poll_interval < floor.interval) {
      logger().info("{}: polling every {}s, not every {}s: {}", setup.fetcher->describe(),
                    floor.interval.count() / 1000, setup.config.poll_interval.count() / 1000.0,
                    floor.reason);
      setup.config.poll_interval = floor.interval;
    }
  }
  if (handover) {
    setup.lock = Fd(handover->lock_fd);
    setup.listeners = handover->listeners;
    setup.systemd_notify_socket = handover->systemd_notify_socket;
    setup.argv = config.command.empty() ? own_argv() : config.command;
    return setup;
  }
  setup.listeners = open_listeners(*addresses, error);
  if (!error.empty()) return std::nullopt;
  setup.argv = config.command.empty() ? own_argv() : config.command;
  if (const char* systemd = std::getenv(env::kNotifySocket)) {
    setup.systemd_notify_socket = systemd;
    ::unsetenv(env::kNotifySocket);
  }
  return setup;
}

int run_child(const Config& config, const Program& program) {
  setup_logging(config, "child");
  std::string error;
  std::unique_ptr<ChildState> state = ChildState::from_environment(config.drain_signal, error);
  if (!state) {
    logger().error("{}", error);
    return 2;
  }
  set_log_build(state->build_id(), state->generation());
  return program(*state);
}

// The previous code of this master left its state in MOLT_HANDOVER_FD (master/handover.hpp).
// nullopt and no error when there is none.
std::optional<Handover> take_handover(bool& probe, std::string& error) {
  const char* fd = std::getenv(env::kHandoverFd);
  probe = std::getenv(env::kHandoverProbe) != nullptr;
  if (!fd) return std::nullopt;
  std::optional<std::string> text = read_handover_fd(fd, error);
  ::unsetenv(env::kHandoverFd);
  ::unsetenv(env::kHandoverProbe);
  return text ? decode_handover(*text, error) : std::nullopt;
}

int run_master(const Config& config) {
  setup_logging(config, "master");
  std::string error;
  bool probe = false;
  std::optional<Handover> handover = take_handover(probe, error);
  if (!error.empty()) {
    // A probe's failure leaves the master on its old code; after the exec there is no way back.
    logger().error("cannot take over from the master's previous code: {}", error);
    return 1;
  }
  std::optional<MasterSetup> setup = prepare(config, error, handover ? &*handover : nullptr);
  if (!setup) {
    logger().error("{}", error);
    return 2;
  }
  if (probe) return 0;  // it could take over: the previous code does the exec
  setup->handover = std::move(handover);
  Master master(std::move(*setup));
  return master.run();
}

// Config::supervise = false or MOLT_SUPERVISE=0: the program runs here, on listeners of its own.
int run_unsupervised(const Config& config, const Program& program) {
  setup_logging(config, "unsupervised");
  std::string error;
  if (!logging_settings_valid(config, error)) {
    logger().error("{}", error);
    return 2;
  }
  std::optional<std::vector<Address>> addresses = parse_addresses(config.listen, error);
  if (!addresses) {
    logger().error("{}", error);
    return 2;
  }
  std::vector<Listener> listeners = open_listeners(*addresses, error);
  if (!error.empty()) {
    logger().error("{}", error);
    return 2;
  }
  std::vector<int> drain_signals{SIGTERM, SIGINT};
  if (config.drain_signal != SIGTERM && config.drain_signal != SIGINT) {
    drain_signals.push_back(config.drain_signal);
  }
  std::unique_ptr<ChildState> state = ChildState::unsupervised(listeners, drain_signals);
  set_log_build(state->build_id(), 0);
  std::string listening;
  for (const Listener& l : listeners) listening += " " + l.address;
  logger().info("not supervised (no master, no upgrades): serving build {} on{} in process {}",
                state->build_id(), listening.empty() ? " nothing" : listening, ::getpid());
  int code = program(*state);
  state.reset();
  for (const Listener& l : listeners) ::close(l.fd);
  return code;
}

bool supervised(const Config& config) {
  const char* env = std::getenv(env::kSupervise);
  return config.supervise && !(env && std::string_view(env) == "0");
}

}  // namespace
}  // namespace molt::internal

namespace molt {

const char* version() { return MOLT_VERSION_STRING; }

int run(const Config& config, const Program& program) {
  using namespace internal;
  if (!config.command.empty()) {
    // Another program is the child: this process is only ever its master.
    if (!supervised(config)) {
      setup_logging(config, "master");
      logger().error("a command runs only under a master: run {} itself to run it unsupervised",
                     config.command[0]);
      return 2;
    }
    return run_master(config);
  }
  const char* role = std::getenv(env::kRole);
  std::string_view r = role ? role : "";
  if (r == env::kRoleChild) return run_child(config, program);
  if (!supervised(config)) return run_unsupervised(config, program);
  return run_master(config);
}

}  // namespace molt
