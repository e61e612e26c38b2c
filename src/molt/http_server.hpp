// Serving HTTP with cpp-httplib on molt's inherited listeners, with a graceful drain.
//
// cpp-httplib cannot serve an fd it did not create, and its stop() shuts the listening socket
// down for every process that shares it. This server runs its own accept loop over every
// listener of a molt::State and its own keep-alive loop per connection, so that when draining
// begins it stops accepting (the new child accepts on the same sockets), lets in-flight requests
// finish, answers each keep-alive connection's next request with "Connection: close", and
// closes connections that stay idle for the idle drain timeout. Keep-alive clients move to the
// new build within one request, without an error.
//
//   molt::HttpServer server;
//   server.Get("/", [](const httplib::Request&, httplib::Response& res) { ... });
//   return server.serve(state) ? 0 : 1;
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <molt/state.hpp>

namespace molt {

class HttpServer : public httplib::Server {
 public:
  // Requests on one keep-alive connection before it is closed (set_keep_alive_max_count).
  static constexpr std::size_t kKeepAliveMaxCount = 1000;

  // Threads started before serve() reports ready; the rest start as connections need them.
  static constexpr std::size_t kStartThreads = 16;

  // `threads` bounds the connections served at once (each keep-alive connection holds one).
  explicit HttpServer(std::size_t threads = 128);

  // How long an idle keep-alive connection is kept once draining has begun.
  void set_idle_drain_timeout(std::chrono::milliseconds timeout) { idle_drain_timeout_ = timeout; }

  // Accepts on every listener of `state`, tells the master it is ready, and returns once
  // draining has begun and every connection is finished. False if it could not serve.
  bool serve(State& state);

 private:
  // Replaces cpp-httplib's per-connection loop (a private virtual of httplib::Server).
  bool process_and_close_socket(socket_t sock) override;
  bool serve_connection(int sock, const sockaddr_storage* peer);
  bool wait_for_request(int sock, bool& idle_closed);

  std::size_t threads_;
  std::chrono::milliseconds idle_drain_timeout_{2'000};
  int drain_fd_ = -1;
  std::atomic<bool> draining_{false};
};

}  // namespace molt
