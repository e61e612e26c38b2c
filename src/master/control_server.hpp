// The master's end of the control socket (protocol/control.hpp): it accepts, reads one request
// line per connection and writes the answer whenever the master has it, without ever blocking
// the master's loop. Peers that are neither root nor the master's user are answered with an
// error and never reach the master; so are requests that are too long, not JSON, or too slow.
#pragma once

#include <poll.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "util/fd.hpp"
#include "util/json.hpp"

namespace molt::internal {

class ControlServer {
 public:
  using Clock = std::chrono::steady_clock;
  using TimePoint = Clock::time_point;

  struct Request {
    int connection = 0;  // for answer()
    FlatJson fields;
    uid_t uid = 0;
  };

  // Listens at `path` (a stale socket there is replaced). nullopt and one line on failure.
  static std::optional<ControlServer> open(const std::string& path, std::string& error);
  // The listening socket this master's previous code opened (master/handover.hpp).
  static ControlServer adopt(Fd listener, std::string path) {
    return ControlServer(std::move(listener), std::move(path));
  }
  ControlServer(ControlServer&&) = default;
  ControlServer& operator=(ControlServer&&) = default;
  ~ControlServer();

  // What to poll: the listening socket and each connection, with the events it waits for.
  std::vector<pollfd> poll_fds() const;
  // Every descriptor it holds, for a forked helper to close.
  std::vector<int> fds() const;
  // After poll: accepts, reads, writes. Returns the requests that are now whole.
  std::vector<Request> handle(const std::vector<pollfd>& polled, TimePoint now);
  // Sends `json` (one object) as the answer, then closes.
  void answer(int connection, const std::string& json);
  // Drops connections past their deadline: a request not sent, or an answer not read, in time.
  void expire(TimePoint now);
  std::optional<TimePoint> next_deadline() const;
  const std::string& path() const { return path_; }
  int listener_fd() const { return listener_.get(); }
  bool idle() const { return connections_.empty(); }

 private:
  struct Connection {
    Fd fd;
    uid_t uid = 0;
    std::string in;
    std::string out;
    std::string refusal;    // the answer to whatever it asks, once it has asked
    bool asked = false;     // a whole request came: nothing more is read
    bool answered = false;  // the rest of `out` is the last thing sent
    TimePoint deadline{};   // for the request; then for the answer to be read
  };

  ControlServer(Fd listener, std::string path)
      : listener_(std::move(listener)), path_(std::move(path)) {}
  void accept_all(TimePoint now);
  void read_from(int id, Connection& c, TimePoint now, std::vector<Request>& requests);
  void refuse(Connection& c, const std::string& error, TimePoint now);
  // `json` is the last thing the connection gets; it has kIoTimeout to be read.
  void set_answer(Connection& c, const std::string& json, TimePoint now);
  bool flush(Connection& c);  // false once the connection is done with

  Fd listener_;
  std::string path_;
  std::map<int, Connection> connections_;  // by id
  int next_id_ = 1;
};

}  // namespace molt::internal
