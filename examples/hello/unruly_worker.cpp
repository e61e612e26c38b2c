#include "unruly_worker.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>

namespace hello {

void fork_unruly_worker(int listener, const std::string& build_id) {
  if (::fork() != 0) return;
  ::signal(SIGTERM, SIG_IGN);
  ::signal(SIGINT, SIG_IGN);
  const std::string body = "hello from " + build_id + " (worker)\n";
  const std::string answer = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) +
                             "\r\nConnection: close\r\n\r\n" + body;
  for (;;) {
    pollfd p{listener, POLLIN, 0};
    if (::poll(&p, 1, -1) <= 0) continue;
    int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;  // another process took it
    std::string request;
    char buffer[1024];
    while (request.find("\r\n\r\n") == std::string::npos) {
      ssize_t n = ::read(fd, buffer, sizeof buffer);
      if (n <= 0) break;
      request.append(buffer, static_cast<std::size_t>(n));
    }
    (void)!::write(fd, answer.data(), answer.size());
    ::close(fd);
  }
}

}  // namespace hello
