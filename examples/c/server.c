/* A small HTTP server that `molt run` upgrades with no downtime, in C with no library at all.
 * What it needs from molt is systemd's socket activation and sd_notify, nothing else:
 *
 *   - its listening socket is fd 3 (LISTEN_FDS=1); it never binds a port itself;
 *   - it sends READY=1 to the datagram socket NOTIFY_SOCKET names once it serves;
 *   - on SIGTERM it sends STOPPING=1 and stops accepting; a keep-alive connection's next request
 *     is answered with "Connection: close", one idle for 2 s is closed; then it exits.
 *
 * One thread, one poll loop. Build: cc -O2 -DVERSION='"v2"' -o server server.c
 * Run:     molt run --listen 127.0.0.1:8080 --source /srv/drop/server --pubkey molt.pub \
 *              -- /srv/app/server
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#ifndef VERSION
#define VERSION "v1"
#endif

enum { kListenFd = 3, kMaxConns = 256, kIdleMs = 2000, kRequestMax = 8192 };

struct conn {
  int fd;
  size_t len;
  long long last_ms;  // last byte read or written
  char buf[kRequestMax];
};

static volatile sig_atomic_t stop_requested;
static struct conn conns[kMaxConns];
static int nconns;

static void on_term(int sig) {
  (void)sig;
  stop_requested = 1;
}

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* sd_notify: one datagram to NOTIFY_SOCKET (a path, or "@name" in the abstract namespace). */
static void notify(const char *message) {
  const char *path = getenv("NOTIFY_SOCKET");
  if (!path || !*path || strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) return;
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  memcpy(sa.sun_path, path, strlen(path));
  if (path[0] == '@') sa.sun_path[0] = '\0';
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  sendto(fd, message, strlen(message), MSG_NOSIGNAL, (struct sockaddr *)&sa,
         (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path)));
  close(fd);
}

static void drop(int i) {
  close(conns[i].fd);
  conns[i] = conns[--nconns];
}

/* Answers every whole request in the connection's buffer. Returns 0 when it is to be closed. */
static int serve(struct conn *c, int draining) {
  char *end;
  while ((end = memmem(c->buf, c->len, "\r\n\r\n", 4)) != NULL) {
    size_t used = (size_t)(end + 4 - c->buf);
    static const char body[] = "hello from " VERSION "\n";
    char answer[256];
    int n =
        snprintf(answer, sizeof answer,
                 "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n%s\r\n%s",
                 sizeof body - 1, draining ? "Connection: close\r\n" : "", body);
    /* Small answers on a fresh socket buffer: a short write means the client is gone. */
    if (send(c->fd, answer, (size_t)n, MSG_NOSIGNAL) != n || draining) return 0;
    memmove(c->buf, c->buf + used, c->len - used);
    c->len -= used;
  }
  return c->len < sizeof c->buf;  // a request larger than the buffer is not one we serve
}

int main(int argc, char **argv) {
  char pid[32];
  snprintf(pid, sizeof pid, "%d", (int)getpid());
  const char *listen_pid = getenv("LISTEN_PID"), *listen_fds = getenv("LISTEN_FDS");
  if (!listen_pid || strcmp(listen_pid, pid) != 0 || !listen_fds || strcmp(listen_fds, "1") != 0) {
    fprintf(stderr, "server: run me with molt run (no listener on fd 3)\n");
    return 2;
  }
  struct sigaction sa = {.sa_handler = on_term};  // no SA_RESTART: poll returns EINTR
  sigaction(SIGTERM, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  int no_notify = argc > 1 && strcmp(argv[1], "--no-notify") == 0;
  if (!no_notify) notify("READY=1");

  int draining = 0;
  for (;;) {
    if (stop_requested && !draining) {
      draining = 1;
      notify("STOPPING=1");
      close(kListenFd);  // the master's copy and the new child's keep the port open
    }
    if (draining && nconns == 0) return 0;
    struct pollfd fds[kMaxConns + 1];
    int n = 0;
    for (int i = 0; i < nconns; i++)
      fds[n++] = (struct pollfd){.fd = conns[i].fd, .events = POLLIN};
    if (!draining && nconns < kMaxConns)
      fds[n++] = (struct pollfd){.fd = kListenFd, .events = POLLIN};
    if (poll(fds, (nfds_t)n, 500) < 0 && errno != EINTR) return 1;
    long long now = now_ms();

    for (int i = nconns - 1; i >= 0; i--) {
      struct conn *c = &conns[i];
      ssize_t got = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, MSG_DONTWAIT);
      if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
        drop(i);
        continue;
      }
      if (got > 0) {
        c->len += (size_t)got;
        c->last_ms = now;
        if (!serve(c, draining)) {
          drop(i);
          continue;
        }
      }
      if (now - c->last_ms > kIdleMs) drop(i);  // idle keep-alive (and, draining, let go)
    }
    while (!draining && nconns < kMaxConns) {
      int fd = accept4(kListenFd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) break;  // EAGAIN: nothing waits, or the other child took it
      conns[nconns] = (struct conn){.fd = fd, .len = 0, .last_ms = now};
      nconns++;
    }
  }
}
