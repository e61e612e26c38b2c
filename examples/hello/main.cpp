// hello: a self-upgrading HTTP server. Drop a new build at --source and it takes over without a
// failed request.
//
//   GET /                  "hello from <BuildID>"
//   GET /sleep?duration=2s  waits, then answers the same
//   GET /id                {"build_id", "pid", "master_pid", "generation", "logger"}
//   GET /request/check     asks the master to check the source now (State::request_check)
//   GET /request/restart   asks the master for a new child on the same binary (request_restart)
//
// Its own log lines ("hello: ...") go through spdlog's default logger, which it sets up before
// molt::run: molt logs through a logger of its own and leaves that one alone.
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <molt/duration.hpp>
#include <molt/http_server.hpp>
#include <molt/molt.hpp>
#include <nlohmann/json.hpp>
#include <string_view>
#include <thread>

#include "build_info.hpp"
#include "unruly_worker.hpp"

namespace {

// CLI11 validator for durations like "500ms", "2s", "1m".
molt::Duration parse_or_throw(const std::string& text) {
  std::string error;
  auto d = molt::parse_duration(text, error);
  if (!d) throw CLI::ValidationError(error);
  return *d;
}

int serve(molt::State& state, molt::Duration init_delay) {
  const std::string_view crash = hello::kCrash;
  if (crash == "at-start") {
    std::cerr << "hello: this build exits at start (HELLO_CRASH=at-start)\n";
    return 3;
  }
  std::this_thread::sleep_for(init_delay);
  if (std::string_view(hello::kWorker) == "unruly" && !state.listeners().empty()) {
    hello::fork_unruly_worker(state.listeners().front().fd, state.build_id());
  }
  const std::string greeting = "hello from " + state.build_id() + "\n";
  molt::HttpServer server;
  server.Get("/", [&](const httplib::Request&, httplib::Response& res) {
    if (crash == "on-request") std::abort();
    res.set_content(greeting, "text/plain");
  });
  server.Get("/sleep", [&](const httplib::Request& req, httplib::Response& res) {
    std::string error;
    auto d = molt::parse_duration(req.get_param_value("duration"), error);
    if (!d) {
      res.status = 400;
      res.set_content(error + "\n", "text/plain");
      return;
    }
    std::this_thread::sleep_for(*d);
    res.set_content(greeting, "text/plain");
  });
  server.Get("/id", [&](const httplib::Request&, httplib::Response& res) {
    nlohmann::json id = {{"build_id", state.build_id()},
                         {"pid", ::getpid()},
                         {"master_pid", state.master_pid()},
                         {"generation", state.generation()},
                         {"logger", spdlog::default_logger()->name()}};
    res.set_content(id.dump() + "\n", "application/json");
  });
  server.Get("/request/check", [&](const httplib::Request&, httplib::Response& res) {
    spdlog::info("asking the master to check now");
    state.request_check();
    res.set_content("asked\n", "text/plain");
  });
  server.Get("/request/restart", [&](const httplib::Request&, httplib::Response& res) {
    spdlog::info("asking the master to restart");
    state.request_restart();
    res.set_content("asked\n", "text/plain");
  });
  return server.serve(state) ? 0 : 1;
}

}  // namespace

// While the file at `path` exists, new builds are refused (a deploy freeze, say).
std::string refuse_while_exists(const std::string& path, const std::string& build_id) {
  if (::access(path.c_str(), F_OK) != 0) return {};
  return "build " + build_id + " waits: " + path + " exists";
}

int main(int argc, char** argv) {
  // The program's own logger, set before molt::run: it runs in the master and in every child.
  auto own = spdlog::stderr_logger_mt("hello");
  own->set_pattern("hello[%P] %l: %v");
  spdlog::set_default_logger(own);

  molt::Config config;
  std::string refuse_while;
  config.poll_interval = std::chrono::seconds(1);
  std::string stall_timeout = "30s", transfer_timeout = "10m";
  std::string interval = "1s", init_delay = hello::kInitDelay, ready_timeout = "30s",
              drain_timeout = "30s", probation = "10s";

  CLI::App app{"hello: a self-upgrading HTTP server (molt example)"};
  app.add_option("--listen", config.listen,
                 "address to listen on (repeatable): HOST:PORT, "
                 "[V6]:PORT, unix:/PATH")
      ->required();
  app.add_option("--source", config.source,
                 "where new builds appear: a file path, http(s)://URL or s3://bucket/key");
  app.add_option("--pubkey", config.pubkeys,
                 "minisign public key that may sign builds (repeatable)");
  app.add_flag("--insecure-no-verify", config.insecure_no_verify, "accept unsigned builds");
  app.add_flag("--allow-downgrade", config.allow_downgrade, "accept builds signed earlier");
  app.add_option("--interval", interval, "how often to poll the source")->capture_default_str();
  app.add_option("--init-delay", init_delay, "wait this long before becoming ready")
      ->capture_default_str();
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
  app.add_option("--refuse-while", refuse_while,
                 "refuse new builds while this file exists (Config::pre_upgrade)");
  app.add_flag("!--unsupervised", config.supervise,
               "no master: serve in this process (as MOLT_SUPERVISE=0)");
  CLI11_PARSE(app, argc, argv);
  molt::Duration delay;
  try {
    config.poll_interval = parse_or_throw(interval);
    config.ready_timeout = parse_or_throw(ready_timeout);
    config.drain_timeout = parse_or_throw(drain_timeout);
    config.probation = parse_or_throw(probation);
    config.http.stall_timeout = parse_or_throw(stall_timeout);
    config.http.total_timeout = parse_or_throw(transfer_timeout);
    delay = parse_or_throw(init_delay);
  } catch (const CLI::ValidationError& e) {
    std::cerr << "hello: " << e.what() << "\n";
    return 2;
  }
  if (!refuse_while.empty()) {
    config.pre_upgrade = [refuse_while](const std::string&, const std::string& build_id) {
      return refuse_while_exists(refuse_while, build_id);
    };
  }
  return molt::run(config, [&](molt::State& state) { return serve(state, delay); });
}
