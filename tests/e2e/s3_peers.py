"""Real S3 peers for the end-to-end tests of the s3:// source.

- S3rver: s3rver (npm, a real S3-compatible server) on 127.0.0.1, an ephemeral port and a
  temporary folder; ready when it prints its listening line. It checks the access key and the
  clock but not the SigV4 signature. `clock_offset` runs it with its clock shifted (Date and the
  HTTP Date header both), so that it can answer RequestTimeTooSkewed to a correct client.
- SigningFront: a small HTTP proxy before s3rver that recomputes each request's SigV4 signature
  with botocore (an independent signer) from the request exactly as it arrived, and answers as S3
  does (403 SignatureDoesNotMatch, 403 AccessDenied to unsigned requests) or forwards to s3rver.
- NotS3: a plain HTTP server (python3 -m http.server) that answers 404 in HTML.

Objects are uploaded with botocore (Debian's python3-botocore). Everything is synchronised on
what the peers say (their readiness lines, their answers), never on sleeps.
"""
import hashlib
import http.client
import http.server
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.parse
from xml.sax.saxutils import escape

import botocore.auth
import botocore.config
import botocore.credentials
import botocore.session
from botocore.awsrequest import AWSRequest

from harness import MOLT, LogWatcher, hello_build, run

SOURCE_DIR = os.environ.get("MOLT_SOURCE_DIR",
                            os.path.abspath(os.path.join(os.path.dirname(__file__), "../..")))
S3RVER = os.path.join(SOURCE_DIR, "build", "npm", "node_modules", ".bin", "s3rver")

# s3rver has one built-in account, access key S3RVER. It never checks a SigV4 secret, so any
# secret passes it; the front checks the one the tests give it.
ACCESS_KEY = "S3RVER"
REGION = "us-east-1"

AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request,\s*"
    r"SignedHeaders=([^,]+),\s*Signature=([0-9a-f]{64})$")
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "proxy-authorization", "proxy-authenticate"}

# Loaded into s3rver with NODE_OPTIONS=--require: shifts its clock by MOLT_S3RVER_CLOCK_OFFSET_MS,
# for its own checks (new Date(), Date.now()) and for the Date header of its answers alike.
CLOCK_SHIFT_JS = r"""
'use strict';
const offset = Number(process.env.MOLT_S3RVER_CLOCK_OFFSET_MS || 0);
const RealDate = Date;
class ShiftedDate extends RealDate {
  constructor(...args) {
    if (args.length === 0) super(RealDate.now() + offset); else super(...args);
  }
  static now() { return RealDate.now() + offset; }
}
globalThis.Date = ShiftedDate;
const http = require('http');
const writeHead = http.ServerResponse.prototype.writeHead;
http.ServerResponse.prototype.writeHead = function (...args) {
  if (!this.headersSent && !this.hasHeader('date')) {
    this.setHeader('Date', new ShiftedDate().toUTCString());
  }
  return writeHead.apply(this, args);
};
"""


def require_s3rver():
    if not os.access(S3RVER, os.X_OK):
        raise AssertionError(
            "s3rver is not installed at %s: run ci/npm-deps.sh (it installs s3rver@3 from npm "
            "into build/npm of the source tree, MOLT_SOURCE_DIR=%s)" % (S3RVER, SOURCE_DIR))


def stop_process(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class S3rver:
    """s3rver on 127.0.0.1:<ephemeral>. `cleanup` is test.addCleanup or cls.addClassCleanup."""

    def __init__(self, cleanup, clock_offset_s=0, buckets=()):
        """`buckets` are created at startup (a client with a true clock could not create them
        on a shifted s3rver)."""
        require_s3rver()
        self.dir = tempfile.mkdtemp(prefix="molt-s3rver-")
        cleanup(shutil.rmtree, self.dir, True)
        self.data = data = os.path.join(self.dir, "data")
        os.mkdir(data)
        env = dict(os.environ)
        if clock_offset_s:
            shim = os.path.join(self.dir, "clock_shift.js")
            with open(shim, "w") as f:
                f.write(CLOCK_SHIFT_JS)
            env["NODE_OPTIONS"] = (env.get("NODE_OPTIONS", "") + " --require " + shim).strip()
            env["MOLT_S3RVER_CLOCK_OFFSET_MS"] = str(int(clock_offset_s * 1000))
        self.proc = subprocess.Popen(
            [S3RVER, "--directory", data, "--address", "127.0.0.1", "--port", "0", "--silent",
             "--no-vhost-buckets"] + [a for b in buckets for a in ("--configure-bucket", b)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
            start_new_session=True)
        cleanup(self.stop)
        self.log = LogWatcher(self.proc.stdout, os.path.join(self.dir, "s3rver.log"))
        _, m = self.log.wait_for(r"S3rver listening on 127\.0\.0\.1:(\d+)", timeout=60)
        self.port = int(m.group(1))
        self.endpoint = "http://127.0.0.1:%d" % self.port
        self.client = client(self.endpoint, ACCESS_KEY, "any-secret-s3rver-does-not-check")

    def create_bucket(self, bucket):
        self.client.create_bucket(Bucket=bucket)

    def put(self, bucket, key, path):
        with open(path, "rb") as f:
            self.client.put_object(Bucket=bucket, Key=key, Body=f.read())

    def put_slowly(self, bucket, key, path, pieces, between):
        """Uploads `path` in `pieces` parts of one PUT, calling between(i) after part i: an
        upload that a reader can catch half done. Returns the HTTP status."""
        data = open(path, "rb").read()
        url = "%s/%s/%s" % (self.endpoint, bucket, key)
        request = AWSRequest(method="PUT", url=url, headers={
            "Content-Length": str(len(data)), "X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
        credentials = botocore.credentials.Credentials(ACCESS_KEY, "any-secret")
        botocore.auth.S3SigV4Auth(credentials, "s3", REGION).add_auth(request)
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        conn.putrequest("PUT", "/%s/%s" % (bucket, key), skip_accept_encoding=True)
        for name, value in request.headers.items():
            conn.putheader(name, value)
        conn.endheaders()
        size = (len(data) + pieces - 1) // pieces
        for i in range(pieces):
            conn.send(data[i * size:(i + 1) * size])
            between(i)
        status = conn.getresponse().status
        conn.close()
        return status

    def last_modified(self, bucket, key):
        """The object's Last-Modified, in seconds since the epoch."""
        return self.client.head_object(Bucket=bucket, Key=key)["LastModified"].timestamp()

    def set_last_modified(self, bucket, key, when):
        """Sets an object's Last-Modified (s3rver reads it from its file's mtime), as if it had
        been uploaded at `when` (seconds since the epoch). Plain keys only."""
        path = os.path.join(self.data, bucket, key + "._S3rver_object")
        os.utime(path, (when, when))

    def stop(self):
        if hasattr(self, "client"):
            self.client.close()
        stop_process(self.proc)
        self.log.thread.join(timeout=10)
        self.proc.stdout.close()
        self.log.echo.close()


def client(endpoint, access_key, secret):
    session = botocore.session.Session()
    return session.create_client(
        "s3", region_name=REGION, endpoint_url=endpoint, aws_access_key_id=access_key,
        aws_secret_access_key=secret,
        config=botocore.config.Config(s3={"addressing_style": "path"},
                                      retries={"max_attempts": 1}))


class SigningKey:
    """A molt key pair (molt keygen -W) that signs builds the way a release pipeline would."""

    def __init__(self, cleanup):
        self.dir = tempfile.mkdtemp(prefix="molt-s3-keys-")
        cleanup(shutil.rmtree, self.dir, True)
        self.pub = os.path.join(self.dir, "release.pub")
        self.sec = os.path.join(self.dir, "release.sec")
        run(MOLT, "keygen", "-W", "-p", self.pub, "-s", self.sec)

    def signature_of(self, build):
        """Path of a signature of hello build `build` (v1, v2...), made once."""
        out = os.path.join(self.dir, build + ".minisig")
        if not os.path.exists(out):
            run(MOLT, "sign", "-s", self.sec, "-m", hello_build(build), "-x", out)
        return out


def publish(s3, bucket, key, build, signing_key, artifact=True, signature=True):
    """Uploads a build the way a deploy should: the artifact first, then its signature (the
    signature is what molt polls, so it goes last)."""
    if artifact:
        s3.put(bucket, key, hello_build(build))
    if signature:
        s3.put(bucket, key + ".minisig", signing_key.signature_of(build))


class SigningFront:
    """A proxy before `upstream` (an origin URL) that checks SigV4 signatures with botocore.

    `users` maps access keys to their secrets. A signed request for a known access key must carry
    the signature botocore computes, or gets 403 SignatureDoesNotMatch; an unsigned one gets
    403 AccessDenied (the bucket is not public). Anything else goes on to the upstream, which
    judges unknown access keys, the clock, buckets and keys itself."""

    def __init__(self, cleanup, upstream, users):
        self.upstream = urllib.parse.urlsplit(upstream)
        self.users = dict(users)
        self.lock = threading.Lock()
        self.verified = 0   # signatures botocore agreed with
        self.refused = []   # codes answered by the front itself
        front = self

        class Handler(FrontHandler):
            pass

        Handler.front = front
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.endpoint = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        cleanup(self.stop)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    def counts(self):
        with self.lock:
            return self.verified, list(self.refused)


class FrontHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    front = None

    def log_message(self, format, *args):
        pass

    def do_GET(self):
        self.handle_request()

    def do_HEAD(self):
        self.handle_request()

    def handle_request(self):
        refusal = self.check()
        if refusal:
            with self.front.lock:
                self.front.refused.append(refusal[1])
            return self.refuse(*refusal)
        self.forward()

    def check(self):
        """None if the request may pass, else (status, code, message, extra)."""
        authorization = self.headers.get("Authorization")
        if authorization is None:
            return 403, "AccessDenied", "Access Denied", {}
        match = AUTH_RE.match(authorization)
        if not match:
            return 400, "AuthorizationHeaderMalformed", "The authorization header is malformed", {}
        access_key, _, region, service, signed, signature = match.groups()
        secret = self.front.users.get(access_key)
        if secret is None:
            return None  # the upstream answers InvalidAccessKeyId
        names = signed.split(";")
        if not {"host", "x-amz-date", "x-amz-content-sha256"} <= set(names):
            return 403, "AccessDenied", "Host, x-amz-date and x-amz-content-sha256 must be signed", {}
        expected, string_to_sign = self.signature(names, access_key, secret, region, service)
        if expected != signature:
            return 403, "SignatureDoesNotMatch", (
                "The request signature we calculated does not match the signature you provided. "
                "Check your key and signing method."), {
                    "AWSAccessKeyId": access_key, "StringToSign": string_to_sign,
                    "SignatureProvided": signature}
        with self.front.lock:
            self.front.verified += 1
        return None

    def signature(self, names, access_key, secret, region, service):
        raw_path, _, raw_query = self.path.partition("?")
        headers = {name: ",".join(self.headers.get_all(name) or []) for name in names}
        params = []
        for pair in filter(None, raw_query.split("&")):
            k, _, v = pair.partition("=")
            params.append((urllib.parse.unquote(k), urllib.parse.unquote(v)))
        request = AWSRequest(method=self.command, url="http://%s%s" % (headers["host"], raw_path),
                             headers=headers, params=params)
        request.context["timestamp"] = headers["x-amz-date"]
        auth = botocore.auth.S3SigV4Auth(
            botocore.credentials.Credentials(access_key, secret,
                                             headers.get("x-amz-security-token")),
            service, region)
        string_to_sign = auth.string_to_sign(request, auth.canonical_request(request))
        return auth.signature(string_to_sign, request), string_to_sign

    def forward(self):
        upstream = http.client.HTTPConnection(self.front.upstream.hostname,
                                              self.front.upstream.port, timeout=30)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            upstream.request(self.command, self.path, headers=headers)
            resp = upstream.getresponse()
            body = resp.read()
            # send_response_only: the upstream's own Date and Server headers go through as sent.
            self.send_response_only(resp.status, resp.reason)
            for name, value in resp.getheaders():
                if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                    self.send_header(name, value)
            if resp.status not in (204, 304):
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD" and resp.status not in (204, 304):
                self.wfile.write(body)
        finally:
            upstream.close()

    def refuse(self, status, code, message, extra):
        fields = "".join("<%s>%s</%s>" % (k, escape(v), k) for k, v in extra.items())
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code><Message>%s'
                "</Message>%s<RequestId>%s</RequestId></Error>" % (
                    code, escape(message), fields,
                    hashlib.sha1(self.path.encode()).hexdigest()[:16].upper())).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


class NotS3:
    """python3 -m http.server on an empty folder: every object is a 404 HTML page."""

    def __init__(self, cleanup):
        self.dir = tempfile.mkdtemp(prefix="molt-not-s3-")
        cleanup(shutil.rmtree, self.dir, True)
        root = os.path.join(self.dir, "www")
        os.mkdir(root)
        self.proc = subprocess.Popen(
            [sys.executable, "-u", "-m", "http.server", "--bind", "127.0.0.1", "--directory", root,
             "0"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
        cleanup(self.stop)
        self.log = LogWatcher(self.proc.stdout, os.path.join(self.dir, "http.log"))
        _, m = self.log.wait_for(r"Serving HTTP on 127\.0\.0\.1 port (\d+)")
        self.port = int(m.group(1))
        self.endpoint = "http://127.0.0.1:%d" % self.port

    def stop(self):
        stop_process(self.proc)
        self.log.thread.join(timeout=10)
        self.proc.stdout.close()
        self.log.echo.close()
