#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <molt/http_server.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "httplib/growing_pool.hpp"
#include "util/address.hpp"
#include "util/log.hpp"

namespace molt {
namespace {

bool wait_for(int fd, short events, time_t sec, time_t usec) {
  pollfd p{fd, events, 0};
  int timeout = static_cast<int>(sec * 1000 + usec / 1000);
  for (;;) {
    int n = ::poll(&p, 1, timeout);
    if (n < 0 && errno == EINTR) continue;
    return n > 0 && !(p.revents & POLLNVAL);
  }
}

void ip_and_port(const sockaddr_storage& addr, std::string& ip, int& port) {
  std::optional<internal::Address> address = internal::address_from(addr);
  ip = address ? address->host : "";
  port = address ? address->port : 0;
}

// cpp-httplib's own socket stream is not in its public header; this is the same contract, made
// for fewer system calls per request (measured in bench/throughput.py):
// - reads are buffered, because the request parser reads one byte at a time;
// - a read or a write is tried first without waiting, and polls only when the socket is not
//   ready (cpp-httplib's polls before every read and every write);
// - a response's header block is held back and goes out with the body's first write, in one
//   sendmsg and one packet. It is sent alone when anything else comes first: a read, a
//   writability check (cpp-httplib makes one before each call of a content provider) or the end
//   of the request (flush()).
class SocketStream final : public httplib::Stream {
 public:
  // `peer`: the address accept4 gave, if any (saves a getpeername per connection).
  SocketStream(int sock, time_t read_sec, time_t read_usec, time_t write_sec, time_t write_usec,
               const sockaddr_storage* peer)
      : sock_(sock),
        read_sec_(read_sec),
        read_usec_(read_usec),
        write_sec_(write_sec),
        write_usec_(write_usec) {
    if (peer) {
      remote_.emplace();
      ip_and_port(*peer, remote_->ip, remote_->port);
    }
  }

  bool is_readable() const override {
    return buffered() > 0 || (flush() && wait_for(sock_, POLLIN, read_sec_, read_usec_));
  }
  bool is_writable() const override {
    return flush() && wait_for(sock_, POLLOUT, write_sec_, write_usec_);
  }

  ssize_t read(char* ptr, size_t size) override {
    if (buffered() == 0) {
      if (!flush()) return -1;
      ssize_t n = receive(MSG_DONTWAIT);
      if (n < 0 && errno == EAGAIN) {
        if (!wait_for(sock_, POLLIN, read_sec_, read_usec_)) return -1;
        n = receive(0);
      }
      if (n <= 0) return n;
      begin_ = 0;
      end_ = static_cast<std::size_t>(n);
    }
    std::size_t n = std::min(size, buffered());
    std::memcpy(ptr, buffer_ + begin_, n);
    begin_ += n;
    return static_cast<ssize_t>(n);
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (held_.empty() && is_header_block(std::string_view(ptr, size))) {
      held_.assign(ptr, size);
      return static_cast<ssize_t>(size);
    }
    while (!held_.empty()) {
      iovec parts[2] = {{held_.data(), held_.size()}, {const_cast<char*>(ptr), size}};
      ssize_t n = send(parts, 2);
      if (n < 0) return -1;
      std::size_t of_held = std::min(held_.size(), static_cast<std::size_t>(n));
      held_.erase(0, of_held);
      if (held_.empty()) return n - static_cast<ssize_t>(of_held);
    }
    iovec part{const_cast<char*>(ptr), size};
    return send(&part, 1);
  }

  // Sends the held header block, if any (a response with no body).
  bool flush() const {
    while (!held_.empty()) {
      iovec part{held_.data(), held_.size()};
      ssize_t n = send(&part, 1);
      if (n < 0) return false;
      held_.erase(0, static_cast<std::size_t>(n));
    }
    return true;
  }

  // Asked for every request; a connection's addresses do not change, so asked of the kernel once.
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    if (!remote_) remote_ = endpoint(::getpeername);
    ip = remote_->ip;
    port = remote_->port;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    if (!local_) local_ = endpoint(::getsockname);
    ip = local_->ip;
    port = local_->port;
  }
  socket_t socket() const override { return sock_; }

  bool has_buffered_request() const { return buffered() > 0; }

 private:
  std::size_t buffered() const { return end_ - begin_; }

  // cpp-httplib writes a response's status line and headers in one write, then the body.
  static bool is_header_block(std::string_view data) {
    return data.starts_with("HTTP/1.") && data.ends_with("\r\n\r\n");
  }

  ssize_t receive(int flags) {
    ssize_t n;
    do {
      n = ::recv(sock_, buffer_, sizeof buffer_, flags);
    } while (n < 0 && errno == EINTR);
    return n;
  }

  // Sends what it can of `parts`, waiting (up to the write timeout) only when the socket is full.
  ssize_t send(iovec* parts, int count) const {
    msghdr message{};
    message.msg_iov = parts;
    message.msg_iovlen = static_cast<std::size_t>(count);
    for (;;) {
      ssize_t n = ::sendmsg(sock_, &message, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n >= 0) return n;
      if (errno == EINTR) continue;
      if (errno != EAGAIN || !wait_for(sock_, POLLOUT, write_sec_, write_usec_)) return -1;
    }
  }

  struct Endpoint {
    std::string ip;
    int port = 0;
  };
  Endpoint endpoint(int (*name_of)(int, sockaddr*, socklen_t*)) const {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    Endpoint out;
    if (name_of(sock_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      ip_and_port(addr, out.ip, out.port);
    }
    return out;
  }

  int sock_;
  time_t read_sec_, read_usec_, write_sec_, write_usec_;
  mutable std::optional<Endpoint> remote_, local_;
  mutable std::string held_;  // a header block not sent yet
  char buffer_[4096];
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

}  // namespace

HttpServer::HttpServer(std::size_t threads) : threads_(threads) {
  // A few threads exist before the child is ready: a drain moves every keep-alive client of the
  // old child here at once, and a thread created on demand costs its client a clone, a stack and
  // a malloc arena (bench/RESULTS.md, the upgrade window's drain phase).
  new_task_queue = [this] { return new internal::GrowingPool(threads_, kStartThreads); };
  // cpp-httplib closes a keep-alive connection after 5 requests, so a client reconnects every
  // fifth request; nginx's default is 1000 (keepalive_requests), Go's net/http has no limit.
  set_keep_alive_max_count(kKeepAliveMaxCount);
}

bool HttpServer::serve(State& state) {
  drain_fd_ = state.drain_fd();
  std::vector<pollfd> fds;
  for (const Listener& l : state.listeners()) fds.push_back({l.fd, POLLIN, 0});
  if (fds.empty()) {
    internal::logger().error("http server: no listeners were passed to this process");
    return false;
  }
  fds.push_back({drain_fd_, POLLIN, 0});
  std::unique_ptr<httplib::TaskQueue> tasks(new_task_queue());
  state.ready();
  while (!state.draining()) {
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      internal::logger().error("http server: poll: {}", std::strerror(errno));
      break;
    }
    if (fds.back().revents) break;
    for (std::size_t i = 0; i + 1 < fds.size(); ++i) {
      if (!fds[i].revents) continue;
      // The listener is non-blocking and shared: another child may win the race (EAGAIN).
      for (;;) {
        sockaddr_storage peer{};
        socklen_t peer_size = sizeof peer;
        int sock =
            ::accept4(fds[i].fd, reinterpret_cast<sockaddr*>(&peer), &peer_size, SOCK_CLOEXEC);
        if (sock < 0) break;
        // One write per response (SocketStream): nothing for Nagle to hold back, except the
        // tail of a large body, which should not wait for the peer's delayed ACK. A unix
        // socket refuses the option; that is fine.
        int on = 1;
        ::setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
        tasks->enqueue([this, sock, peer] { serve_connection(sock, &peer); });
      }
    }
  }
  draining_.store(true, std::memory_order_relaxed);
  // Stop accepting: close only this process's copies; the master and the new child keep theirs.
  for (std::size_t i = 0; i + 1 < fds.size(); ++i) ::close(fds[i].fd);
  state.stopping();
  tasks->shutdown();  // waits for every connection to finish
  return true;
}

bool HttpServer::wait_for_request(int sock, bool& idle_closed) {
  pollfd fds[2] = {{sock, POLLIN, 0}, {drain_fd_, POLLIN, 0}};
  int timeout = static_cast<int>(keep_alive_timeout_sec_ * 1000);
  for (;;) {
    int n = ::poll(fds, 2, timeout);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;  // keep-alive timeout
    // Seen here first, the drain must count for this connection's next answer, whether or not
    // serve() has woken to set the flag yet.
    if (fds[1].revents) draining_.store(true, std::memory_order_relaxed);
    if (fds[0].revents) return true;
    // Draining while idle: give the client a last chance to send, then close.
    pollfd last{sock, POLLIN, 0};
    int left = static_cast<int>(idle_drain_timeout_.count());
    while ((n = ::poll(&last, 1, left)) < 0 && errno == EINTR) {
    }
    idle_closed = n <= 0;
    return n > 0;
  }
}

bool HttpServer::process_and_close_socket(socket_t sock) { return serve_connection(sock, nullptr); }

bool HttpServer::serve_connection(int sock, const sockaddr_storage* peer) {
  SocketStream stream(sock, read_timeout_sec_, read_timeout_usec_, write_timeout_sec_,
                      write_timeout_usec_, peer);
  bool ok = true;
  for (std::size_t served = 0; served < keep_alive_max_count_; ++served) {
    bool idle_closed = false;
    if (!stream.has_buffered_request() && !wait_for_request(sock, idle_closed)) break;
    // Set by serve() when the drain begins: no system call per request to look.
    bool draining = draining_.load(std::memory_order_relaxed);
    bool close_after = draining || served + 1 == keep_alive_max_count_;
    bool closed_by_peer = false;
    ok = process_request(stream, close_after, closed_by_peer, nullptr);
    ok = stream.flush() && ok;  // an error answer's header block too
    if (!ok || close_after || closed_by_peer) break;
  }
  ::shutdown(sock, SHUT_WR);
  ::close(sock);
  return ok;
}

}  // namespace molt
