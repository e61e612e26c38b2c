// Config::ready, parsed: how the master tells that a new child is ready.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace molt::internal {

struct ReadyMode {
  enum class Kind {
    kNotify,  // READY=1 on NOTIFY_SOCKET
    kDelay,   // it ran `delay` without exiting
    kHttp,    // GET `path` on the first TCP listener, answered 2xx by this child
    kTcp,     // this child accepted a connection on the first TCP listener
    kExec,    // `command` exited 0
  };
  Kind kind = Kind::kNotify;
  std::chrono::milliseconds delay{0};
  std::string path;
  std::string command;

  // Probes (http, tcp) connect to the first TCP listener.
  bool needs_tcp_listener() const { return kind == Kind::kHttp || kind == Kind::kTcp; }

  // "notify", "delay:300ms", "http:/healthz", "tcp", "exec:COMMAND"; nullopt and `error`
  // naming the text and the cause otherwise.
  static std::optional<ReadyMode> parse(const std::string& text, std::string& error);
};

}  // namespace molt::internal
