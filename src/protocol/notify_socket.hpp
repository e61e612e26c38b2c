// The sd_notify protocol (man sd_notify): datagrams of "KEY=VALUE" lines on a unix socket named
// in NOTIFY_SOCKET. The master gives each child its own socket, a path in a folder only the
// master's user can enter (other users can neither send to it nor take its name), and counts a
// message only when the kernel says it comes from the child or a process of its group.
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace molt::internal {

class NotifySocket {
 public:
  struct Message {
    std::map<std::string, std::string> fields;
    pid_t pid = 0;  // the sender, from SCM_CREDENTIALS (filled in by the kernel)
    uid_t uid = 0;
    bool from_group = false;  // sent by the child `leader` given to receive(), or its group
  };

  // Binds "<dir>/notify-<generation>" (a stale file of that name is replaced: the folder is
  // the master's alone), with SO_PASSCRED so every datagram carries its sender.
  static std::optional<NotifySocket> create(const std::string& dir, unsigned generation,
                                            std::string& error);
  // A socket bound by this master's previous code (master/handover.hpp).
  static NotifySocket adopt(int fd, std::string name) { return NotifySocket(fd, std::move(name)); }
  NotifySocket(NotifySocket&& other) noexcept;
  NotifySocket& operator=(NotifySocket&& other) noexcept;
  ~NotifySocket();  // closes the socket and removes its file

  int fd() const { return fd_; }
  const std::string& name() const { return name_; }  // the NOTIFY_SOCKET value

  // Reads every pending datagram and tells whether each came from the process group `leader`
  // leads. Descriptors sent along are closed, once the sender was looked at (a sender waiting on
  // them is still alive): that is also the whole answer to BARRIER=1 (sd_notify_barrier waits
  // for the master to close the fd it sent). Truncated datagrams are dropped.
  std::vector<Message> receive(pid_t leader);

 private:
  NotifySocket(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}
  void release();
  int fd_ = -1;
  std::string name_;
};

// Whether `sender` is the child `leader` or a process of its process group (a child leads its
// own group; systemd-notify, run by the child, sends from a pid of its own).
bool sent_by_group(pid_t sender, pid_t leader);

// The longest folder path NotifySocket::create accepts (sun_path holds 108 bytes).
std::size_t max_notify_dir_length();

// Sends `message` to the socket named `socket_name` (a path or "@abstract"). Returns false when
// the name is empty or the send fails.
bool notify(const std::string& socket_name, const std::string& message);

}  // namespace molt::internal
