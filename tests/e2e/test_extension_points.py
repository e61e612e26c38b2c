"""The points where a program plugs into molt, as overseer's users use them: a fetcher of its own,
a pre-upgrade hook, asking the master for a check or a restart, running without a master, and
its own default logger."""
import filecmp
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import unittest

from harness import BUILD, MOLT, PATIENCE, LogWatcher, Service, hello_build, run
from http_peers import publish, served_folder


def custom_fetcher_build(version):
    return os.path.join(BUILD, "tests", "fixtures", "custom_fetcher_" + version)


class CustomFetcher(unittest.TestCase):
    def test_a_fetcher_of_the_programs_own_upgrades_and_its_builds_are_verified(self):
        work = tempfile.mkdtemp(prefix="molt-e2e-")
        self.addCleanup(shutil.rmtree, work, True)
        binary, releases = os.path.join(work, "app"), os.path.join(work, "releases")
        os.mkdir(releases)
        shutil.copy(custom_fetcher_build("v1"), binary)
        pub, sec = os.path.join(work, "molt.pub"), os.path.join(work, "molt.sec")
        run(MOLT, "keygen", "-W", "-p", pub, "-s", sec)
        other_pub, other_sec = os.path.join(work, "other.pub"), os.path.join(work, "other.sec")
        run(MOLT, "keygen", "-W", "-p", other_pub, "-s", other_sec)
        proc = subprocess.Popen([binary, "--listen", "127.0.0.1:0", "--releases", releases,
                                 "--pubkey", pub], stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        self.addCleanup(lambda: (proc.poll() is None and proc.kill(), proc.wait()))
        log = LogWatcher(proc.stderr, os.path.join(work, "master.log"))
        _, m = log.wait_for(r"serving build v1 on 127\.0\.0\.1:(\d+); source: releases in ")
        port = int(m.group(1))
        log.wait_for(r"child \d+ \(build v1\) is ready")
        svc = type("Endpoint", (), {"port": port})  # what get() needs

        # Release 1 is signed by a key the program does not pin: refused, v1 serves on.
        self.release(releases, 1, custom_fetcher_build("v2"), other_sec)
        mark = log.mark()
        proc.send_signal(signal.SIGHUP)
        log.wait_for(r"error: releases in \S+\.minisig: .*key", mark)
        self.assertEqual(get(svc, "/"), "hello from v1 (custom fetcher)")
        self.assertTrue(filecmp.cmp(binary, custom_fetcher_build("v1"), shallow=False))

        # Release 2, properly signed, is taken.
        mark = log.mark()
        self.release(releases, 2, custom_fetcher_build("v2"), sec)
        proc.send_signal(signal.SIGHUP)
        log.wait_for(r"installed build v2 as ", mark)
        log.wait_for(r"child \d+ \(build v1\) exited", mark)
        self.assertEqual(get(svc, "/"), "hello from v2 (custom fetcher)")
        self.assertTrue(filecmp.cmp(binary, custom_fetcher_build("v2"), shallow=False))
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=30 * PATIENCE), 0)

    @staticmethod
    def release(releases, number, build, key):
        """Lays out releases/<number>/app and its signature, renamed into place whole."""
        staging = os.path.join(releases, ".staging")
        os.mkdir(staging)
        shutil.copy(build, os.path.join(staging, "app"))
        run(MOLT, "sign", "-s", key, "-m", os.path.join(staging, "app"))
        os.rename(staging, os.path.join(releases, str(number)))


def get(svc, path):
    """The body of a 200 answer to GET `path` (the harness's request, on svc.port)."""
    status, body = Service.get(svc, path)
    assert status == 200, (status, body)
    return body.strip()


class PreUpgrade(unittest.TestCase):
    def test_a_refusal_keeps_the_old_build_and_the_build_is_taken_once_the_hook_agrees(self):
        freeze = tempfile.NamedTemporaryFile(prefix="molt-freeze-", delete=False).name
        self.addCleanup(lambda: os.path.exists(freeze) and os.unlink(freeze))
        svc = Service(self, extra_args=["--refuse-while", freeze])
        v1_pid = svc.id()["pid"]
        mark = svc.log.mark()
        svc.publish("v2")
        svc.log.wait_for(r" error: %s: build v2 refused by pre_upgrade: build v2 waits: %s exists$"
                         % (re.escape(svc.source), re.escape(freeze)), mark)
        self.assertFalse([l for l in svc.log.since(mark) if "started child" in l])
        self.assertEqual(svc.id()["pid"], v1_pid)
        self.assertEqual(svc.hello(), "hello from v1")
        self.assertTrue(filecmp.cmp(svc.bin, hello_build("v1"), shallow=False))
        # Nothing changes at the source: the refusal alone ends, and the same build is taken.
        os.unlink(freeze)
        svc.wait_ready("v2", mark)
        svc.log.wait_for(r"installed build v2 as ", mark)
        self.assertTrue(filecmp.cmp(svc.bin, hello_build("v2"), shallow=False))


class Requests(unittest.TestCase):
    def test_request_restart_from_the_child_starts_a_new_child_on_the_same_binary(self):
        svc = Service(self)
        before = svc.id()
        mark = svc.log.mark()
        self.assertEqual(get(svc, "/request/restart"), "asked")
        svc.log.wait_for(r"child %d asked: restarting the child on build v1$" % before["pid"], mark)
        _, ready = svc.wait_ready("v1", mark)
        new_pid = int(ready.group(1))
        svc.log.wait_for(r"child %d (stopped accepting|\(build v1\) exited)" % before["pid"], mark)
        after = svc.id()
        self.assertEqual(after["pid"], new_pid)
        self.assertEqual(after["master_pid"], before["master_pid"])
        self.assertEqual(after["generation"], before["generation"] + 1)

    def test_request_check_from_the_child_checks_a_source_that_is_only_polled(self):
        www, server = served_folder(self)
        url = server.url("/app")
        # A 10-minute interval and an HTTP source (no inotify): only the request can check.
        svc = Service(self, source=url, interval="10m")
        svc.log.wait_for(re.escape(url) + r"\.minisig: no signature yet")
        publish(svc, "v2", www)
        mark = svc.log.mark()
        pid = svc.id()["pid"]
        self.assertEqual(get(svc, "/request/check"), "asked")
        svc.log.wait_for(r"child %d asked: checking %s now" % (pid, re.escape(url)), mark)
        svc.wait_ready("v2", mark)
        svc.log.wait_for(r"installed build v2 as ", mark)

    def test_the_programs_default_logger_is_its_own_in_the_child(self):
        svc = Service(self)
        child = svc.id()
        self.assertEqual(child["logger"], "hello")
        mark = svc.log.mark()
        get(svc, "/request/check")
        # The program's line, in the program's format, from the child; molt's in molt's.
        svc.log.wait_for(r"^hello\[%d\] info: asking the master to check now$" % child["pid"], mark)
        svc.log.wait_for(r"^\S+ \S+ molt\[\d+\] master info: child %d asked: checking" % child["pid"],
                         mark)


class Unsupervised(unittest.TestCase):
    def start(self, env=None, extra_args=()):
        work = tempfile.mkdtemp(prefix="molt-e2e-")
        self.addCleanup(shutil.rmtree, work, True)
        proc = subprocess.Popen([hello_build("v1"), "--listen", "127.0.0.1:0", *extra_args],
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                env=dict(os.environ, **(env or {})))
        self.addCleanup(lambda: (proc.poll() is None and proc.kill(), proc.wait()))
        log = LogWatcher(proc.stderr, os.path.join(work, "log"))
        _, m = log.wait_for(r"unsupervised info: not supervised \(no master, no upgrades\): "
                            r"serving build v1 on 127\.0\.0\.1:(\d+) in process (\d+)$")
        self.assertEqual(int(m.group(2)), proc.pid)
        return proc, log, type("Endpoint", (), {"port": int(m.group(1))})

    def test_molt_supervise_0_serves_in_process_and_drains_on_sigterm(self):
        proc, _, svc = self.start(env={"MOLT_SUPERVISE": "0"})
        ident = json.loads(get(svc, "/id"))
        self.assertEqual(ident["pid"], proc.pid)  # the program itself: no master, no child
        self.assertEqual(ident["master_pid"], 0)
        self.assertEqual(get(svc, "/request/restart"), "asked")  # a no-op, not a crash
        # A request in flight when SIGTERM comes is answered; then the process exits 0.
        thread, result = Service.send_slow_request(svc, "2s")
        proc.send_signal(signal.SIGTERM)
        thread.join(timeout=30 * PATIENCE)
        self.assertEqual(result.get("answer"), (200, "hello from v1\n"))
        self.assertEqual(proc.wait(timeout=30 * PATIENCE), 0)

    def test_config_supervise_false_serves_in_process_and_stops_on_sigint(self):
        proc, _, svc = self.start(extra_args=["--unsupervised"])
        self.assertEqual(get(svc, "/"), "hello from v1")
        proc.send_signal(signal.SIGINT)
        self.assertEqual(proc.wait(timeout=30 * PATIENCE), 0)


if __name__ == "__main__":
    unittest.main()
