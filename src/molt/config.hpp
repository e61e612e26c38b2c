// Everything the master needs to know; see molt.hpp for how it is used.
#pragma once

#include <chrono>
#include <csignal>
#include <cstdint>
#include <functional>
#include <memory>
#include <molt/fetcher.hpp>
#include <optional>
#include <string>
#include <vector>

namespace spdlog {
class logger;
}

namespace molt {

using Duration = std::chrono::milliseconds;

// How sources that speak HTTP reach their server (the http and s3 fetchers).
struct HttpOptions {
  std::string ca_file;                  // extra CA bundle; empty: the system store
  std::vector<std::string> headers;     // "Name: value" lines; values are never logged
  std::uint64_t max_size = 1ull << 30;  // an artifact larger than this is refused
  Duration connect_timeout{10'000};
  Duration stall_timeout{30'000};  // no byte for this long aborts the transfer
  Duration total_timeout{600'000};
  int max_redirects = 5;
};

// How the s3 fetcher signs its requests. Unset fields come from the AWS environment variables
// and ~/.aws files, as every AWS tool reads them.
struct S3Options {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;
  std::string region;
  std::string profile;
  std::string endpoint;  // custom endpoint URL; empty: AWS
  enum class Style { kAuto, kPath, kVirtualHosted } style = Style::kAuto;
  bool anonymous = false;
};

// How the github:// source reaches the GitHub REST API.
struct GitHubOptions {
  std::string api_url;  // empty: https://api.github.com; GitHub Enterprise: https://HOST/api/v3
  // Sent as "Authorization: Bearer" to the API's origin only, never to the host a download is
  // redirected to. Empty: the GITHUB_TOKEN environment variable, if set.
  std::string token;
};

struct Config {
  // Where the program listens: "host:port", "[v6addr]:port", ":port" (every address) or
  // "unix:/path", each optionally prefixed by "NAME=" (the name the child sees).
  std::vector<std::string> listen;

  // Where new builds come from: a file path, an http(s):// URL, an s3://bucket/key URL or
  // github://OWNER/REPO/ASSET (that asset of the repository's latest release).
  // Empty (and no `fetcher`): no updates, the master only supervises.
  std::string source;

  // An update source of the program's own (see molt/fetcher.hpp); when set, it is used instead of
  // `source`. Its calls run in the check helper, a process forked from the master.
  std::shared_ptr<Fetcher> fetcher;

  // Asked about each verified new build before it is started: the staged file's path and its
  // BuildID. A non-empty answer refuses the build and is logged as the reason. It runs in the
  // check helper (a fork of the master), so it may block, run the file, or ask another service;
  // what it changes in memory does not reach the master. A refused build is not marked bad: it is
  // downloaded and offered again at each later check (backing off from 0.5 s to poll_interval),
  // so a refusal that passes ("not during the nightly batch") is followed by the upgrade.
  std::function<std::string(const std::string& staged_path, const std::string& build_id)>
      pre_upgrade;

  // false, or MOLT_SUPERVISE=0 in the environment: no master and no upgrades. run() opens the
  // listeners itself and calls the program in this process, with a State whose ready() does
  // nothing and whose drain begins on SIGTERM, SIGINT or the drain signal: for debuggers,
  // valgrind and the program's own tests.
  bool supervise = true;

  Duration poll_interval{5'000};
  Duration ready_timeout{30'000};  // a new child must be ready (Config::ready) within this
  Duration drain_timeout{30'000};  // an old child gets this long to finish before SIGKILL
  Duration probation{10'000};      // a crash within this after an upgrade rolls back
  int drain_signal = SIGTERM;
  // A new child starts this many nice levels above the master, until it is ready or has used
  // start_boost_cpu of CPU: under a saturated CPU an upgrade then takes about what it takes
  // idle, at the cost of that much CPU taken from the serving children at once. Needs
  // CAP_SYS_NICE or RLIMIT_NICE (systemd: LimitNICE=); without, children start at the master's
  // priority. 0: off.
  int start_boost = 10;
  Duration start_boost_cpu{100};

  // The binary that is swapped and re-executed. Empty: this executable (/proc/self/exe), or
  // command[0] when a command is given.
  std::string install_path;

  // Another program to supervise and upgrade instead of this one, as `molt run -- PROGRAM ARGS`
  // does: command[0] is its file (what is fetched, verified, swapped and run: any executable,
  // a script too), the rest its arguments. Its children get the listeners from fd 3 and a
  // NOTIFY_SOCKET as a molt program's do. Empty: this program, re-executed.
  std::vector<std::string> command;

  // How a new child shows it is ready: "notify" (it sends READY=1 to NOTIFY_SOCKET: molt
  // programs, and sd_notify users), "http:PATH" (a GET on the first TCP listener that this
  // child accepts answers 2xx), "tcp" (this child accepts a connection there), "exec:COMMAND"
  // (/bin/sh -c COMMAND exits 0; it gets MOLT_CHILD_PID and MOLT_LISTEN) or "delay:DURATION"
  // (it has run that long without exiting: a last resort). READY=1 counts in every mode. The
  // README says how a probe tells the new child from the old one on the shared listener.
  std::string ready = "notify";

  // Public keys (minisign format files) any of which may sign an artifact. A source without a
  // key is refused unless insecure_no_verify is set.
  std::vector<std::string> pubkeys;
  bool insecure_no_verify = false;
  bool allow_downgrade = false;
  std::string state_dir;  // empty: "<install_path>.molt" beside the binary
  // This host in staged rollouts (molt sign --rollout): its cohort for a build is a hash of
  // this id and the BuildID. Empty: /etc/machine-id.
  std::string host_id;

  HttpOptions http;
  S3Options s3;
  GitHubOptions github;

  // molt logs through its own logger, never spdlog's default one (which stays the program's):
  // "molt", to stderr, at log_level. A logger given here is used instead, as it is (its own
  // sinks, pattern and level; log_level is then not applied).
  std::string log_level = "info";  // spdlog level name
  // "text" ("<date> <time> molt[<pid>] <role> <level>: <message>") or "json" (one object per
  // line: time, level, pid, role, message).
  std::string log_format = "text";

  // The master's counters in the Prometheus text format (node_exporter's textfile collector),
  // rewritten atomically: at once after an upgrade, a discard, a rollback, a restart or a hold,
  // and within 10 s after a routine check. Empty: none.
  std::string metrics_file;
  std::shared_ptr<spdlog::logger> logger;
};

}  // namespace molt
