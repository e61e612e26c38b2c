"""The http(s):// source end to end, through hello's real master (issue 4, "What it must show").

1. Publishing a signed v2 (then v3) on an HTTP server upgrades hello with 0 failed requests.
2. Against nginx: an unchanged source costs only `GET /app.minisig` answered 304; the same build
   signed again downloads no binary and is "already running".
3. Against tests/tools/http_test_server.py misbehaving on command: each failure is one clear
   line naming the URL and the cause, v1 serves on in the same child, <bin> is untouched, no
   temp file is left, and the next good publication still upgrades.
4. HTTPS with a CA made here: refused without --ca-file, accepted with it.
5. libcurl is loaded by the check helper on its first transfer: a hello whose libcurl.so.4 is
   broken starts and serves, and each check fails with one line saying why.
6. After an upgrade, the next check helper is forked ahead and loads libcurl before any check
   reaches it.

Checks are triggered by SIGHUP (the services poll every 30 s otherwise), and every wait is on a
log line, an access log line or an HTTP answer.
"""
import filecmp
import os
import re
import shutil
import signal
import tempfile
import time
import unittest

from harness import MOLT, Load, Service, build_id_of, children_of, hello_build, run, wait_until
from http_peers import Nginx, TestServer, make_pki, publish


def served_folder(add_cleanup):
    folder = tempfile.mkdtemp(prefix="molt-e2e-www-")
    add_cleanup(shutil.rmtree, folder, True)
    return folder


def error_line(url, cause):
    """A master log line at level error naming `url` and then `cause` (a regex)."""
    return r" error: %s: %s" % (re.escape(url), cause)


def assert_v1_serves_on(test, svc, v1_pid, load, mark):
    """After a failed check: nothing was installed, the same v1 child answers, <bin> is the v1
    build byte for byte, no temp download is left, and no client saw a failure."""
    test.assertFalse([l for l in svc.log.since(mark) if "installed build" in l])
    test.assertEqual(svc.id()["pid"], v1_pid)
    test.assertEqual(svc.hello(), "hello from v1")
    test.assertTrue(filecmp.cmp(svc.bin, hello_build("v1"), shallow=False))
    # A retry of the failed check may be downloading right now; its temp file must go when it
    # ends, so wait for the folder to hold none rather than look at one instant.
    wait_until(lambda: not [f for f in os.listdir(svc.dir) if ".molt-" in f],
               "every temp download to be removed")
    load.wait_for_answers(load.ok + 20)
    _, failures = load.finish()
    test.assertEqual(failures, [])
    test.assertEqual(set(load.bodies), {"hello from v1"})


def check_now(svc):
    """Asks the master to check its source at once and waits until it said so."""
    mark = svc.log.mark()
    svc.signal(signal.SIGHUP)
    svc.log.wait_for(r"SIGHUP: checking", mark)


def wait_old_child_gone(svc, pid, start):
    """Waits until child `pid` stopped accepting (or is gone altogether)."""
    svc.log.wait_for(r"child %d (stopped accepting|\(build \S+\) exited)" % pid, start)


def wait_for_next_second(path):
    """nginx's ETag and Last-Modified have a resolution of one second: a file replaced by one of
    the same size within the second it was fetched keeps its validators, and the master, which
    keeps them, never sees the change (see test_same_second_republication_is_seen). Publishers
    here wait for the clock to leave the second of the previous publication."""
    if os.path.exists(path):
        previous = int(os.path.getmtime(path))
        wait_until(lambda: int(time.time()) > previous, "the next second")


def backdate(folder, seconds, names=("app", "app.minisig")):
    """Sets the published files' mtime `seconds` back: published a while ago, as in steady
    state, so their validators are safe whatever the master does about one-second validators."""
    when = int(time.time()) - seconds
    for name in names:
        os.utime(os.path.join(folder, name), (when, when))


def upgrade_now(svc, build, folder, sighup=True, **publish_args):
    """Publishes `build`, has the master check at once (or waits for its polling), and returns
    once the build serves and the previous child stopped accepting."""
    old = svc.id()["pid"]
    mark = svc.log.mark()
    wait_for_next_second(os.path.join(folder, "app.minisig"))
    publish(svc, build, folder, **publish_args)
    if sighup:
        check_now(svc)
    svc.wait_ready(build_id_of(build), mark)
    wait_old_child_gone(svc, old, mark)


class UpgradeOverHttp(unittest.TestCase):
    def test_publishing_on_the_server_upgrades_with_zero_failed_requests(self):
        www = served_folder(self.addCleanup)
        nginx = Nginx(www, self.addCleanup)
        # Real polling here (no SIGHUP): every 200 ms, as a deploy would rely on.
        svc = Service(self, source=nginx.url("/app"), interval="200ms")
        master_pid = svc.id()["master_pid"]
        load = Load(svc.port, clients=3)
        for build in ("v2", "v3"):
            load.wait_for_answers(load.ok + 30)
            upgrade_now(svc, build, www, sighup=False)
            load.wait_for_body("hello from " + build_id_of(build), load.mark())
        ok, failures = load.finish()
        self.assertEqual(failures, [])
        self.assertGreater(ok, 60)
        self.assertEqual(svc.hello(), "hello from v3")
        self.assertEqual(svc.id()["master_pid"], master_pid)
        self.assertTrue(filecmp.cmp(svc.bin, hello_build("v3"), shallow=False))


class ConditionalPollingAgainstNginx(unittest.TestCase):
    def test_unchanged_source_costs_only_304s_and_a_resigned_build_downloads_nothing(self):
        www = served_folder(self.addCleanup)
        nginx = Nginx(www, self.addCleanup)
        svc = Service(self, source=nginx.url("/app"))
        svc.log.wait_for(r"app\.minisig: no signature yet")
        upgrade_now(svc, "v2", www)
        v2_pid = svc.id()["pid"]
        log = nginx.wait_for_requests(4)
        self.assertRegex(log[0], r"^GET /app\.minisig HTTP/1\.1 404 ")
        self.assertRegex(log[1], r"^GET /app\.minisig HTTP/1\.1 200 ")
        # A delta patch from the running build is asked for first; there is none.
        self.assertRegex(log[2], r"^GET /app\.patch/v1 HTTP/1\.1 404 ")
        self.assertRegex(log[3], r"^GET /app HTTP/1\.1 200 ")
        # A while passes: the files' validators are no longer within their one-second window.
        # (Backdating changes them: this check gets the signature again, or a 304 if the master
        # did not keep the first, same-second validators.)
        backdate(www, 20)
        check_now(svc)
        log = nginx.wait_for_requests(5)
        self.assertRegex(log[4], r"^GET /app\.minisig HTTP/1\.1 (200|304) ")
        start = len(log)  # from here the master holds the validators of the backdated files

        # Nothing changes: each check is one conditional request for the signature, a 304.
        checks = 5
        for i in range(1, checks + 1):
            check_now(svc)
            nginx.wait_for_requests(start + i)
        # The same build signed again (other bytes: another trusted comment): the signature's
        # build_id says it runs already, so its binary is not downloaded.
        mark = svc.log.mark()
        publish(svc, "v2", www, trusted_comment="timestamp:%d\tfile:app\thashed\tbuild_id:v2"
                "\tresigned:yes" % (int(time.time()) + 1))
        backdate(www, 10, names=["app.minisig", "app"])
        check_now(svc)
        svc.log.wait_for(r"build v2 is already running; nothing to do", mark)
        # ...and the new signature is the one remembered: the next check is a 304 again.
        check_now(svc)
        log = nginx.wait_for_requests(start + checks + 2)

        polls = log[start:]
        self.assertEqual(len(polls), checks + 2, polls)
        for line in polls[:checks] + polls[-1:]:
            self.assertRegex(line, r"^GET /app\.minisig HTTP/1\.1 304 0 \d+$")
        # The check helper lives between polls that transfer nothing: they share one connection.
        self.assertEqual({line.split()[-1] for line in polls}, {polls[0].split()[-1]}, polls)
        self.assertRegex(polls[checks], r"^GET /app\.minisig HTTP/1\.1 200 ")
        self.assertFalse([l for l in polls if l.startswith("GET /app ")])
        self.assertFalse([l for l in svc.log.since(mark) if re.search(r"installed build", l)])
        self.assertEqual(svc.id()["pid"], v2_pid)
        self.assertTrue(filecmp.cmp(svc.bin, hello_build("v2"), shallow=False))

    # nginx's ETag ("mtime-size") and Last-Modified only change once a second: a same-size
    # signature (they all are) replaced within that second must still be seen, so the fetcher
    # keeps no validators whose Last-Modified is not older than the response's Date.
    def test_same_second_republication_is_seen(self):
        www = served_folder(self.addCleanup)
        nginx = Nginx(www, self.addCleanup)
        svc = Service(self, source=nginx.url("/app"))
        svc.log.wait_for(r"app\.minisig: no signature yet")
        # "Within the second" made deterministic: both publications are stamped with one mtime
        # ahead of the clock, so every fetch happens before that second is over.
        stamp = int(time.time()) + 60
        mark = svc.log.mark()
        publish(svc, "v2", www)
        os.utime(os.path.join(www, "app.minisig"), (stamp, stamp))
        os.utime(os.path.join(www, "app"), (stamp, stamp))
        check_now(svc)
        svc.wait_ready("v2", mark)
        seen = len(nginx.wait_for_requests(3))
        mark = svc.log.mark()
        publish(svc, "v3", www)
        os.utime(os.path.join(www, "app.minisig"), (stamp, stamp))
        os.utime(os.path.join(www, "app"), (stamp, stamp))
        check_now(svc)
        log = nginx.wait_for_requests(seen + 1)
        self.assertRegex(log[seen], r"^GET /app\.minisig HTTP/1\.1 200 ")
        svc.wait_ready("v3", mark)


class MisbehavingServer(unittest.TestCase):
    """Each test publishes v2 on a path that misbehaves, sees the failure, then a good one."""

    @classmethod
    def setUpClass(cls):
        cls.www = served_folder(cls.addClassCleanup)
        cls.server = TestServer(cls.www, cls.addClassCleanup)

    def service(self, server=None, extra_args=()):
        """A v1 service whose source is /<test name>/app on `server`, once its first check
        found nothing there."""
        server = server or self.server
        name = self._testMethodName
        self.folder = os.path.join(server.root, name)
        os.mkdir(self.folder)
        self.path = "/%s/app" % name
        self.url = server.url(self.path)
        svc = Service(self, source=self.url, extra_args=extra_args)
        svc.log.wait_for(re.escape(self.url) + r"\.minisig: no signature yet")
        return svc

    def check_failure(self, mode, expected, on="app", server=None, extra_args=(),
                      timeout=30, **publish_args):
        """Publishes v2 while requests for /<test>/<on> misbehave as `mode`; expects `expected`
        (a regex for the whole line after the level) and v1 serving on; then publishes v2 again,
        lets the path behave, and expects the upgrade."""
        server = server or self.server
        svc = self.service(server, extra_args)
        v1_pid = svc.id()["pid"]
        load = Load(svc.port, clients=2)
        load.wait_for_answers(20)
        bad_path = "/%s/%s" % (self._testMethodName, on)
        if mode:
            server.set_mode(bad_path, mode)
        mark = svc.log.mark()
        publish(svc, "v2", self.folder, **publish_args)
        check_now(svc)
        svc.log.wait_for(expected, mark, timeout)
        assert_v1_serves_on(self, svc, v1_pid, load, mark)
        # The next good publication upgrades (a failed transfer does not make v2 a bad build).
        mark = svc.log.mark()
        publish(svc, "v2", self.folder)
        if mode:
            server.set_mode(bad_path, "")
        check_now(svc)
        # A retry that began before the path was fixed may fail once more first.
        svc.wait_ready("v2", mark, timeout=2 * timeout)
        wait_old_child_gone(svc, v1_pid, mark)
        self.assertEqual(svc.hello(), "hello from v2")
        self.assertTrue(filecmp.cmp(svc.bin, hello_build("v2"), shallow=False))
        return svc

    def test_404(self):
        # A missing object is the normal "not published yet", said at info, not an error.
        self.check_failure("404", r" info: %s: signature present, waiting for the artifact"
                           % re.escape(self.server.url("/test_404/app")))

    def test_500(self):
        self.check_failure("500", error_line(self.server.url("/test_500/app"),
                                             r"500 Internal Server Error$"))

    def test_503_then_200(self):
        svc = self.service()
        v1_pid = svc.id()["pid"]
        load = Load(svc.port, clients=2)
        load.wait_for_answers(20)
        self.server.set_mode(self.path, "503-then-200")
        mark = svc.log.mark()
        publish(svc, "v2", self.folder)
        check_now(svc)
        i, _ = svc.log.wait_for(error_line(self.url, r"503 Service Unavailable$"), mark)
        # No second publication: the master retries soon after a failure, and gets the file.
        svc.wait_ready("v2", i)
        wait_old_child_gone(svc, v1_pid, i)
        self.assertFalse([l for l in svc.log.since(mark)[: i - mark] if "installed build" in l])
        load.wait_for_body("hello from v2", load.mark())
        ok, failures = load.finish()
        self.assertEqual(failures, [])
        self.assertEqual([r["method"] for r in self.server.requests(self.path)], ["GET", "GET"])
        self.assertTrue(filecmp.cmp(svc.bin, hello_build("v2"), shallow=False))

    def test_body_shorter_than_its_content_length(self):
        size = os.path.getsize(hello_build("v2"))
        self.check_failure("short", error_line(
            self.server.url("/test_body_shorter_than_its_content_length/app"),
            r"body ended after %d of %d bytes$" % (size // 2, size)))

    def test_body_that_never_ends(self):
        # On the signature: bounded by the master's 64 KiB cap on signatures (about 3 s at the
        # server's 20 KiB/s). On the binary only --max-size or the 600 s total_timeout bound it.
        self.check_failure("endless", error_line(
            self.server.url("/test_body_that_never_ends/app.minisig"),
            r"signature larger than 65536 bytes$"), on="app.minisig")

    def test_stall_mid_body(self):
        self.check_failure("stall", error_line(
            self.server.url("/test_stall_mid_body/app"),
            r"stalled: no data for 2s \(stall_timeout\)$"), extra_args=["--stall-timeout", "2s"])

    def test_content_length_over_max_size(self):
        # A 1 TB Content-Length is refused before any byte of the body, by --max-size. The
        # limit leaves room for the good build that follows (sanitizer builds are large).
        limit = os.path.getsize(hello_build("v2")) + (1 << 20)
        self.check_failure("huge-length", error_line(
            self.server.url("/test_content_length_over_max_size/app"),
            r"larger than the %d-byte limit \(max_size\)$" % limit),
            extra_args=["--max-size", str(limit)])

    def test_redirect_loop(self):
        self.check_failure("redirect-loop", error_line(
            self.server.url("/test_redirect_loop/app"),
            r"more than 5 redirects \(max_redirects\)$"))

    def test_https_to_http_redirect(self):
        work = served_folder(self.addCleanup)
        pki = make_pki(work)
        tls = TestServer(served_folder(self.addCleanup), self.addCleanup, tls=pki)
        url = tls.url("/test_https_to_http_redirect/app")
        self.check_failure("redirect-http", error_line(
            url, r"refused redirect from https to http://127\.0\.0\.1:%d/" % tls.port
            + r"test_https_to_http_redirect/app$"), server=tls, extra_args=["--ca-file", pki[0]])

    def test_signature_of_another_file(self):
        self.check_failure(None, error_line(
            self.server.url("/test_signature_of_another_file/app"),
            r"file signature verification failed"), signed_file="v3")

    def test_signature_by_another_key(self):
        keys = served_folder(self.addCleanup)
        run(MOLT, "keygen", "-W", "-p", os.path.join(keys, "other.pub"),
            "-s", os.path.join(keys, "other.sec"))
        self.check_failure(None, error_line(
            self.server.url("/test_signature_by_another_key/app.minisig"),
            r"signature key id [0-9A-F]+ matches none of the"), key=os.path.join(keys, "other.sec"))

    def test_a_slow_download_says_how_far_it_got(self):
        svc = self.service()
        self.server.set_mode(self.path, "slow")
        mark = svc.log.mark()
        publish(svc, "v2", self.folder)
        check_now(svc)
        # The body takes about 6 s: a line after 2 s says the bytes so far, the total and a rate.
        _, m = svc.log.wait_for(r" info: %s: downloading, ([\d.]+ \w*B) of ([\d.]+ \w*B) "
                                r"\((\d+)%%\) in \d+s, [\d.]+ \w*B/s$" % re.escape(self.url), mark)
        self.assertLess(int(m.group(3)), 100)
        svc.wait_ready("v2", mark)
        self.server.set_mode(self.path, "")

    def test_corrupt_gzip_body(self):
        self.check_failure("corrupt-gzip", error_line(
            self.server.url("/test_corrupt_gzip_body/app"), r"corrupt gzip body: .+$"))


class Https(unittest.TestCase):
    def test_self_signed_ca_refused_without_ca_file_and_accepted_with_it(self):
        work = served_folder(self.addCleanup)
        pki = make_pki(work)
        www = served_folder(self.addCleanup)
        nginx = Nginx(www, self.addCleanup, tls=pki)

        os.mkdir(os.path.join(www, "refused"))
        url = nginx.url("/refused/app")
        svc = Service(self, source=url)
        svc.log.wait_for(error_line(url + ".minisig", r"TLS: .*certificate"))
        v1_pid = svc.id()["pid"]
        load = Load(svc.port, clients=2)
        mark = svc.log.mark()
        publish(svc, "v2", os.path.join(www, "refused"))
        check_now(svc)
        svc.log.wait_for(error_line(url + ".minisig", r"TLS: .*certificate"), mark)
        assert_v1_serves_on(self, svc, v1_pid, load, mark)

        os.mkdir(os.path.join(www, "accepted"))
        url = nginx.url("/accepted/app")
        svc = Service(self, source=url, extra_args=["--ca-file", pki[0]])
        svc.log.wait_for(re.escape(url) + r"\.minisig: no signature yet")
        load = Load(svc.port, clients=2)
        upgrade_now(svc, "v2", os.path.join(www, "accepted"))
        load.wait_for_body("hello from v2", load.mark())
        ok, failures = load.finish()
        self.assertEqual(failures, [])
        self.assertTrue(filecmp.cmp(svc.bin, hello_build("v2"), shallow=False))


def maps(pid):
    try:
        with open("/proc/%d/maps" % pid) as f:
            return f.read()
    except OSError:
        return ""


def check_helpers(master_pid):
    """The master's children named molt-check (the check helper's name)."""
    found = []
    for pid in children_of(master_pid):
        try:
            with open("/proc/%d/comm" % pid) as f:
                if f.read().strip() == "molt-check":
                    found.append(pid)
        except OSError:
            pass
    return found


class HelperForkedAhead(unittest.TestCase):
    def test_after_an_upgrade_the_next_helper_loads_libcurl_before_a_check(self):
        # (libcrypto too, but hello maps it from exec through cpp-httplib: check_helper_test.)
        www = served_folder(self.addCleanup)
        server = TestServer(www, self.addCleanup)
        # Checks on SIGHUP only; no probation ending (the master's re-exec checks at once).
        svc = Service(self, source=server.url("/app"), interval="1h",
                      extra_args=["--probation", "1h"])
        master_pid = svc.id()["master_pid"]
        upgrade_now(svc, "v2", www)
        polls = len(server.requests("/app.minisig"))

        def loaded_ahead():
            helpers = check_helpers(master_pid)
            return len(helpers) == 1 and "/libcurl.so.4" in maps(helpers[0])
        wait_until(loaded_ahead, "a check helper with libcurl loaded")
        # No check ran since the upgrade's: only the load ahead can have loaded it.
        self.assertEqual(len(server.requests("/app.minisig")), polls)
        self.assertNotIn("/libcurl.so.4", maps(master_pid))


class LibcurlUnloadable(unittest.TestCase):
    def test_a_broken_libcurl_fails_each_check_and_v1_serves_on(self):
        # An empty libcurl.so.4 first on the library path: the loader finds it and refuses it.
        # hello starts all the same (libcurl is not among the libraries loaded at exec).
        libs = served_folder(self.addCleanup)
        open(os.path.join(libs, "libcurl.so.4"), "w").close()
        www = served_folder(self.addCleanup)
        server = TestServer(www, self.addCleanup)
        url = server.url("/app")
        cause = (r"cannot load libcurl\.so\.4: %s: file too short$"
                 % re.escape(os.path.join(libs, "libcurl.so.4")))
        svc = Service(self, source=url, env={"LD_LIBRARY_PATH": libs})
        svc.log.wait_for(error_line(url + ".minisig", cause))
        v1_pid = svc.id()["pid"]
        load = Load(svc.port, clients=2)
        load.wait_for_answers(20)
        mark = svc.log.mark()
        publish(svc, "v2", www)
        check_now(svc)
        svc.log.wait_for(error_line(url + ".minisig", cause), mark)
        assert_v1_serves_on(self, svc, v1_pid, load, mark)
        self.assertEqual(server.requests("/app.minisig"), [])


if __name__ == "__main__":
    unittest.main()
