#!/usr/bin/python3
"""A small S3 for the s3 fetcher tests that checks every signature with botocore.

s3rver checks the access key and the clock but not the signature; this server recomputes each
request's SigV4 signature with botocore's S3SigV4Auth (an independent signer) from the request
exactly as it arrived (raw path, Host, the signed headers), so a difference between what molt
signs and what libcurl sends fails the test. It answers as S3 does: XML error documents
(NoSuchKey, NoSuchBucket, AccessDenied, InvalidAccessKeyId, SignatureDoesNotMatch,
RequestTimeTooSkewed, AuthorizationHeaderMalformed, InvalidToken), ETag, Last-Modified and 304.

Objects are files: --root/<bucket>/<key>. Path-style (/bucket/key) and virtual-hosted
(Host: bucket.localhost:port) requests both work. Or, with --upstream URL, a request that passes
the checks goes on as it came to that S3 (the e2e tests put s3rver there, a real S3 server that
checks the access key and the clock but not the signature) and its answer comes back as it went:
one signature checker for both, this one. Prints its port alone on a line when ready.
GET /_control/requests returns the requests served so far as JSON, each with "verified" (its
signature was checked and agreed with) and, for an error this server answered itself, "refused"
(the S3 error code).

Usage: s3_stub_server.py (--root DIR | --upstream URL) --user AKID:SECRET[:TOKEN] ... [--region R]
                         [--public BUCKET] [--skew SECONDS] [--not-s3] [--port N]
"""

import argparse
import datetime
import email.utils
import hashlib
import http.client
import http.server
import json
import os
import re
import sys
import threading
import time
import urllib.parse
from xml.sax.saxutils import escape

import botocore.auth
import botocore.credentials
from botocore.awsrequest import AWSRequest

MAX_SKEW_S = 15 * 60
AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request,\s*"
    r"SignedHeaders=([^,]+),\s*Signature=([0-9a-f]{64})$")
# Headers that concern one connection, not the request (RFC 9110, 7.6.1): the relay has its own
# connections on either side, and frames the answer itself.
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "proxy-authorization", "proxy-authenticate"}


class S3Failure(Exception):
    def __init__(self, status, code, message, **extra):
        super().__init__(code)
        self.status, self.code, self.message, self.extra = status, code, message, extra


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "molt-s3-stub"

    def log_message(self, format, *args):
        sys.stderr.write("s3_stub_server: %s\n" % (format % args))

    def date_time_string(self, timestamp=None):
        return email.utils.formatdate(self.server.now(), usegmt=True)

    def do_GET(self):
        raw_path, _, raw_query = self.path.partition("?")
        if raw_path == "/_control/requests":
            with self.server.lock:
                body = json.dumps(self.server.requests).encode()
            return self.reply(200, body, {"Content-Type": "application/json"})
        entry = {"path": raw_path, "query": raw_query,
                 "headers": [[k, v] for k, v in self.headers.items()], "verified": False}
        with self.server.lock:
            self.server.requests.append(entry)
        if self.server.options.not_s3:
            return self.reply(502, b"<html><body>Bad Gateway</body></html>",
                              {"Content-Type": "text/html"})
        try:
            bucket, key = self.address(raw_path)
            verified = self.authenticate(bucket, raw_path, raw_query)
            # Noted before answering: whoever has the answer finds it in /_control/requests.
            self.note(entry, verified=verified)
            if self.server.options.upstream:
                self.forward()
            else:
                self.serve(bucket, key)
        except S3Failure as failure:
            self.note(entry, refused=failure.code)
            self.refuse(failure)

    def note(self, entry, **outcome):
        with self.server.lock:  # /_control/requests may be serialising the entry meanwhile
            entry.update(outcome)

    def address(self, raw_path):
        host = self.headers.get("Host", "")
        name = host.split(":")[0]
        path = urllib.parse.unquote(raw_path)
        if name.endswith(".localhost"):
            return name[: -len(".localhost")], path[1:]
        bucket, _, key = path[1:].partition("/")
        return bucket, key

    def authenticate(self, bucket, raw_path, raw_query):
        """Raises the S3Failure S3 would answer; else returns whether a signature was checked."""
        authorization = self.headers.get("Authorization")
        if authorization is None:
            if bucket in self.server.options.public:
                return False
            raise S3Failure(403, "AccessDenied", "Access Denied")
        match = AUTH_RE.match(authorization)
        if not match:
            raise S3Failure(400, "AuthorizationHeaderMalformed",
                            "The authorization header is malformed")
        access_key, _, region, service, signed, signature = match.groups()
        user = self.server.users.get(access_key)
        if user is None:
            raise S3Failure(403, "InvalidAccessKeyId",
                            "The AWS Access Key Id you provided does not exist in our records.")
        self.check_time()
        if region != self.server.options.region:
            raise S3Failure(400, "AuthorizationHeaderMalformed",
                            f"the region '{region}' is wrong; expecting "
                            f"'{self.server.options.region}'", Region=self.server.options.region)
        names = signed.split(";")
        present = {k.lower() for k in self.headers.keys()}
        unsigned = [n for n in present if n.startswith("x-amz-") and n not in names]
        if unsigned or not {"host", "x-amz-date", "x-amz-content-sha256"} <= set(names):
            raise S3Failure(403, "AccessDenied", "There were headers present in the request "
                            "which were not signed")
        secret, token = user
        if token and self.headers.get("x-amz-security-token") != token:
            raise S3Failure(400, "InvalidToken", "The provided token is malformed or otherwise "
                            "invalid.")
        expected, string_to_sign = self.signature(names, raw_path, raw_query, access_key,
                                                  secret, region, service)
        if expected != signature:
            raise S3Failure(403, "SignatureDoesNotMatch", "The request signature we calculated "
                            "does not match the signature you provided. Check your key and "
                            "signing method.",
                            AWSAccessKeyId=access_key, StringToSign=string_to_sign,
                            SignatureProvided=signature)
        return True

    def check_time(self):
        sent = self.headers.get("x-amz-date", "")
        try:
            when = datetime.datetime.strptime(sent, "%Y%m%dT%H%M%SZ").replace(
                tzinfo=datetime.timezone.utc).timestamp()
        except ValueError:
            raise S3Failure(403, "AccessDenied", "AWS authentication requires a valid Date or "
                            "x-amz-date header") from None
        now = self.server.now()
        if abs(now - when) > MAX_SKEW_S:
            server_time = datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
            raise S3Failure(403, "RequestTimeTooSkewed", "The difference between the request "
                            "time and the current time is too large.", RequestTime=sent,
                            ServerTime=server_time.strftime("%Y-%m-%dT%H:%M:%SZ"),
                            MaxAllowedSkewMilliseconds=str(MAX_SKEW_S * 1000))

    def signature(self, names, raw_path, raw_query, access_key, secret, region, service):
        headers = {}
        for name in names:
            values = self.headers.get_all(name) or []
            headers[name] = ",".join(values)
        params = []
        for pair in filter(None, raw_query.split("&")):
            k, _, v = pair.partition("=")
            params.append((urllib.parse.unquote(k), urllib.parse.unquote(v)))
        request = AWSRequest(method=self.command, url=f"http://{headers['host']}{raw_path}",
                             headers=headers, params=params)
        request.context["timestamp"] = headers["x-amz-date"]
        auth = botocore.auth.S3SigV4Auth(botocore.credentials.Credentials(
            access_key, secret, headers.get("x-amz-security-token")), service, region)
        canonical = auth.canonical_request(request)
        string_to_sign = auth.string_to_sign(request, canonical)
        return auth.signature(string_to_sign, request), string_to_sign

    def serve(self, bucket, key):
        bucket_dir = os.path.join(self.server.options.root, bucket)
        if not bucket or not os.path.isdir(bucket_dir):
            raise S3Failure(404, "NoSuchBucket", "The specified bucket does not exist",
                            BucketName=bucket)
        path = os.path.join(bucket_dir, key)
        if not key or not os.path.isfile(path):
            raise S3Failure(404, "NoSuchKey", "The specified key does not exist.", Key=key)
        with open(path, "rb") as f:
            body = f.read()
        etag = '"%s"' % hashlib.md5(body).hexdigest()
        modified = email.utils.formatdate(int(os.path.getmtime(path)), usegmt=True)
        headers = {"ETag": etag, "Last-Modified": modified,
                   "Content-Type": "binary/octet-stream"}
        if_none_match = self.headers.get("If-None-Match")
        if_modified = self.headers.get("If-Modified-Since")
        if if_none_match == etag or (if_none_match is None and if_modified == modified):
            return self.reply(304, b"", headers)
        self.reply(200, body, headers)

    def forward(self):
        upstream = urllib.parse.urlsplit(self.server.options.upstream)
        connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=30)
        try:
            # The request line and headers as they came (Host included: no Host or
            # Accept-Encoding of http.client's own), bar the hop-by-hop ones.
            connection.putrequest(self.command, self.path, skip_host=True,
                                  skip_accept_encoding=True)
            for name, value in self.headers.items():
                if name.lower() not in HOP_BY_HOP:
                    connection.putheader(name, value)
            connection.endheaders()
            answer = connection.getresponse()
            body = answer.read()
        finally:
            connection.close()
        # send_response_only: the upstream's own Date and Server headers go through as sent.
        self.log_request(answer.status)
        self.send_response_only(answer.status, answer.reason)
        for name, value in answer.getheaders():
            if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                self.send_header(name, value)
        if answer.status not in (204, 304):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if answer.status not in (204, 304):
            self.wfile.write(body)

    def refuse(self, failure):
        extra = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in failure.extra.items())
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code><Message>%s'
                "</Message>%s<RequestId>STUB</RequestId></Error>" % (
                    failure.code, escape(failure.message), extra)).encode()
        self.reply(failure.status, body, {"Content-Type": "application/xml"})

    def reply(self, status, body, headers):
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if status != 304:
            self.wfile.write(body)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, options):
        super().__init__(("127.0.0.1", options.port), Handler)
        self.options = options
        self.users = {}
        for user in options.user:
            access_key, secret, *token = user.split(":", 2)
            self.users[access_key] = (secret, token[0] if token else "")
        self.lock = threading.Lock()
        self.requests = []

    def now(self):
        return time.time() + self.options.skew


def main():
    parser = argparse.ArgumentParser()
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--root")
    source.add_argument("--upstream")
    parser.add_argument("--user", action="append", default=[])
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--public", action="append", default=[])
    parser.add_argument("--skew", type=float, default=0.0)
    parser.add_argument("--not-s3", action="store_true")
    parser.add_argument("--port", type=int, default=0)
    server = Server(parser.parse_args())
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
