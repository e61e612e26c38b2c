// hello: a self-upgrading HTTP server. Drop a new signed build at --source and it takes over
// without a failed request. Every molt setting is a flag.
//
//   GET /    "hello from <BuildID>"
//   GET /id  {"build_id", "pid", "master_pid", "generation"}
//
// Build it with -DHELLO_BUILD_ID=v2 (CMake) to name the build; ci/demo.sh shows an upgrade.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <iostream>
#include <molt/duration.hpp>
#include <molt/http_server.hpp>
#include <molt/molt.hpp>
#include <nlohmann/json.hpp>

namespace {

// CLI11 validator for durations like "500ms", "2s", "1m".
molt::Duration parse_or_throw(const std::string& text) {
  std::string error;
  auto d = molt::parse_duration(text, error);
  if (!d) throw CLI::ValidationError(error);
  return *d;
}

int serve(molt::State& state) {
  const std::string greeting = "hello from " + state.build_id() + "\n";
  molt::HttpServer server;
  server.Get("/", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(greeting, "text/plain");
  });
  server.Get("/id", [&](const httplib::Request&, httplib::Response& res) {
    nlohmann::json id = {{"build_id", state.build_id()},
                         {"pid", ::getpid()},
                         {"master_pid", state.master_pid()},
                         {"generation", state.generation()}};
    res.set_content(id.dump() + "\n", "application/json");
  });
  return server.serve(state) ? 0 : 1;  // says READY=1, returns once drained
}

}  // namespace

int main(int argc, char** argv) {
  molt::Config config;
  std::string interval = "1s", ready_timeout = "30s", drain_timeout = "30s", probation = "10s",
              stall_timeout = "30s", transfer_timeout = "10m";

  CLI::App app{"hello: a self-upgrading HTTP server (molt example)"};
  app.add_option("--listen", config.listen,
                 "address to listen on (repeatable): HOST:PORT, [V6]:PORT, unix:/PATH")
      ->required();
  app.add_option("--source", config.source,
                 "where new builds appear: a file path, http(s)://URL or s3://bucket/key");
  app.add_option("--pubkey", config.pubkeys,
                 "minisign public key that may sign builds (repeatable)");
  app.add_flag("--insecure-no-verify", config.insecure_no_verify, "accept unsigned builds");
  app.add_flag("--allow-downgrade", config.allow_downgrade, "accept builds signed earlier");
  app.add_option("--interval", interval, "how often to poll the source")->capture_default_str();
  app.add_option("--ready-timeout", ready_timeout, "a new child must be ready within this")
      ->capture_default_str();
  app.add_option("--drain-timeout", drain_timeout, "an old child is killed after this")
      ->capture_default_str();
  app.add_option("--probation", probation, "a crash within this after an upgrade rolls back")
      ->capture_default_str();
  app.add_option("--ca-file", config.http.ca_file, "extra CA bundle for https:// sources");
  app.add_option("--header", config.http.headers,
                 "extra request header 'Name: value' or @FILE of such lines (repeatable; never "
                 "logged)");
  app.add_option("--stall-timeout", stall_timeout, "a download with no byte for this long fails")
      ->capture_default_str();
  app.add_option("--transfer-timeout", transfer_timeout, "a download taking longer fails")
      ->capture_default_str();
  app.add_option("--max-size", config.http.max_size, "largest artifact accepted, in bytes")
      ->capture_default_str();
  app.add_option("--s3-endpoint", config.s3.endpoint, "S3-compatible endpoint URL (default AWS)");
  app.add_option("--s3-region", config.s3.region, "S3 region (default from the AWS settings)");
  app.add_option("--s3-profile", config.s3.profile, "AWS profile for credentials");
  app.add_flag("--s3-anonymous", config.s3.anonymous, "read a public bucket without credentials");
  app.add_option("--state-dir", config.state_dir, "where molt keeps its state");
  app.add_option("--log-level", config.log_level, "trace, debug, info, warn, error")
      ->capture_default_str();
  app.add_option("--log-format", config.log_format, "text or json (one object per line)")
      ->capture_default_str();
  app.add_option("--metrics-file", config.metrics_file,
                 "write the master's counters here (Prometheus text format)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;  // a usage error exits 2, as a bad configuration does
  }
  try {
    config.poll_interval = parse_or_throw(interval);
    config.ready_timeout = parse_or_throw(ready_timeout);
    config.drain_timeout = parse_or_throw(drain_timeout);
    config.probation = parse_or_throw(probation);
    config.http.stall_timeout = parse_or_throw(stall_timeout);
    config.http.total_timeout = parse_or_throw(transfer_timeout);
  } catch (const CLI::ValidationError& e) {
    std::cerr << "hello: " << e.what() << "\n";
    return 2;
  }
  return molt::run(config, serve);
}
