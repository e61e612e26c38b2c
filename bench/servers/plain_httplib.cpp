// plain_httplib: cpp-httplib's own httplib::Server answering GET / with a constant body, the
// baseline that bench/throughput.py measures molt::HttpServer (examples/hello) against.
//
//   plain_httplib PORT BODY     listens on 127.0.0.1:PORT; prints "listening" once it does
#include <httplib.h>

#include <cstdio>
#include <cstdlib>
#include <string>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: plain_httplib PORT BODY\n");
    return 2;
  }
  const int port = std::atoi(argv[1]);
  const std::string body = argv[2];
  httplib::Server server;
  // The pool molt::HttpServer starts by default (128 threads, one per connection served at
  // once), rather than cpp-httplib's max(8, cores - 1): otherwise 16 keep-alive clients would
  // queue behind 8 threads and the comparison would measure pool sizes.
  server.new_task_queue = [] { return new httplib::ThreadPool(128); };
  // Issue 15's figures for plain cpp-httplib were taken with TCP_NODELAY on: set on the
  // listening socket, which Linux passes on to every accepted one. (CPPHTTPLIB_TCP_NODELAY
  // would not do: Debian's cpp-httplib is compiled, its constructor already built.)
  server.set_tcp_nodelay(true);
  server.Get("/", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(body, "text/plain");
  });
  if (!server.bind_to_port("127.0.0.1", port)) {
    std::fprintf(stderr, "plain_httplib: cannot listen on 127.0.0.1:%d\n", port);
    return 1;
  }
  std::printf("listening\n");
  std::fflush(stdout);
  return server.listen_after_bind() ? 0 : 1;
}
