#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <molt/http_server.hpp>
#include <vector>

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

// cpp-httplib's own socket stream is not in its public header; this is the same contract,
// buffered because the request parser reads one byte at a time.
class SocketStream final : public httplib::Stream {
 public:
  SocketStream(int sock, time_t read_sec, time_t read_usec, time_t write_sec, time_t write_usec)
      : sock_(sock),
        read_sec_(read_sec),
        read_usec_(read_usec),
        write_sec_(write_sec),
        write_usec_(write_usec) {}

  bool is_readable() const override {
    return buffered() > 0 || wait_for(sock_, POLLIN, read_sec_, read_usec_);
  }
  bool is_writable() const override { return wait_for(sock_, POLLOUT, write_sec_, write_usec_); }

  ssize_t read(char* ptr, size_t size) override {
    if (buffered() == 0) {
      if (!wait_for(sock_, POLLIN, read_sec_, read_usec_)) return -1;
      ssize_t n;
      do {
        n = ::recv(sock_, buffer_, sizeof buffer_, 0);
      } while (n < 0 && errno == EINTR);
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
    if (!is_writable()) return -1;
    ssize_t n;
    do {
      n = ::send(sock_, ptr, size, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    return n;
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    ::getpeername(sock_, reinterpret_cast<sockaddr*>(&addr), &len);
    ip_and_port(addr, ip, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    ::getsockname(sock_, reinterpret_cast<sockaddr*>(&addr), &len);
    ip_and_port(addr, ip, port);
  }
  socket_t socket() const override { return sock_; }

  bool has_buffered_request() const { return buffered() > 0; }

 private:
  std::size_t buffered() const { return end_ - begin_; }

  int sock_;
  time_t read_sec_, read_usec_, write_sec_, write_usec_;
  char buffer_[4096];
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

}  // namespace

HttpServer::HttpServer(std::size_t threads) : threads_(threads) {
  new_task_queue = [this] { return new httplib::ThreadPool(threads_); };
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
        int sock = ::accept4(fds[i].fd, nullptr, nullptr, SOCK_CLOEXEC);
        if (sock < 0) break;
        tasks->enqueue([this, sock] { process_and_close_socket(sock); });
      }
    }
  }
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

bool HttpServer::process_and_close_socket(socket_t sock) {
  SocketStream stream(sock, read_timeout_sec_, read_timeout_usec_, write_timeout_sec_,
                      write_timeout_usec_);
  bool ok = true;
  for (std::size_t served = 0; served < keep_alive_max_count_; ++served) {
    bool idle_closed = false;
    if (!stream.has_buffered_request() && !wait_for_request(sock, idle_closed)) break;
    pollfd drain{drain_fd_, POLLIN, 0};
    bool draining = ::poll(&drain, 1, 0) > 0;
    bool close_after = draining || served + 1 == keep_alive_max_count_;
    bool closed_by_peer = false;
    ok = process_request(stream, close_after, closed_by_peer, nullptr);
    if (!ok || close_after || closed_by_peer) break;
  }
  ::shutdown(sock, SHUT_WR);
  ::close(sock);
  return ok;
}

}  // namespace molt
