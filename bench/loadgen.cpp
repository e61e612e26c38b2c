// loadgen: a closed-loop HTTP/1.1 load client that records every request, for the benchmarks.
//
// N connections on one thread (epoll). Each connection sends GET, waits for the whole answer,
// and sends the next one at once. Two kinds:
//   --mode keepalive   one connection per slot, reopened only when the server answers
//                      "Connection: close" (as wrk does; a request that then fails is an error)
//   --mode close       a new connection per request, "Connection: close" (as hey
//   -disable-keepalive)
// Every request is one CSV line in --out:  start_ns,latency_us,conn,result,tag
//   start_ns   CLOCK_REALTIME when the request began (connect or write), in ns
//   latency_us until the last byte of the answer (or the failure)
//   conn       slot number (keep-alive: the same client connection slot across reconnects)
//   result     HTTP status, or an error: connect, reset, eof, write, timeout
//   tag        the word after "hello from " in the body (the BuildID), "-" if none
// It stops issuing requests after --duration seconds, --max-requests requests or a SIGINT/SIGTERM
// (a bench that decides when it has seen enough), waits for the
// ones in flight (each bounded by --timeout-ms), prints a one-line JSON summary and exits.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <string>
#include <vector>

namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_stop(int) { g_stop = 1; }

int64_t now_ns(clockid_t clock) {
  timespec ts;
  clock_gettime(clock, &ts);
  return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  int connections = 16;
  double duration = 10;
  long max_requests = 5'000'000;
  bool keepalive = true;
  int timeout_ms = 10'000;
  std::string path = "/";
  std::string out;
};

enum class St { kIdle, kConnecting, kWriting, kReading, kWaitEof, kBackoff };

struct Conn {
  int fd = -1;
  St st = St::kIdle;
  int64_t start_real = 0, start_mono = 0, deadline = 0, backoff_until = 0;
  std::string rbuf;
  size_t written = 0;
  bool fresh = false;  // connected for this request
};

struct Stats {
  long requests = 0, ok = 0, non2xx = 0;
  std::map<std::string, long> errors;
};

Options opt;
std::string request_text;
FILE* out = nullptr;
Stats stats;
int epfd = -1;
sockaddr_in addr{};

void record(Conn& c, int idx, const std::string& result, const std::string& tag) {
  int64_t lat_us = (now_ns(CLOCK_MONOTONIC) - c.start_mono) / 1000;
  std::fprintf(out, "%lld,%lld,%d,%s,%s\n", (long long)c.start_real, (long long)lat_us, idx,
               result.c_str(), tag.c_str());
  stats.requests++;
  if (!result.empty() && result[0] >= '0' && result[0] <= '9') {
    if (result[0] == '2')
      stats.ok++;
    else
      stats.non2xx++;
  } else {
    stats.errors[result]++;
  }
}

void close_conn(Conn& c) {
  if (c.fd >= 0) {
    epoll_ctl(epfd, EPOLL_CTL_DEL, c.fd, nullptr);
    ::close(c.fd);
  }
  c.fd = -1;
}

void watch(Conn& c, int idx, uint32_t events, bool add) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u32 = uint32_t(idx);
  epoll_ctl(epfd, add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, c.fd, &ev);
}

// Starts a request on slot idx: connects if needed, then writes.
void start_request(Conn& c, int idx) {
  c.start_real = now_ns(CLOCK_REALTIME);
  c.start_mono = now_ns(CLOCK_MONOTONIC);
  c.deadline = c.start_mono + int64_t(opt.timeout_ms) * 1'000'000;
  c.rbuf.clear();
  c.written = 0;
  if (c.fd >= 0) {
    c.fresh = false;
    c.st = St::kWriting;
    watch(c, idx, EPOLLOUT, false);
    return;
  }
  c.fresh = true;
  c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  int r = ::connect(c.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  if (r == 0 || errno == EINPROGRESS) {
    c.st = r == 0 ? St::kWriting : St::kConnecting;
    watch(c, idx, EPOLLOUT, true);
    return;
  }
  record(c, idx, "connect", "-");
  ::close(c.fd);
  c.fd = -1;
  c.st = St::kBackoff;
  c.backoff_until = now_ns(CLOCK_MONOTONIC) + 1'000'000;
}

void fail(Conn& c, int idx, const char* what) {
  record(c, idx, what, "-");
  close_conn(c);
  c.st = St::kBackoff;
  c.backoff_until = now_ns(CLOCK_MONOTONIC) + 1'000'000;  // 1 ms, so a dead server is no spin
}

bool iequals_prefix(const char* p, const char* word) {
  for (; *word; ++p, ++word)
    if (std::tolower(static_cast<unsigned char>(*p)) != *word) return false;
  return true;
}

// Returns true when a whole answer is in rbuf; fills status, close and tag.
bool parse_answer(const std::string& b, int& status, bool& server_closes, std::string& tag) {
  size_t end = b.find("\r\n\r\n");
  if (end == std::string::npos) return false;
  if (b.size() < 12) return false;
  status = std::atoi(b.c_str() + 9);
  long length = 0;
  server_closes = b.compare(0, 8, "HTTP/1.0") == 0;
  for (size_t line = b.find("\r\n") + 2; line < end;) {
    size_t eol = b.find("\r\n", line);
    const char* p = b.c_str() + line;
    if (iequals_prefix(p, "content-length:")) length = std::atol(p + 15);
    if (iequals_prefix(p, "connection:")) {
      std::string v = b.substr(line + 11, eol - line - 11);
      for (auto& ch : v) ch = char(std::tolower(static_cast<unsigned char>(ch)));
      if (v.find("close") != std::string::npos) server_closes = true;
      if (v.find("keep-alive") != std::string::npos) server_closes = false;
    }
    line = eol + 2;
  }
  if (b.size() < end + 4 + size_t(length)) return false;
  std::string body = b.substr(end + 4, size_t(length));
  size_t at = body.find("hello from ");
  tag = "-";
  if (at != std::string::npos) {
    size_t s = at + 11, e = body.find_first_of(" \r\n", s);
    tag = body.substr(s, e == std::string::npos ? std::string::npos : e - s);
  }
  return true;
}

void on_event(Conn& c, int idx, uint32_t events) {
  if (c.st == St::kConnecting) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return fail(c, idx, "connect");
    c.st = St::kWriting;
  }
  if (c.st == St::kWriting) {
    while (c.written < request_text.size()) {
      ssize_t n = ::send(c.fd, request_text.data() + c.written, request_text.size() - c.written,
                         MSG_NOSIGNAL);
      if (n < 0 && errno == EAGAIN) return;
      if (n < 0) return fail(c, idx, errno == ECONNRESET ? "reset" : "write");
      c.written += size_t(n);
    }
    c.st = St::kReading;
    watch(c, idx, EPOLLIN | EPOLLRDHUP, false);
    return;
  }
  if (c.st == St::kReading || c.st == St::kWaitEof) {
    char buf[16384];
    for (;;) {
      ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
      if (n < 0 && errno == EAGAIN) break;
      if (n < 0 && errno == EINTR) continue;
      if (c.st == St::kWaitEof) {
        if (n <= 0) {  // the server closed after its answer: the slot is free
          close_conn(c);
          c.st = St::kIdle;
          return;
        }
        continue;  // ignore anything after the answer
      }
      if (n < 0) return fail(c, idx, errno == ECONNRESET ? "reset" : "read");
      if (n == 0) return fail(c, idx, "eof");
      c.rbuf.append(buf, size_t(n));
      int status = 0;
      bool server_closes = false;
      std::string tag;
      if (parse_answer(c.rbuf, status, server_closes, tag)) {
        record(c, idx, std::to_string(status), tag);
        if (!opt.keepalive) {
          c.st = St::kWaitEof;
          continue;
        }
        if (server_closes) close_conn(c);
        c.st = St::kIdle;
        return;
      }
    }
    (void)events;
  }
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "loadgen: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--port")
      opt.port = std::atoi(next().c_str());
    else if (a == "--host")
      opt.host = next();
    else if (a == "--connections" || a == "-c")
      opt.connections = std::atoi(next().c_str());
    else if (a == "--duration" || a == "-d")
      opt.duration = std::atof(next().c_str());
    else if (a == "--max-requests")
      opt.max_requests = std::atol(next().c_str());
    else if (a == "--mode")
      opt.keepalive = next() == "keepalive";
    else if (a == "--timeout-ms")
      opt.timeout_ms = std::atoi(next().c_str());
    else if (a == "--path")
      opt.path = next();
    else if (a == "--out")
      opt.out = next();
    else {
      std::fprintf(stderr,
                   "usage: loadgen --port P [--connections N] [--duration S] "
                   "[--max-requests N] [--mode keepalive|close] [--timeout-ms MS] "
                   "[--path /] --out FILE\n");
      return 2;
    }
  }
  if (opt.port <= 0 || opt.out.empty() || opt.connections <= 0 || opt.duration <= 0) {
    std::fprintf(stderr, "loadgen: --port and --out are required\n");
    return 2;
  }
  out = std::fopen(opt.out.c_str(), "w");
  if (!out) {
    std::perror(opt.out.c_str());
    return 1;
  }
  static char outbuf[1 << 20];
  std::setvbuf(out, outbuf, _IOFBF, sizeof outbuf);
  addr.sin_family = AF_INET;
  addr.sin_port = htons(uint16_t(opt.port));
  inet_pton(AF_INET, opt.host.c_str(), &addr.sin_addr);
  request_text = "GET " + opt.path + " HTTP/1.1\r\nHost: " + opt.host + ":" +
                 std::to_string(opt.port) + "\r\nUser-Agent: molt-loadgen\r\n" +
                 (opt.keepalive ? "" : "Connection: close\r\n") + "\r\n";
  std::signal(SIGINT, on_stop);
  std::signal(SIGTERM, on_stop);
  epfd = epoll_create1(EPOLL_CLOEXEC);
  std::vector<Conn> conns(size_t(opt.connections));
  const int64_t t0 = now_ns(CLOCK_MONOTONIC);
  const int64_t stop_at = t0 + int64_t(opt.duration * 1e9);
  long started = 0;
  bool stopping = false;
  std::vector<epoll_event> events(size_t(opt.connections) + 1);
  for (;;) {
    int64_t now = now_ns(CLOCK_MONOTONIC);
    if (!stopping && (now >= stop_at || started >= opt.max_requests || g_stop)) stopping = true;
    bool busy = false;
    for (size_t i = 0; i < conns.size(); ++i) {
      Conn& c = conns[i];
      if (c.st == St::kBackoff && now >= c.backoff_until) c.st = St::kIdle;
      if (c.st == St::kIdle && !stopping) {
        ++started;
        start_request(c, int(i));
      }
      if (c.st == St::kConnecting || c.st == St::kWriting || c.st == St::kReading) {
        busy = true;
        if (now > c.deadline) fail(c, int(i), "timeout");
      } else if (c.st == St::kWaitEof) {
        if (now > c.deadline) {  // answered but never closed: not a failure of the request
          close_conn(c);
          c.st = St::kIdle;
        } else {
          busy = true;
        }
      }
    }
    if (stopping && !busy) break;
    int n = epoll_wait(epfd, events.data(), int(events.size()), 5);
    for (int k = 0; k < n; ++k) {
      int idx = int(events[size_t(k)].data.u32);
      on_event(conns[size_t(idx)], idx, events[size_t(k)].events);
    }
  }
  for (auto& c : conns) close_conn(c);
  std::fclose(out);
  double secs = double(now_ns(CLOCK_MONOTONIC) - t0) / 1e9;
  std::printf("{\"requests\": %ld, \"ok\": %ld, \"non2xx\": %ld, \"seconds\": %.3f, \"errors\": {",
              stats.requests, stats.ok, stats.non2xx, secs);
  bool first = true;
  for (auto& [k, v] : stats.errors) {
    std::printf("%s\"%s\": %ld", first ? "" : ", ", k.c_str(), v);
    first = false;
  }
  std::printf("}}\n");
  return 0;
}
