// What a child program sees of molt.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace molt {

struct Listener {
  int fd = -1;
  std::string name;     // from LISTEN_FDNAMES
  std::string address;  // "127.0.0.1:8080", "[::1]:8080", "unix:/run/app.sock"
};

class State {
 public:
  virtual ~State() = default;

  // The inherited listening sockets, in the order of Config::listen.
  virtual const std::vector<Listener>& listeners() const = 0;
  // This build's BuildID.
  virtual const std::string& build_id() const = 0;
  // 1 for the first child the master started, then one more for each child after it.
  virtual unsigned generation() const = 0;
  // The master's pid (stable for the life of the service); 0 when not supervised.
  virtual int master_pid() const = 0;

  // Tells the master this child serves (READY=1). Call once the listeners are being accepted on.
  virtual void ready() = 0;
  // Tells the master this child has stopped accepting and is finishing what it has
  // (STOPPING=1). Servers that drain call it once their listeners are closed.
  virtual void stopping() = 0;
  // Sends a STATUS= line the master logs.
  virtual void status(const std::string& text) = 0;

  // Asks the master to check the source now, as SIGHUP to the master does.
  virtual void request_check() = 0;
  // Asks the master to restart the program on the binary that is installed now, as SIGUSR2 to
  // the master does (overseer.Restart()): a new child starts, and this one drains once it is
  // ready. Not supervised, both are no-ops.
  virtual void request_restart() = 0;

  // Draining begins when the master sends the drain signal, or when the master dies.
  virtual bool draining() const = 0;
  // Becomes readable when draining begins, for poll/epoll loops. Never read from it.
  virtual int drain_fd() const = 0;
  // Runs `callback` once when draining begins: for blocking servers. Registered before draining
  // begins, it runs on a molt thread (one thread runs every such callback, in the order they
  // were registered). Registered once draining has begun, it runs at once, on the calling
  // thread, before on_drain returns. Either way exactly once, whichever comes first.
  virtual void on_drain(std::function<void()> callback) = 0;
  // Blocks until draining begins.
  virtual void wait_for_drain() = 0;
};

}  // namespace molt
