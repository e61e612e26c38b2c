// hello: a self-upgrading HTTP server. Drop a new signed build at --source and it takes over
// without a failed request. Every molt setting is a flag.
//
//   GET /    "hello from <BuildID>"
//   GET /id  {"build_id", "pid", "master_pid", "generation"}
//
// Build it with -DHELLO_BUILD_ID=v2 (CMake) to name the build; ci/demo.sh shows an upgrade.
#include <unistd.h>

#include <molt/http_server.hpp>
#include <molt/molt.hpp>
#include <nlohmann/json.hpp>

#include "config_flags.hpp"

namespace {

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
  CLI::App app{"hello: a self-upgrading HTTP server (molt example)", "hello"};
  molt::cli::ConfigFlags flags(app, config);
  if (int code = flags.parse(argc, argv); code >= 0) return code;
  return molt::run(config, serve);
}
