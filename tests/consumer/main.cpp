// The README's server, with its three settings taken from the command line:
//   app LISTEN SOURCE PUBKEY
#include <molt/http_server.hpp>  // cpp-httplib server that drains gracefully
#include <molt/molt.hpp>

int main(int argc, char** argv) {
  if (argc != 4) return 2;
  molt::Config config;
  config.listen = {argv[1]};   // the master owns the sockets for its whole life
  config.source = argv[2];     // or https://updates.example.com/app, s3://bucket/app
  config.pubkeys = {argv[3]};  // minisign public key(s) that may sign builds
  return molt::run(config, [](molt::State& state) {
    molt::HttpServer server;  // a httplib::Server
    server.Get("/", [&](const httplib::Request&, httplib::Response& res) {
      res.set_content("hello from " + state.build_id() + "\n", "text/plain");
    });
    return server.serve(state) ? 0 : 1;  // says READY=1, returns once drained
  });
}
