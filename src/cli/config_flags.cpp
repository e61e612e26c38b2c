#include "config_flags.hpp"

#include <iostream>

namespace molt::cli {

molt::Duration parse_or_throw(const std::string& text) {
  std::string error;
  auto d = molt::parse_duration(text, error);
  if (!d) throw CLI::ValidationError(error);
  return *d;
}

ConfigFlags::ConfigFlags(CLI::App& app, molt::Config& config) : app_(app), config_(config) {
  app.add_option("--listen", config.listen,
                 "address to listen on (repeatable): HOST:PORT, [V6]:PORT, unix:/PATH")
      ->required();
  app.add_option("--source", config.source,
                 "where new builds appear: a file path, http(s)://URL, s3://bucket/key or "
                 "github://OWNER/REPO/ASSET");
  app.add_option("--pubkey", config.pubkeys,
                 "minisign public key that may sign builds (repeatable)");
  app.add_flag("--insecure-no-verify", config.insecure_no_verify, "accept unsigned builds");
  app.add_flag("--allow-downgrade", config.allow_downgrade, "accept builds signed earlier");
  app.add_option("--host-id", config.host_id,
                 "this host in staged rollouts (molt sign --rollout; default: /etc/machine-id)");
  app.add_option("--interval", interval_, "how often to poll the source")->capture_default_str();
  app.add_option("--ready-timeout", ready_timeout_, "a new child must be ready within this")
      ->capture_default_str();
  app.add_option("--drain-timeout", drain_timeout_, "an old child is killed after this")
      ->capture_default_str();
  app.add_option("--probation", probation_, "a crash within this after an upgrade rolls back")
      ->capture_default_str();
  app.add_option("--start-boost", config.start_boost,
                 "nice levels above the master a new child starts at, until ready (0: off)")
      ->check(CLI::Range(0, 39))
      ->capture_default_str();
  app.add_option("--start-boost-cpu", start_boost_cpu_,
                 "the boost ends once a new child has used this much CPU")
      ->capture_default_str();
  app.add_option("--ca-file", config.http.ca_file, "extra CA bundle for https:// sources");
  app.add_option("--header", config.http.headers,
                 "extra request header 'Name: value' or @FILE of such lines (repeatable; never "
                 "logged)");
  app.add_option("--stall-timeout", stall_timeout_, "a download with no byte for this long fails")
      ->capture_default_str();
  app.add_option("--transfer-timeout", transfer_timeout_, "a download taking longer fails")
      ->capture_default_str();
  app.add_option("--max-size", config.http.max_size, "largest artifact accepted, in bytes")
      ->capture_default_str();
  app.add_option("--s3-endpoint", config.s3.endpoint, "S3-compatible endpoint URL (default AWS)");
  app.add_option("--s3-region", config.s3.region, "S3 region (default from the AWS settings)");
  app.add_option("--s3-profile", config.s3.profile, "AWS profile for credentials");
  app.add_flag("--s3-anonymous", config.s3.anonymous, "read a public bucket without credentials");
  app.add_option("--github-api", config.github.api_url,
                 "GitHub API URL for github:// sources (default https://api.github.com; token: "
                 "GITHUB_TOKEN)");
  app.add_option("--state-dir", config.state_dir, "where molt keeps its state");
  app.add_option("--log-level", config.log_level, "trace, debug, info, warn, error")
      ->capture_default_str();
  app.add_option("--log-format", config.log_format, "text or json (one object per line)")
      ->capture_default_str();
  app.add_option("--metrics-file", config.metrics_file,
                 "write the master's counters here (Prometheus text format)");
}

int ConfigFlags::parse(int argc, char** argv) {
  try {
    app_.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app_.exit(e) == 0 ? 0 : 2;
  }
  try {
    finish();
  } catch (const CLI::ValidationError& e) {
    std::cerr << app_.get_name() << ": " << e.what() << "\n";
    return 2;
  }
  return -1;
}

void ConfigFlags::finish() {
  config_.poll_interval = parse_or_throw(interval_);
  config_.ready_timeout = parse_or_throw(ready_timeout_);
  config_.drain_timeout = parse_or_throw(drain_timeout_);
  config_.probation = parse_or_throw(probation_);
  config_.start_boost_cpu = parse_or_throw(start_boost_cpu_);
  config_.http.stall_timeout = parse_or_throw(stall_timeout_);
  config_.http.total_timeout = parse_or_throw(transfer_timeout_);
}

}  // namespace molt::cli
