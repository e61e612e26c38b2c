#!/usr/bin/python3
"""The part of GitHub's REST API that a github:// source uses, serving one repository's latest
release from a folder.

The release holds every regular file directly under --root (dot files excepted); an empty folder
is a repository with no release (404). Each asset's id changes when its file does, as a
re-uploaded asset's does on GitHub.

  GET /repos/OWNER/REPO/releases/latest         the release as JSON, with an ETag; a request with
                                                a matching If-None-Match gets 304
  GET /repos/OWNER/REPO/releases/assets/ID      with Accept: application/octet-stream, a 302 to
                                                --storage/NAME?X-Amz-Signature=...: the bytes come
                                                from another host, as GitHub's do; otherwise the
                                                asset's JSON

With --token, a request without "Authorization: Bearer TOKEN" gets 404, as a private repository
does on GitHub. GET /_control/mode?mode=M makes every later API request misbehave (empty M:
behave): rate-limited (403 with GitHub's message and X-RateLimit-Remaining: 0), bad-json (the
release's first asset has a string id). GET /_control/requests returns the API requests served so
far (method, path, headers, status) as JSON. Prints its port on stdout, alone on a line, once it
accepts connections.

Usage: github_api_server.py --root DIR --storage ORIGIN [--owner O --repo R] [--token T]
"""

import argparse
import hashlib
import http.server
import json
import os
import secrets
import sys
import threading
import time
import urllib.parse


class State:
    def __init__(self, args):
        self.root = os.path.realpath(args.root)
        self.storage = args.storage.rstrip("/")
        self.repo_path = "/repos/%s/%s" % (args.owner, args.repo)
        self.token = args.token
        self.mode = ""
        self.lock = threading.Lock()
        self.requests = []


def assets(state, api_origin):
    out = []
    for name in sorted(os.listdir(state.root)):
        full = os.path.join(state.root, name)
        if name.startswith(".") or not os.path.isfile(full):
            continue
        st = os.stat(full)
        key = "%s %d %d %d" % (name, st.st_ino, st.st_mtime_ns, st.st_size)
        asset_id = int.from_bytes(hashlib.sha256(key.encode()).digest()[:6], "big") + 1
        out.append({
            "id": asset_id, "name": name, "size": st.st_size, "state": "uploaded",
            "content_type": "application/octet-stream",
            "updated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(st.st_mtime)),
            "url": "%s%s/releases/assets/%d" % (api_origin, state.repo_path, asset_id),
            "browser_download_url": "%s/%s" % (state.storage, name),
        })
    return out


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "molt-github-test-server"

    def log_message(self, format, *args):
        sys.stderr.write("github_api_server: %s\n" % (format % args))

    def do_GET(self):
        state = self.server.state
        url = urllib.parse.urlsplit(self.path)
        if url.path.startswith("/_control/"):
            return self.control(url)
        status = self.api(url.path)
        with state.lock:
            state.requests.append({"method": self.command, "path": self.path,
                                   "headers": dict(self.headers.items()), "status": status})

    def control(self, url):
        state = self.server.state
        query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        with state.lock:
            if url.path == "/_control/mode":
                state.mode = query.get("mode", "")
                body = b"ok\n"
            else:
                body = json.dumps(state.requests).encode()
        self.reply(200, body, {"Content-Type": "application/json"})

    def api(self, path):
        """Answers an API request; returns the status sent."""
        state = self.server.state
        if state.token and self.headers.get("Authorization") != "Bearer " + state.token:
            return self.error(404, "Not Found")
        if state.mode == "rate-limited":
            return self.error(403, "API rate limit exceeded for 127.0.0.1. (But here's the good "
                              "news: Authenticated requests get a higher rate limit.)",
                              {"X-RateLimit-Remaining": "0"})
        origin = "http://%s" % self.headers.get("Host")
        listed = assets(state, origin)
        if path == state.repo_path + "/releases/latest":
            return self.release(listed)
        prefix = state.repo_path + "/releases/assets/"
        if path.startswith(prefix):
            asset = next((a for a in listed if str(a["id"]) == path[len(prefix):]), None)
            if asset is None:
                return self.error(404, "Not Found")
            if self.headers.get("Accept") != "application/octet-stream":
                return self.json(asset)
            location = "%s/%s?X-Amz-Signature=%s" % (state.storage,
                                                     urllib.parse.quote(asset["name"]),
                                                     secrets.token_hex(8))
            self.reply(302, b"", {"Location": location})
            return 302
        return self.error(404, "Not Found")

    def release(self, listed):
        if not listed:
            return self.error(404, "Not Found")
        if self.server.state.mode == "bad-json":
            listed[0]["id"] = str(listed[0]["id"])
        tag = "v-" + hashlib.sha256(json.dumps(listed).encode()).hexdigest()[:8]
        release = {"id": 1, "tag_name": tag, "name": tag, "draft": False, "prerelease": False,
                   "author": {"login": "molt-tests", "id": 1}, "assets": listed,
                   "body": "A release of the molt tests."}
        body = json.dumps(release).encode()
        etag = 'W/"%s"' % hashlib.sha256(body).hexdigest()[:32]
        if self.headers.get("If-None-Match") == etag:
            self.reply(304, b"", {"ETag": etag})
            return 304
        return self.json(release, {"ETag": etag})

    def json(self, value, headers=None):
        self.reply(200, json.dumps(value).encode(),
                   dict(headers or {}, **{"Content-Type": "application/json; charset=utf-8"}))
        return 200

    def error(self, status, message, headers=None):
        body = json.dumps({"message": message,
                           "documentation_url": "https://docs.github.com/rest"}).encode()
        self.reply(status, body, dict(headers or {}, **{"Content-Type": "application/json"}))
        return status

    def reply(self, status, body, headers):
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True)
    parser.add_argument("--storage", required=True)
    parser.add_argument("--owner", default="acme")
    parser.add_argument("--repo", default="hello")
    parser.add_argument("--token")
    args = parser.parse_args()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.state = State(args)
    print(server.server_port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
