#!/usr/bin/python3
"""A small HTTP(S) server that serves a folder properly, or misbehaves on command.

Serves files under --root with ETag and Last-Modified, and answers a matching conditional
request with 304. Prints its port on stdout, alone on a line, once it accepts connections.

A path misbehaves in one of two ways:
  /_mode/<mode>/<path>                       the mode applies to this request only
  GET /_control/mode?path=/<path>&mode=<m>   the mode applies to every request for /<path>
                                             (an empty mode clears it)
GET /_control/requests returns the requests served so far (method, path, headers) as JSON.

Modes: 404, 500, 503-then-200 (the first request gets 503, the next ones the file),
trickle (the first 4 bytes, one every 1.5 s), slow (the whole file over about 6 s, in 24 pieces), short (half the body, then close, with the whole Content-Length), stall (half the body, then
silence), endless (a body that never ends, 1 KiB every 50 ms, no Content-Length), no-length
(the file with no Content-Length, ended by closing), huge-length (a 1 TB Content-Length),
redirect (302 to /<path>), redirect-to=<origin> (302 to <origin>/<path>), redirect-loop (302 to itself), redirect-http (302 to the same
path over http://), gzip (the file gzipped, Content-Encoding: gzip), corrupt-gzip (a gzip
header and then garbage, Content-Encoding: gzip), torn (the first half of the file as a whole
200 answer, under the whole file's ETag and Last-Modified: an object read while it was being
uploaded, as some S3 servers serve it; conditional requests are answered 304 as for the file).

Usage: http_test_server.py --root DIR [--cert CERT --key KEY] [--port N]
"""

import argparse
import email.utils
import gzip
import http.server
import json
import os
import ssl
import sys
import threading
import time
import urllib.parse

HOLD_LIMIT_S = 60  # a stalled or endless response gives up after this, so nothing hangs forever


class State:
    def __init__(self, root):
        self.root = os.path.realpath(root)
        self.lock = threading.Lock()
        self.modes = {}  # path -> mode, set through /_control/mode
        self.served = {}  # path -> requests seen while in a counting mode
        self.requests = []


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "molt-test-server"

    def setup(self):
        super().setup()
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.do_handshake()

    def log_message(self, format, *args):
        sys.stderr.write("http_test_server: %s\n" % (format % args))

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        state = self.server.state
        url = urllib.parse.urlsplit(self.path)
        if url.path.startswith("/_control/"):
            return self.control(url)
        with state.lock:
            state.requests.append(
                {"method": self.command, "path": self.path, "headers": dict(self.headers.items())})
        path, mode = url.path, None
        if path.startswith("/_mode/"):
            _, _, mode, rest = path.split("/", 3)
            path = "/" + rest
        else:
            with state.lock:
                mode = state.modes.get(path)
        self.misbehave(mode, path) if mode else self.serve(path)

    # --- control --------------------------------------------------------------------------

    def control(self, url):
        state = self.server.state
        query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        if url.path == "/_control/mode":
            with state.lock:
                if query.get("mode"):
                    state.modes[query["path"]] = query["mode"]
                else:
                    state.modes.pop(query["path"], None)
                state.served.pop(query["path"], None)
            return self.reply(200, b"ok\n")
        if url.path == "/_control/requests":
            with state.lock:
                body = json.dumps(state.requests).encode()
            return self.reply(200, body, {"Content-Type": "application/json"})
        return self.reply(404, b"no such control\n")

    # --- behaving -------------------------------------------------------------------------

    def file_for(self, path):
        state = self.server.state
        full = os.path.realpath(os.path.join(state.root, path.lstrip("/")))
        if not full.startswith(state.root + os.sep) or not os.path.isfile(full):
            return None
        return full

    def serve(self, path):
        full = self.file_for(path)
        if full is None:
            return self.reply(404, b"not found\n")
        st = os.stat(full)
        etag = '"%x-%x"' % (st.st_mtime_ns, st.st_size)
        last_modified = email.utils.formatdate(int(st.st_mtime), usegmt=True)
        headers = {"ETag": etag, "Last-Modified": last_modified,
                   "Content-Type": "application/octet-stream"}
        if self.unchanged(etag, int(st.st_mtime)):
            return self.reply(304, b"", headers)
        with open(full, "rb") as f:
            self.reply(200, f.read(), headers)

    def unchanged(self, etag, mtime):
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None:
            tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
            return etag in tags or "*" in tags
        if_modified_since = self.headers.get("If-Modified-Since")
        if if_modified_since:
            try:
                since = email.utils.parsedate_to_datetime(if_modified_since).timestamp()
            except (TypeError, ValueError):
                return False
            return mtime <= since
        return False

    def reply(self, status, body, headers=None, length=None):
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        if self.command != "HEAD" and status != 304:
            self.wfile.write(body)

    # --- misbehaving ----------------------------------------------------------------------

    def misbehave(self, mode, path):
        full = self.file_for(path)
        data = open(full, "rb").read() if full else b"x" * 4096
        if mode in ("404", "500"):
            return self.reply(int(mode), b"misbehaving on purpose\n")
        if mode == "503-then-200":
            with self.server.state.lock:
                seen = self.server.state.served.get(path, 0)
                self.server.state.served[path] = seen + 1
            if seen == 0:
                return self.reply(503, b"try again\n", {"Retry-After": "1"})
            return self.serve(path)
        if mode in ("short", "stall"):
            self.close_connection = True
            self.reply(200, data[: len(data) // 2], length=len(data))
            self.wfile.flush()
            if mode == "stall":
                self.wait_for_close()
            return
        if mode == "endless":
            return self.endless()
        if mode == "trickle":  # 4 bytes, one every 1.5 s: slow, but never silent for 2 s
            self.send_response(200)
            self.send_header("Content-Length", "4")
            self.end_headers()
            for byte in data[:4]:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(1.5)  # pacing the server's output, not waiting for the client
            return
        if mode == "slow":
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            piece = max(1, len(data) // 24 + 1)
            for start in range(0, len(data), piece):
                self.wfile.write(data[start:start + piece])
                self.wfile.flush()
                time.sleep(0.25)  # pacing the server's output, not waiting for the client
            return
        if mode == "no-length":
            self.close_connection = True
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)
            return
        if mode == "huge-length":
            self.close_connection = True
            self.reply(200, b"", length=10**12)
            self.wfile.flush()
            return self.wait_for_close()
        if mode == "torn" and full:
            st = os.stat(full)
            headers = {"ETag": '"%x-%x"' % (st.st_mtime_ns, st.st_size),
                       "Last-Modified": email.utils.formatdate(int(st.st_mtime), usegmt=True)}
            if self.unchanged(headers["ETag"], int(st.st_mtime)):
                return self.reply(304, b"", headers)
            return self.reply(200, data[: len(data) // 2], headers)
        if mode.startswith("redirect-to="):  # another origin: "redirect-to=http://host:port"
            return self.redirect(mode[len("redirect-to="):] + path)
        if mode == "redirect":
            return self.redirect(path)
        if mode == "redirect-loop":
            return self.redirect(self.path)
        if mode == "redirect-http":
            return self.redirect("http://127.0.0.1:%d%s" % (self.server.server_port, path))
        if mode == "gzip":
            # Level 1: a sanitizer build's 60 MB binary takes 8 s at the default level (30 s and
            # more on a busy CI machine, which the client sees as a stall).
            return self.reply(200, gzip.compress(data, compresslevel=1),
                              {"Content-Encoding": "gzip"})
        if mode == "corrupt-gzip":
            body = gzip.compress(b"")[:10] + b"\xff" * 64  # valid header, invalid deflate block
            return self.reply(200, body, {"Content-Encoding": "gzip"})
        self.reply(400, b"unknown mode\n")

    def redirect(self, location):
        self.reply(302, b"", {"Location": location})

    def endless(self):
        self.close_connection = True
        self.send_response(200)
        self.send_header("Connection", "close")
        self.end_headers()
        deadline = time.monotonic() + HOLD_LIMIT_S
        try:
            while time.monotonic() < deadline:
                self.wfile.write(b"e" * 1024)
                self.wfile.flush()
                time.sleep(0.05)  # pacing the server's output, not waiting for the client
        except OSError:
            pass  # the client gave up, as it should

    def wait_for_close(self):
        self.connection.settimeout(HOLD_LIMIT_S)
        try:
            while self.connection.recv(4096):
                pass
        except OSError:
            pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client that refuses our certificate is part of the tests: one line, no traceback.
        sys.stderr.write("http_test_server: %s: %s\n" % (client_address, sys.exc_info()[1]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    args = parser.parse_args()

    server = Server(("127.0.0.1", args.port), Handler)
    server.state = State(args.root)
    if args.cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.cert, args.key)
        # The handshake runs in the request's thread (setup), not in the accept loop.
        server.socket = context.wrap_socket(server.socket, server_side=True,
                                            do_handshake_on_connect=False)
    print(server.server_port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
