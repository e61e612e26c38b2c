"""molt's SigV4 signer against an independent one: botocore's S3SigV4Auth (Debian python3-botocore).

s3rver does not check signatures, so this is where molt's signing is proven on requests the
published AWS examples do not cover: awkward keys (spaces, unicode, '+', '~', '%', '=', deep and
empty segments), session tokens, custom ports, query strings, signed and unsigned payloads.

Two routes into botocore:
  - direct: S3SigV4Auth.add_auth on generated requests, keys encoded as botocore's S3 serializer
    encodes them (percent_encode with '/' and '~' kept);
  - client: a real botocore S3 client (GetObject, HeadObject, ListObjectsV2), whose send is
    intercepted; molt must rebuild the same signature from the decoded key, path or virtual style.
molt's side is tests/tools/sigv4_sign, fed JSON on stdin.
"""

import datetime
import json
import os
import random
import subprocess
import unittest
import urllib.parse
from unittest import mock

from harness import PATIENCE

try:
    import botocore.auth
    import botocore.credentials
    import botocore.session
    from botocore.awsrequest import AWSRequest, AWSResponse
    from botocore.config import Config
    from botocore.utils import percent_encode
except ImportError as e:  # a missing peer must fail loudly, not skip
    raise ImportError(f"python3-botocore is required (ci/deps.sh installs it): {e}") from e

BUILD_DIR = os.environ.get("MOLT_BUILD_DIR", "")
SIGNER = os.path.join(BUILD_DIR, "tests", "sigv4_sign")

KEY_PIECES = [
    "app", "my file", "two  spaces", " lead", "trail ", "ünïcödé", "☃", "𝄞", "日本語", "emoji😀",
    "a+b", "tilde~x", "100%", "50%25done", "%2F", "k=v", "a&b", "q?x", "h#x", "semi;colon",
    "comma,", "(paren)", "[br]", "{br}", "'quote\"", "star*", "!bang", "$dollar", "@at", ":colon",
    "back\\slash", "^caret", "`tick", "|pipe", "<lt>", "dots..", ".", "..", "", "tab\tx",
    "nl\nx", "ctl\x01", "del\x7f", "-._~", "UPPER", "x" * 40,
]
QUERY_POOL = [
    ("prefix", "J"), ("max-keys", "2"), ("list-type", "2"), ("lifecycle", ""),
    ("x-id", "GetObject"),
    ("versionId", "3/L4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY+MTRCxf3vjVBH40Nr8X8gdRQBpUMLUo"),
    ("response-content-disposition", 'attachment; filename="a b.txt"'), ("a", "2"), ("a", "1"),
    ("a b", "c/d"), ("~", "~"), ("ünï", "cödé"), ("prefix", "dir/sub dir/"), ("eq", "a=b&c"),
]
HEADER_POOL = [
    ("Range", "bytes=0-9"), ("If-None-Match", '"0123456789abcdef"'),
    ("If-Modified-Since", "Fri, 24 May 2013 00:00:00 GMT"), ("x-amz-meta-note", "  spaced   out  "),
    ("Content-Type", "application/octet-stream"), ("X-Amz-Expected-Bucket-Owner", "123456789012"),
    ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
]  # no Date: botocore then signs Date instead of x-amz-date, which molt never does
HOSTS = [  # (scheme, netloc as written, Host as molt sends it: port only when not the default)
    ("https", "examplebucket.s3.amazonaws.com", "examplebucket.s3.amazonaws.com"),
    ("https", "s3.eu-west-3.amazonaws.com", "s3.eu-west-3.amazonaws.com"),
    ("https", "s3.amazonaws.com:443", "s3.amazonaws.com"),
    ("http", "127.0.0.1:4568", "127.0.0.1:4568"),
    ("http", "localhost:80", "localhost"),
    ("https", "minio.internal:9000", "minio.internal:9000"),
    ("http", "[::1]:9000", "[::1]:9000"),
    ("https", "acct.r2.cloudflarestorage.com", "acct.r2.cloudflarestorage.com"),
]
REGIONS = ["us-east-1", "eu-west-3", "ap-southeast-2", "auto", "garage"]
TOKEN_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="


class _FrozenDatetime(datetime.datetime):
    """botocore signs at utcnow(); the test decides what now is."""

    now_value = datetime.datetime(2013, 5, 24)

    @classmethod
    def utcnow(cls):
        return cls.now_value


def frozen_at(when):
    _FrozenDatetime.now_value = when
    return mock.patch.object(botocore.auth.datetime, "datetime", _FrozenDatetime)


def run_signer(requests):
    """Signs every request with molt; returns one --explain dict per request."""
    if not os.access(SIGNER, os.X_OK):
        raise AssertionError(f"{SIGNER} is missing: build target sigv4_sign (MOLT_BUILD_DIR)")
    out = subprocess.run([SIGNER, "--explain"], input=json.dumps(requests), capture_output=True,
                         text=True, check=True, timeout=60 * PATIENCE)
    return [json.loads(line) for line in out.stdout.splitlines()]


def normalize(authorization):
    """botocore separates the fields with ", ", AWS's S3 examples and molt with ","."""
    return authorization.replace(", ", ",")


def text(value):
    """botocore's prepared headers may hold bytes or str."""
    return value.decode() if isinstance(value, bytes) else value


def signed_headers(authorization):
    return normalize(authorization).split("SignedHeaders=")[1].split(",")[0].split(";")


class SignerCase:
    def __init__(self, rng, index):
        self.rng = rng
        self.index = index

    def key(self):
        depth = self.rng.choice([1, 1, 2, 3, 5, 12])
        key = "/".join(self.rng.choice(KEY_PIECES) for _ in range(depth))
        if self.rng.random() < 0.1:
            key += "/"
        return key or "empty"

    def time(self):
        start = datetime.datetime(2012, 2, 28, 23, 59, 59)
        return start + datetime.timedelta(seconds=self.rng.randrange(0, 15 * 365 * 86400))

    def chars(self, alphabet, count):
        return "".join(self.rng.choice(alphabet) for _ in range(count))

    def credentials(self):
        token = ""
        if self.rng.random() < 0.4:
            token = self.chars(TOKEN_CHARS, self.rng.randrange(16, 400))
        access = "AKIA" + self.chars("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
        secret = self.chars(TOKEN_CHARS, 40)
        return access, secret, token


class DirectAuthTest(unittest.TestCase):
    """S3SigV4Auth.add_auth and molt on the same generated requests."""

    CASES = 400

    def build(self, rng, index):
        case = SignerCase(rng, index)
        scheme, netloc, host = rng.choice(HOSTS)
        bucket = f"bucket-{index % 7}"
        path_style = rng.random() < 0.5
        path = f"/{bucket}/{case.key()}" if path_style else f"/{case.key()}"
        query = rng.sample(QUERY_POOL, rng.choice([0, 0, 1, 2, 4]))
        headers = dict(rng.sample(HEADER_POOL, rng.choice([0, 1, 2, 3])))
        access, secret, token = case.credentials()
        region = rng.choice(REGIONS)
        when = case.time()
        method = rng.choice(["GET", "GET", "HEAD", "PUT"])
        body = b""
        if method == "PUT" and rng.random() < 0.7:
            body = "".join(rng.choice(KEY_PIECES) for _ in range(rng.randrange(0, 30))).encode()
        unsigned = scheme == "https" and rng.random() < 0.5

        url = f"{scheme}://{netloc}{percent_encode(path, safe='/~')}"
        request = AWSRequest(method=method, url=url, headers=headers, params=query, data=body)
        if unsigned:
            request.context["client_config"] = Config(s3={"payload_signing_enabled": False})
        auth = botocore.auth.S3SigV4Auth(
            botocore.credentials.Credentials(access, secret, token or None), "s3", region)
        with frozen_at(when):
            auth.add_auth(request)
        expected = {
            "authorization": request.headers["Authorization"],
            "x-amz-date": request.headers["X-Amz-Date"],
            "x-amz-content-sha256": request.headers["X-Amz-Content-SHA256"],
            "x-amz-security-token": request.headers.get("X-Amz-Security-Token", ""),
        }
        # What botocore would have signed, for a readable failure.
        del request.headers["Authorization"]
        expected["canonical_request"] = auth.canonical_request(request)

        molt_request = {
            "method": method, "host": host, "path": path, "query": query,
            "headers": list(headers.items()), "access_key_id": access,
            "secret_access_key": secret, "session_token": token, "region": region,
            "service": "s3", "time": int(when.replace(tzinfo=datetime.timezone.utc).timestamp()),
            "payload_hash": expected["x-amz-content-sha256"],
        }
        return molt_request, expected

    def test_matches_botocore_on_generated_requests(self):
        rng = random.Random(20130524)
        built = [self.build(rng, i) for i in range(self.CASES)]
        results = run_signer([request for request, _ in built])
        self.assertEqual(len(results), len(built))
        tokens = 0
        for (request, expected), got in zip(built, results):
            with self.subTest(path=request["path"], query=request["query"], host=request["host"]):
                sent = {name.lower(): value for name, value in got["headers"]}
                self.assertEqual(got["canonical_request"], expected["canonical_request"])
                self.assertEqual(normalize(got["authorization"]),
                                 normalize(expected["authorization"]))
                self.assertEqual(sent["x-amz-date"], expected["x-amz-date"])
                self.assertEqual(sent["x-amz-content-sha256"], expected["x-amz-content-sha256"])
                self.assertEqual(sent.get("x-amz-security-token", ""),
                                 expected["x-amz-security-token"])
                tokens += bool(request["session_token"])
        self.assertGreater(tokens, self.CASES // 5, "too few session-token cases generated")

    def test_aws_published_get_object_example(self):
        """The same tool reproduces the AWS page's GET Object example, spaces aside."""
        [got] = run_signer([{
            "method": "GET", "host": "examplebucket.s3.amazonaws.com", "path": "/test.txt",
            "headers": [["Range", "bytes=0-9"]], "access_key_id": "AKIAIOSFODNN7EXAMPLE",
            "secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "region": "us-east-1", "time": 1369353600,
            "payload_hash": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        }])
        self.assertTrue(got["authorization"].endswith(
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"))


class _Raw:
    def __init__(self, body):
        self.body = body

    def stream(self, **_):
        yield self.body


class ClientRouteTest(unittest.TestCase):
    """A real botocore S3 client builds the URL from the key; molt re-signs what it sent."""

    @classmethod
    def setUpClass(cls):
        # Hermetic: no ~/.aws file or AWS_* variable of the machine may reach the client.
        cls.env = mock.patch.dict(os.environ, {"AWS_CONFIG_FILE": "/nonexistent/config",
                                               "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/creds"})
        cls.env.start()
        for name in [n for n in os.environ if n.startswith("AWS_") and "FILE" not in n]:
            del os.environ[name]

    @classmethod
    def tearDownClass(cls):
        cls.env.stop()

    def capture(self, endpoint, style, region, creds, when, call):
        sent = []

        def intercept(request, **_):
            sent.append(request)
            return AWSResponse(request.url, 404, {}, _Raw(
                b"<Error><Code>NoSuchKey</Code><Message>m</Message></Error>"))

        session = botocore.session.Session()
        client = session.create_client(
            "s3", region_name=region, endpoint_url=endpoint, aws_access_key_id=creds[0],
            aws_secret_access_key=creds[1], aws_session_token=creds[2] or None,
            config=Config(signature_version="s3v4", s3={"addressing_style": style},
                          retries={"max_attempts": 0}))
        client.meta.events.register("before-send.s3", intercept)
        with frozen_at(when):
            try:
                call(client)
            except Exception:  # the 404 is expected; only the request matters
                pass
        self.assertEqual(len(sent), 1)
        return sent[0]

    def test_matches_botocore_client_requests(self):
        rng = random.Random(24)
        endpoints = [None, "http://127.0.0.1:4568", "https://minio.internal:9000",
                     "http://localhost:80", "https://s3.example.net"]
        calls = [
            lambda key: (lambda c: c.get_object(Bucket="molt-bucket", Key=key, Range="bytes=0-9")),
            lambda key: (lambda c: c.head_object(Bucket="molt-bucket", Key=key,
                                                 IfNoneMatch='"etag"')),
            lambda key: (lambda c: c.list_objects_v2(Bucket="molt-bucket", Prefix=key,
                                                     MaxKeys=2)),
        ]
        built = []
        for i in range(120):
            case = SignerCase(rng, i)
            key = case.key()
            creds = case.credentials()
            region = rng.choice(REGIONS[:3])
            endpoint = rng.choice(endpoints)
            style = rng.choice(["path", "virtual"])
            when = case.time()
            sent = self.capture(endpoint, style, region, creds, when, rng.choice(calls)(key))
            auth = text(sent.headers["Authorization"])
            parts = urllib.parse.urlsplit(sent.url)
            headers = []
            for name in signed_headers(auth):
                if name in ("host", "x-amz-date", "x-amz-content-sha256", "x-amz-security-token"):
                    continue
                headers.append([name, text(sent.headers[name])])
            port = parts.port
            default = {"http": 80, "https": 443}[parts.scheme]
            host = parts.hostname if port in (None, default) else f"{parts.hostname}:{port}"
            built.append(({
                "method": sent.method, "host": host, "path": urllib.parse.unquote(parts.path),
                "query": urllib.parse.parse_qsl(parts.query, keep_blank_values=True),
                "headers": headers, "access_key_id": creds[0], "secret_access_key": creds[1],
                "session_token": creds[2], "region": region, "service": "s3",
                "time": int(when.replace(tzinfo=datetime.timezone.utc).timestamp()),
                "payload_hash": text(sent.headers["X-Amz-Content-SHA256"]),
            }, auth, sent.url))
        results = run_signer([request for request, _, _ in built])
        for (request, auth, url), got in zip(built, results):
            with self.subTest(url=url):
                self.assertEqual(normalize(got["authorization"]), normalize(auth),
                                 got["canonical_request"])


if __name__ == "__main__":
    unittest.main()
