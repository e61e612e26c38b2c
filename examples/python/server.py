#!/usr/bin/python3
"""A small HTTP server that `molt run` upgrades with no downtime, in Python's standard library
alone. What it needs from molt is systemd's socket activation and sd_notify, nothing else:

  - its listening socket is fd 3 (LISTEN_FDS=1; it never binds a port itself);
  - it says READY=1 on the datagram socket NOTIFY_SOCKET names once it serves;
  - GET /healthz answers 200 once it serves, for a master told `--ready http:/healthz`;
  - on SIGTERM it says STOPPING=1, stops accepting, answers what it has (a keep-alive client's
    next request gets "Connection: close") and exits.

Run it:   molt run --listen 127.0.0.1:8080 --source /srv/drop/server.py --pubkey molt.pub \\
              -- /srv/app/server.py
Publish:  molt sign -s molt.sec -m server.py; copy server.py.minisig, then server.py, to the drop.
"""
import http.server
import os
import signal
import socket
import sys
import threading

VERSION = "v1"  # what GET / answers; change it to see an upgrade
IDLE_TIMEOUT_S = 2  # a keep-alive connection idle this long is closed (and, draining, let go)
draining = threading.Event()


def notify(message):
    """sd_notify: one datagram to NOTIFY_SOCKET (a path, or "@name" in the abstract namespace)."""
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return
    if path.startswith("@"):
        path = "\0" + path[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.sendto(message.encode(), path)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real clients use it
    timeout = IDLE_TIMEOUT_S

    def do_GET(self):
        if self.path == "/crash" and VERSION.endswith("-fragile"):
            os._exit(1)  # a test build that fails under traffic, for the probation tests
        status, body = 200, ("hello from %s\n" % VERSION).encode()
        if self.path == "/healthz":  # for `molt run --ready http:/healthz`
            status, body = 200, b"ok\n"
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        if draining.is_set():
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass  # one line per request would drown the master's log


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = False  # server_close() waits for the requests in flight

    def __init__(self):
        super().__init__(("", 0), Handler, bind_and_activate=False)
        self.socket = socket.socket(fileno=3)  # the listener molt passes on


def main():
    if os.environ.get("LISTEN_PID") != str(os.getpid()) or os.environ.get("LISTEN_FDS") != "1":
        sys.exit("server.py: run me with molt run (no listener on fd 3)")
    # SIGTERM is blocked here, so in every thread started below, and taken by sigwait: a handler
    # would run only in the main thread, which a signal delivered to another thread never wakes.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    server = Server()
    thread = threading.Thread(target=server.serve_forever, args=(0.5,))
    thread.start()
    if "--no-notify" not in sys.argv:
        notify("READY=1")
    signal.sigwait({signal.SIGTERM})
    draining.set()
    server.shutdown()      # accepts no more (its loop ends within its 0.5 s poll)
    notify("STOPPING=1")   # only now: until then it could still take a new connection
    server.server_close()  # waits for what it accepted
    thread.join()


if __name__ == "__main__":
    main()
