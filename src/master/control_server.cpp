#include "master/control_server.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "protocol/control.hpp"
#include "util/address.hpp"
#include "util/log.hpp"

namespace molt::internal {
namespace {

// A client has this long to send its request, and to read its answer once it is written.
constexpr std::chrono::seconds kIoTimeout{5};
// More at once is a client gone wrong (or hostile): the extra ones are closed at once.
constexpr std::size_t kMaxConnections = 16;

std::string error_answer(const std::string& error) {
  return JsonObject().boolean("ok", false).string("error", error).str();
}

}  // namespace

std::optional<ControlServer> ControlServer::open(const std::string& path, std::string& error) {
  sockaddr_un sa;
  std::optional<socklen_t> length = unix_socket_address(path, sa);
  if (!length) {
    error = "control socket " + path + ": the path is too long for a unix socket (" +
            std::to_string(path.size()) + " bytes, at most " + std::to_string(kMaxUnixSocketName) +
            ")";
    return std::nullopt;
  }
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  ::unlink(path.c_str());  // a killed master's socket: the folder is ours alone
  // 0600 from the start: the folder already keeps others out, this keeps them out of the
  // socket if the folder's mode is ever loosened.
  mode_t old_mask = ::umask(0177);
  bool bound = fd && ::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), *length) == 0;
  ::umask(old_mask);
  if (!bound || ::listen(fd.get(), 16) != 0) {
    error = "control socket " + path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  return ControlServer(std::move(fd), path);
}

ControlServer::~ControlServer() {
  if (listener_) ::unlink(path_.c_str());
}

std::vector<pollfd> ControlServer::poll_fds() const {
  std::vector<pollfd> fds{{listener_.get(), POLLIN, 0}};
  for (const auto& [id, c] : connections_) {
    // A connection waiting for its answer is not polled: the master answers when it can, and a
    // client that left by then is found out by the send.
    if (c.asked && !c.answered) continue;
    fds.push_back({c.fd.get(), static_cast<short>(c.out.empty() ? POLLIN : POLLOUT), 0});
  }
  return fds;
}

std::vector<int> ControlServer::fds() const {
  std::vector<int> fds{listener_.get()};
  for (const auto& [id, c] : connections_) fds.push_back(c.fd.get());
  return fds;
}

std::vector<ControlServer::Request> ControlServer::handle(const std::vector<pollfd>& polled,
                                                          TimePoint now) {
  std::vector<Request> requests;
  std::map<int, short> ready;
  for (const pollfd& p : polled) ready[p.fd] = p.revents;
  if (ready[listener_.get()]) accept_all(now);
  for (auto it = connections_.begin(); it != connections_.end();) {
    auto [id, c] = std::tie(it->first, it->second);
    short events = ready.count(c.fd.get()) ? ready[c.fd.get()] : 0;
    if ((events & (POLLIN | POLLHUP | POLLERR)) && !c.asked && !c.answered) {
      read_from(id, c, now, requests);
    }
    bool keep = !c.answered || flush(c);
    it = keep ? std::next(it) : connections_.erase(it);
  }
  return requests;
}

void ControlServer::accept_all(TimePoint now) {
  for (;;) {
    Fd fd(::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd) return;
    if (connections_.size() >= kMaxConnections) continue;  // closed: too many at once
    Connection c{.fd = std::move(fd), .deadline = now + kIoTimeout};
    ucred peer{};
    socklen_t length = sizeof peer;
    if (::getsockopt(c.fd.get(), SOL_SOCKET, SO_PEERCRED, &peer, &length) != 0) {
      refuse(c, "cannot tell who is asking: " + std::string(std::strerror(errno)), now);
    } else if (peer.uid != 0 && peer.uid != ::geteuid()) {
      logger().warn(
          "control socket: refused pid {} (uid {}): only root or uid {} may control "
          "this master",
          peer.pid, peer.uid, ::geteuid());
      refuse(c,
             "uid " + std::to_string(peer.uid) + " may not control this master (only root or uid " +
                 std::to_string(::geteuid()) + ")",
             now);
    }
    c.uid = peer.uid;
    connections_.emplace(next_id_++, std::move(c));
  }
}

void ControlServer::read_from(int id, Connection& c, TimePoint now,
                              std::vector<Request>& requests) {
  char buffer[1024];
  for (;;) {
    ssize_t n = ::recv(c.fd.get(), buffer, sizeof buffer, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n <= 0) {
      // Gone before a whole request: nothing to answer, but a refusal is still said.
      if (c.refusal.empty()) {
        c.answered = true;
      } else {
        refuse(c, c.refusal, now);
      }
      return;
    }
    c.in.append(buffer, static_cast<std::size_t>(n));
    std::size_t end = c.in.find('\n');
    if (end == std::string::npos || end > control::kMaxRequest) {
      if (c.in.size() > control::kMaxRequest) {
        // Read to its end all the same, so that the answer is not lost to a reset.
        if (c.refusal.empty()) {
          c.refusal =
              "the request is longer than " + std::to_string(control::kMaxRequest) + " bytes";
        }
        c.in.erase(0, end == std::string::npos ? c.in.size() : end);
      }
      if (c.in.find('\n') == std::string::npos) continue;
    }
    if (!c.refusal.empty()) {
      refuse(c, c.refusal, now);
      return;
    }
    std::string error;
    std::optional<FlatJson> fields =
        parse_flat_json_object(std::string_view(c.in).substr(0, end), error);
    if (!fields) {
      refuse(c, "the request is not one JSON object: " + error, now);
      return;
    }
    c.deadline = {};  // the master answers within its own bounds
    c.asked = true;
    c.in.clear();
    requests.push_back({id, std::move(*fields), c.uid});
    return;
  }
}

void ControlServer::refuse(Connection& c, const std::string& error, TimePoint now) {
  set_answer(c, error_answer(error), now);
}

void ControlServer::set_answer(Connection& c, const std::string& json, TimePoint now) {
  c.out = json + "\n";
  c.answered = true;
  c.deadline = now + kIoTimeout;
}

void ControlServer::answer(int connection, const std::string& json) {
  auto it = connections_.find(connection);
  if (it == connections_.end() || !it->second.asked || it->second.answered) return;
  set_answer(it->second, json, Clock::now());
  if (!flush(it->second)) connections_.erase(it);
}

bool ControlServer::flush(Connection& c) {
  while (!c.out.empty()) {
    ssize_t n = ::send(c.fd.get(), c.out.data(), c.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    if (n <= 0) return false;
    c.out.erase(0, static_cast<std::size_t>(n));
  }
  return !c.answered;
}

void ControlServer::expire(TimePoint now) {
  std::erase_if(connections_, [&](const auto& entry) {
    return entry.second.deadline != TimePoint{} && now >= entry.second.deadline;
  });
}

std::optional<ControlServer::TimePoint> ControlServer::next_deadline() const {
  std::optional<TimePoint> next;
  for (const auto& [id, c] : connections_) {
    if (c.deadline != TimePoint{} && (!next || c.deadline < *next)) next = c.deadline;
  }
  return next;
}

}  // namespace molt::internal
