"""The s3:// source end to end (issue 5, points 2-4): a real hello master polls a real
S3-compatible server, s3rver (npm; ci/npm-deps.sh installs it), directly or through a front that
checks every SigV4 signature with botocore. Checks are started with SIGHUP and followed on the
master's log lines (at debug level, so that every request appears); nothing sleeps."""
import filecmp
import os
import re
import shutil
import signal
import tempfile
import time
import unittest
from unittest import mock

from harness import MOLT, Load, Service, hello_build, run, wait_until
from s3_peers import (ACCESS_KEY, REGION, NotS3, S3rver, SigningFront, SigningKey, publish,
                      require_s3rver)

# Distinctive, so that any trace of them in a log is found. s3rver accepts any secret; the
# front knows RIGHT_SECRET only.
RIGHT_SECRET = "rightSecret/e2e+Kq7Zp2Xv9Lm4Tn8Rw3Ys6Ub1"
WRONG_SECRET = "wrongSecret/e2e+Hd5Jc0Gf2Ba7Ne9Qx4Vk8Wo3"
SECRETS = (RIGHT_SECRET, WRONG_SECRET)

peers = {}


def setUpModule():
    require_s3rver()
    peers["key"] = SigningKey(unittest.addModuleCleanup)
    peers["s3"] = S3rver(unittest.addModuleCleanup)


def s3_service(test, endpoint, source, secret=RIGHT_SECRET, access_key=ACCESS_KEY,
               anonymous=False, profile=None, credentials_file=None):
    """A hello master on build v1 polling `source` at `endpoint`, with keys in the environment
    (or from `profile` in `credentials_file`, or none), trusting the release key."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["AWS_CONFIG_FILE"] = os.devnull
    env["AWS_SHARED_CREDENTIALS_FILE"] = credentials_file or os.devnull
    if secret and not (anonymous or profile):
        env["AWS_ACCESS_KEY_ID"] = access_key
        env["AWS_SECRET_ACCESS_KEY"] = secret
    args = ["--s3-endpoint", endpoint, "--s3-region", REGION, "--log-level", "debug",
            "--pubkey", peers["key"].pub]
    if anonymous:
        args.append("--s3-anonymous")
    if profile:
        args += ["--s3-profile", profile]
    with mock.patch.dict(os.environ, env, clear=True):
        return Service(test, source=source, extra_args=args)


def error_lines(svc, start=0):
    return [line for line in svc.log.since(start) if re.search(r" error: ", line)]


class S3Case(unittest.TestCase):
    s3 = property(lambda self: peers["s3"])
    key = property(lambda self: peers["key"])

    def bucket(self, name, *builds):
        """Creates bucket `name` holding `app` and `app.minisig` of each build in turn."""
        self.s3.create_bucket(name)
        for build in builds:
            publish(self.s3, name, "app", build, self.key)

    def assert_serves_v1(self, svc, pid):
        self.assertEqual(svc.hello(), "hello from v1")
        self.assertEqual(svc.id()["pid"], pid)
        self.assertTrue(filecmp.cmp(svc.bin, hello_build("v1"), shallow=False))

    def assert_no_secret_logged(self, svc):
        """Stops the master, so that its whole log, shutdown included, is looked at."""
        svc.stop()
        log = "\n".join(svc.log.lines)
        self.assertIn(" debug: GET ", log)  # the request lines were there to leak into
        for secret in SECRETS:
            self.assertNotIn(secret, log)
            self.assertNotIn(secret.split("/")[1], log)  # nor a good part of it


class Upgrade(S3Case):
    def test_new_upload_upgrades_with_zero_failed_requests(self):
        self.bucket("upgrade", "v1")
        svc = s3_service(self, self.s3.endpoint, "s3://upgrade/app")
        svc.log.wait_for(r"s3://upgrade/app at %s: build v1 is already running"
                         % re.escape(self.s3.endpoint))
        load = Load(svc.port, clients=3)
        keep_alive = Load(svc.port, clients=1, keep_alive=True)
        load.wait_for_answers(30)
        keep_alive.wait_for_answers(10)
        # Upload v2 in a later second than v1: see test_build_uploaded_within_the_same_second.
        v1_modified = self.s3.last_modified("upgrade", "app.minisig")
        wait_until(lambda: time.time() >= v1_modified + 1, "the next second on s3rver's clock")
        old = svc.id()["pid"]
        mark = svc.log.mark()
        publish(self.s3, "upgrade", "app", "v2", self.key)
        svc.signal(signal.SIGHUP)
        svc.wait_ready("v2", mark)
        svc.wait_stopped_accepting(old, mark)
        load.wait_for_body("hello from v2", load.mark())
        keep_alive.wait_for_body("hello from v2", keep_alive.mark())
        load.wait_for_answers(load.ok + 30)
        ok, failures = load.finish()
        self.assertEqual(failures, [])
        self.assertGreater(ok, 60)
        ok, failures = keep_alive.finish()
        self.assertEqual(failures, [])
        self.assertEqual(keep_alive.bodies[-1], "hello from v2")
        self.assertEqual(svc.hello(), "hello from v2")
        self.assertEqual(svc.installed_build_id(), "v2")
        self.assertTrue(filecmp.cmp(svc.bin, hello_build("v2"), shallow=False))
        # Path-style requests to s3rver: the signature, then the artifact.
        upgrade = "\n".join(svc.log.since(mark))
        origin = re.escape(self.s3.endpoint)
        self.assertRegex(upgrade, r"debug: GET %s/upgrade/app\.minisig: 200 OK" % origin)
        self.assertRegex(upgrade, r"debug: GET %s/upgrade/app: 200 OK \(%d bytes\)"
                         % (origin, os.path.getsize(hello_build("v2"))))
        self.assertEqual(error_lines(svc), [])
        self.assert_no_secret_logged(svc)

    def test_a_delta_patch_in_the_bucket_is_fetched_instead_of_the_artifact(self):
        self.bucket("delta", "v1")
        svc = s3_service(self, self.s3.endpoint, "s3://delta/app")
        svc.log.wait_for(r"build v1 is already running")
        patch = os.path.join(svc.dir, "v1.patch")
        run(MOLT, "delta", "--from", hello_build("v1"), "--to", hello_build("v2"), "-o", patch)
        self.s3.put("delta", "app.patch/v1", patch)
        v1_modified = self.s3.last_modified("delta", "app.minisig")
        wait_until(lambda: time.time() >= v1_modified + 1, "the next second on s3rver's clock")
        mark = svc.log.mark()
        publish(self.s3, "delta", "app", "v2", self.key)
        svc.signal(signal.SIGHUP)
        svc.wait_ready("v2", mark)
        upgrade = "\n".join(svc.log.since(mark))
        origin = re.escape(self.s3.endpoint)
        self.assertRegex(upgrade, r"debug: GET %s/delta/app\.patch/v1: 200 OK \(%d bytes\)"
                         % (origin, os.path.getsize(patch)))
        self.assertNotRegex(upgrade, r"debug: GET %s/delta/app: " % origin)
        self.assertTrue(filecmp.cmp(svc.bin, hello_build("v2"), shallow=False))

    def test_a_slowly_uploaded_artifact_upgrades_once_the_upload_ends(self):
        # Issue 9, item 8: the signature is published first, then the artifact is uploaded in
        # parts; a check in between reads what s3rver serves then (not the build the signature
        # signs) and fails. The upgrade must follow the end of the upload, by the bounded
        # retries, not wait for another publish.
        self.bucket("slow", "v1")
        svc = s3_service(self, self.s3.endpoint, "s3://slow/app")
        svc.log.wait_for(r"s3://slow/app at .*: build v1 is already running")
        v1_modified = self.s3.last_modified("slow", "app.minisig")
        wait_until(lambda: time.time() >= v1_modified + 1, "the next second on s3rver's clock")
        old = svc.id()["pid"]
        mark = svc.log.mark()
        publish(self.s3, "slow", "app", "v2", self.key, artifact=False)

        def halfway(i):
            if i == 0:  # a check while the upload is under way fails, and says what follows
                svc.signal(signal.SIGHUP)
                svc.log.wait_for(r"s3://slow/app.*: file signature verification failed.*; next "
                                 r"full download in 1s", mark)

        status = self.s3.put_slowly("slow", "app", hello_build("v2"), 2, halfway)
        self.assertEqual(status, 200)
        svc.wait_ready("v2", mark)
        svc.wait_stopped_accepting(old, mark)
        self.assertEqual(svc.hello(), "hello from v2")

    def test_build_uploaded_within_the_same_second(self):
        """s3rver answers 304 to an old enough If-Modified-Since even when the ETag differs, and
        dates count whole seconds: molt sends only If-None-Match when it has an ETag, so a
        signature uploaded within the second of the one molt last saw is still seen. The new
        signature's Last-Modified is set to the old one's so that this is tested every time."""
        self.bucket("same-second", "v1")
        v1_modified = self.s3.last_modified("same-second", "app.minisig")
        svc = s3_service(self, self.s3.endpoint, "s3://same-second/app")
        svc.log.wait_for(r"s3://same-second/app at \S+: build v1 is already running")
        publish(self.s3, "same-second", "app", "v2", self.key)
        self.s3.set_last_modified("same-second", "app.minisig", v1_modified)
        mark = svc.log.mark()
        svc.signal(signal.SIGHUP)
        _, m = svc.log.wait_for(r"debug: GET \S+/same-second/app\.minisig: (.*)", mark)
        self.assertEqual(m.group(1), "200 OK (%d bytes)"
                         % os.path.getsize(self.key.signature_of("v2")))
        svc.wait_ready("v2", mark)

    def test_missing_objects_are_no_error_and_change_nothing(self):
        """NoSuchKey: no signature yet, then a signature whose artifact is not there yet."""
        self.bucket("missing")
        svc = s3_service(self, self.s3.endpoint, "s3://missing/app")
        pid = svc.id()["pid"]
        svc.log.wait_for(r"info: s3://missing/app at \S+\.minisig: no signature yet; nothing "
                         r"unsigned is installed")
        publish(self.s3, "missing", "app", "v2", self.key, artifact=False)
        mark = svc.log.mark()
        svc.signal(signal.SIGHUP)
        svc.log.wait_for(r"debug: GET \S+/missing/app: 404 Not Found", mark)
        svc.log.wait_for(r"info: s3://missing/app at \S+: signature present, waiting for the "
                         r"artifact", mark)
        self.assert_serves_v1(svc, pid)
        self.assertEqual(error_lines(svc), [])
        mark = svc.log.mark()
        publish(self.s3, "missing", "app", "v2", self.key, signature=False)
        svc.signal(signal.SIGHUP)
        svc.wait_ready("v2", mark)
        svc.wait_stopped_accepting(pid, mark)
        self.assertEqual(svc.hello(), "hello from v2")
        self.assertEqual(error_lines(svc), [])
        self.assert_no_secret_logged(svc)


class SignatureCheckingFront(S3Case):
    def test_wrong_secret_is_refused_while_v1_serves_on_and_the_right_one_upgrades(self):
        self.bucket("fronted", "v2")
        front = SigningFront(self.addCleanup, self.s3.endpoint, {ACCESS_KEY: RIGHT_SECRET})
        wrong = s3_service(self, front.endpoint, "s3://fronted/app", secret=WRONG_SECRET)
        pid = wrong.id()["pid"]
        load = Load(wrong.port, clients=2)
        expected = (r"error: s3://fronted/app\.minisig: the secret key from the environment does "
                    r"not match its access key \(403 Forbidden SignatureDoesNotMatch\)$")
        first, _ = wrong.log.wait_for(expected)
        wrong.log.wait_for(expected, first + 1)  # the retry, refused the same way
        load.wait_for_answers(load.ok + 30)
        ok, failures = load.finish()
        self.assertEqual(failures, [])
        self.assertEqual(set(load.bodies), {"hello from v1"})
        self.assert_serves_v1(wrong, pid)
        self.assertEqual(len(error_lines(wrong)),
                         len([l for l in wrong.log.since(0) if re.search(expected, l)]))
        verified, refused = front.counts()
        self.assertEqual(verified, 0)
        self.assertGreaterEqual(refused.count("SignatureDoesNotMatch"), 2)

        # The right secret, from a profile in a credentials file this time, passes the front.
        folder = tempfile.mkdtemp(prefix="molt-s3-creds-")
        self.addCleanup(shutil.rmtree, folder, True)
        credentials = os.path.join(folder, "credentials")
        with open(credentials, "w") as f:
            f.write("[release]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
                    % (ACCESS_KEY, RIGHT_SECRET))
        right = s3_service(self, front.endpoint, "s3://fronted/app", profile="release",
                           credentials_file=credentials)
        _, v1_child = right.wait_ready("v1")
        right.wait_ready("v2")
        right.wait_stopped_accepting(int(v1_child.group(1)))
        self.assertEqual(right.hello(), "hello from v2")
        self.assertEqual(right.installed_build_id(), "v2")
        self.assertEqual(error_lines(right), [])
        verified, _ = front.counts()
        self.assertGreaterEqual(verified, 2)  # the signature and the artifact
        self.assert_serves_v1(wrong, pid)
        self.assert_no_secret_logged(wrong)
        self.assert_no_secret_logged(right)


class ErrorTable(S3Case):
    """Each refusal is one error line, the same on every retry; v1 serves on untouched."""

    def check_refused(self, svc, expected):
        pid = svc.id()["pid"]
        first, m = svc.log.wait_for(r" error: (.*)")
        self.assertRegex(m.group(1), expected)
        second, again = svc.log.wait_for(r" error: (.*)", first + 1)  # the retry, 0.5 s later
        self.assertEqual(again.group(1), m.group(1))
        self.assert_serves_v1(svc, pid)
        self.assertEqual({re.sub(r"^.* error: ", "", l) for l in error_lines(svc)}, {m.group(1)})
        self.assert_no_secret_logged(svc)

    def test_no_such_bucket(self):
        svc = s3_service(self, self.s3.endpoint, "s3://no-such-bucket/app")
        self.check_refused(svc, r"^s3://no-such-bucket/app\.minisig: no such bucket at %s "
                                r"\(404 Not Found NoSuchBucket\)$" % re.escape(self.s3.endpoint))

    def test_unknown_access_key(self):
        self.bucket("keyed", "v2")
        svc = s3_service(self, self.s3.endpoint, "s3://keyed/app", access_key="AKIAWRONGKEY0000")
        self.check_refused(svc, r"^s3://keyed/app\.minisig: the access key from the environment "
                                r"is unknown to %s \(403 Forbidden InvalidAccessKeyId\)$"
                                % re.escape(self.s3.endpoint))

    def test_unsigned_request_to_a_private_bucket(self):
        """s3rver serves every object to anyone: the front refuses unsigned requests, as S3 does
        for a bucket that is not public."""
        self.bucket("private", "v2")
        front = SigningFront(self.addCleanup, self.s3.endpoint, {ACCESS_KEY: RIGHT_SECRET})
        svc = s3_service(self, front.endpoint, "s3://private/app", anonymous=True)
        self.check_refused(svc, r"^s3://private/app\.minisig: access denied to unsigned "
                                r"requests: the object is not public, give credentials "
                                r"\(403 Forbidden AccessDenied\)$")

    def test_clock_too_far_off(self):
        """s3rver checks the clock: run it two hours ahead of this machine."""
        skewed = S3rver(self.addCleanup, clock_offset_s=2 * 3600 + 30, buckets=["skewed"])
        svc = s3_service(self, skewed.endpoint, "s3://skewed/app")
        self.check_refused(svc, r"^s3://skewed/app\.minisig: this machine's clock is 2h00m "
                                r"behind the server's \(S3 allows 15m\): fix the clock \(NTP\) "
                                r"\(403 Forbidden RequestTimeTooSkewed\)$")

    def test_endpoint_that_is_not_s3(self):
        plain = NotS3(self.addCleanup)
        svc = s3_service(self, plain.endpoint, "s3://releases/app")
        self.check_refused(svc, r"^s3://releases/app\.minisig: 404 File not found from %s, not "
                                r"an S3 answer \(text/html[^)]*\): is the endpoint right\?$"
                                % re.escape(plain.endpoint))


if __name__ == "__main__":
    unittest.main()
