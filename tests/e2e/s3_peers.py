"""Real S3 peers for the end-to-end tests of the s3:// source.

- S3rver: s3rver (npm, a real S3-compatible server) on 127.0.0.1, an ephemeral port and a
  temporary folder; ready when it prints its listening line. It checks the access key and the
  clock but not the SigV4 signature. `clock_offset` runs it with its clock shifted (Date and the
  HTTP Date header both), so that it can answer RequestTimeTooSkewed to a correct client.
- SigningFront: tests/tools/s3_stub_server.py --upstream before s3rver, the fetcher tests' S3
  stub, which recomputes each request's SigV4 signature with botocore (an independent signer)
  from the request exactly as it arrived, and answers as S3 does (403 SignatureDoesNotMatch,
  403 AccessDenied to unsigned requests) or forwards to s3rver.
- NotS3: a plain HTTP server (python3 -m http.server) that answers 404 in HTML.

Objects are uploaded with botocore (Debian's python3-botocore). Everything is synchronised on
what the peers say (their readiness lines, their answers), never on sleeps.
"""
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile

import botocore.auth
import botocore.config
import botocore.credentials
import botocore.session
from botocore.awsrequest import AWSRequest

from harness import MOLT, LogWatcher, hello_build, run

SOURCE_DIR = os.environ.get("MOLT_SOURCE_DIR",
                            os.path.abspath(os.path.join(os.path.dirname(__file__), "../..")))
S3RVER = os.path.join(SOURCE_DIR, "build", "npm", "node_modules", ".bin", "s3rver")
S3_STUB_SERVER = os.path.join(SOURCE_DIR, "tests", "tools", "s3_stub_server.py")

# s3rver has one built-in account, access key S3RVER. It never checks a SigV4 secret, so any
# secret passes it; the front checks the one the tests give it.
ACCESS_KEY = "S3RVER"
REGION = "us-east-1"

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
        with open(path, "rb") as f:
            data = f.read()
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
    """tests/tools/s3_stub_server.py --upstream `upstream` (an origin URL): the signature checker
    of the fetcher tests, so that molt's signatures are judged by one checker everywhere.

    `users` maps access keys to their secrets. A request must be signed (else 403 AccessDenied:
    no bucket is public), by a known access key (else 403 InvalidAccessKeyId), dated within 15
    minutes of this machine's clock (else 403 RequestTimeTooSkewed) and carry the signature
    botocore computes (else 403 SignatureDoesNotMatch). Anything else goes on to the upstream,
    which judges buckets and keys."""

    def __init__(self, cleanup, upstream, users):
        self.dir = tempfile.mkdtemp(prefix="molt-s3-front-")
        cleanup(shutil.rmtree, self.dir, True)
        args = [sys.executable, S3_STUB_SERVER, "--upstream", upstream, "--region", REGION]
        for access_key, secret in users.items():
            args += ["--user", "%s:%s" % (access_key, secret)]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        cleanup(self.stop)
        self.log = LogWatcher(self.proc.stdout, os.path.join(self.dir, "front.log"))
        _, m = self.log.wait_for(r"^(\d+)$")  # its port, alone on a line once it listens
        self.port = int(m.group(1))
        self.endpoint = "http://127.0.0.1:%d" % self.port

    def counts(self):
        """(signatures botocore agreed with, codes the front answered itself), from its log of
        requests. Outcomes are logged before they are answered, so an answer seen is counted."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request("GET", "/_control/requests")
            requests = json.load(connection.getresponse())
        finally:
            connection.close()
        return (sum(r["verified"] for r in requests),
                [r["refused"] for r in requests if "refused" in r])

    def stop(self):
        stop_process(self.proc)
        self.log.thread.join(timeout=10)
        self.proc.stdout.close()
        self.log.echo.close()


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
