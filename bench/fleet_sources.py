"""The update sources bench/fleet.py runs its fleet on. Each publishes a file under a name, gives
the masters their --source, flags and environment, names the processes that serve, and keeps an
access log in one format, that of nginx's "fleet" log (tests/tools/nginx.py): `$msec
$request_length $bytes_sent $status $request_time "$request"`, so that both are measured by the
same code."""
import os
import shutil
import tempfile
import time
from unittest import mock

import botocore.config
import botocore.exceptions
import botocore.session

import common as c  # also puts tests/e2e on the path
from s3_peers import ACCESS_KEY, REGION, S3rver


class HttpSource:
    """Debian's nginx with 2 workers; a file is published by a rename into its root."""
    name = "http"
    title = "one nginx (HTTP)"

    def __init__(self):
        self.nginx = c.Nginx("fleet", access_log="fleet", workers=2)
        self.url = "http://127.0.0.1:%d/server" % self.nginx.port
        self.flags = []
        self.env = None  # the masters inherit ours
        self.access_log = self.nginx.access_log

    def put(self, name, path):
        target = os.path.join(self.nginx.root, name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(path, target + ".new")
        os.rename(target + ".new", target)

    def request_path(self, name):
        return "/" + name

    def pids(self):
        return [self.nginx.master] + c.children_of(self.nginx.master)

    def stop(self):
        self.nginx.stop()


class S3Source:
    """s3rver (npm; ci/npm-deps.sh), started as the end-to-end tests start it
    (tests/e2e/s3_peers.py), with one bucket; a file is published by a PUT (botocore). The
    masters reach it the way tests/e2e/test_s3_source.py's do: --s3-endpoint, --s3-region and
    keys in the environment (s3rver knows one access key and checks no secret).

    s3rver logs neither when a request came nor its bytes, so bench/s3rver_access_log.js is
    loaded into it and logs each request from its connection's byte counters."""
    name = "s3"
    title = "one s3rver bucket (S3)"
    BUCKET = "fleet"
    PUT_PATIENCE = 120
    SHIM = os.path.join(c.HERE, "s3rver_access_log.js")
    SECRET = "s3rver-checks-none"

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="molt-bench-fleet-s3-")
        self.access_log = os.path.join(self.dir, "access.log")
        self.cleanups = []
        with mock.patch.dict(os.environ, {"NODE_OPTIONS": "--require " + self.SHIM,
                                          "MOLT_BENCH_ACCESS_LOG": self.access_log}):
            self.s3 = S3rver(lambda f, *args: self.cleanups.append((f, args)),
                             buckets=[self.BUCKET])
        # Uploads are retried, as AWS's clients do by default (the tests' client does not):
        # under the fleet's load s3rver has closed an upload's connection without an answer
        # (twice in 500-host runs); the access log shows a 499 for it if the request was read.
        self.uploader = botocore.session.Session().create_client(
            "s3", region_name=REGION, endpoint_url=self.s3.endpoint, aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=self.SECRET,
            config=botocore.config.Config(s3={"addressing_style": "path"},
                                          retries={"mode": "standard", "max_attempts": 5}))
        self.url = "s3://%s/server" % self.BUCKET
        self.flags = ["--s3-endpoint", self.s3.endpoint, "--s3-region", REGION]
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        self.env.update(AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull,
                        AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=self.SECRET)

    def put(self, name, path):
        """Uploads, trying again for up to PUT_PATIENCE seconds past the client's own retries:
        s3rver under the fleet has closed uploads' connections for tens of seconds in a row,
        and a lost upload would end the run (it did once). Each extra try is logged."""
        with open(path, "rb") as f:
            body = f.read()
        deadline = time.time() + self.PUT_PATIENCE
        while True:
            try:
                self.uploader.put_object(Bucket=self.BUCKET, Key=name, Body=body)
                return
            except (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError) as e:
                if time.time() > deadline:
                    raise
                c.log("fleet: s3rver: upload of %s failed (%s); trying again" % (name, e))
                time.sleep(1)

    def request_path(self, name):
        return "/%s/%s" % (self.BUCKET, name)

    def pids(self):
        return [self.s3.proc.pid]

    def stop(self):
        self.uploader.close()
        for f, args in reversed(self.cleanups):
            f(*args)
        shutil.rmtree(self.dir, ignore_errors=True)
