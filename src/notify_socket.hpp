// The sd_notify protocol (man sd_notify): datagrams of "KEY=VALUE" lines on a unix socket named
// in NOTIFY_SOCKET ("@name" is the abstract namespace). The master gives each child its own
// socket, so a message's socket says which child sent it, whichever of its processes did.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace molt {

class NotifySocket {
 public:
  // Binds an abstract socket "@molt/<master pid>/<generation>".
  static std::optional<NotifySocket> create(int master_pid, unsigned generation,
                                            std::string& error);
  NotifySocket(NotifySocket&& other) noexcept;
  NotifySocket& operator=(NotifySocket&& other) noexcept;
  ~NotifySocket();

  int fd() const { return fd_; }
  const std::string& name() const { return name_; }  // the NOTIFY_SOCKET value

  // Reads every pending datagram; each is parsed into its KEY=VALUE pairs.
  std::vector<std::map<std::string, std::string>> receive();

 private:
  NotifySocket(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}
  int fd_ = -1;
  std::string name_;
};

// Sends `message` to the socket named `socket_name` (a path or "@abstract"). Returns false when
// the name is empty or the send fails.
bool notify(const std::string& socket_name, const std::string& message);

}  // namespace molt
