"""Chaos (issue 9): under load, the master is SIGKILLed at random moments through 40 upgrades and
started again each time, as a service manager would.

After each kill: <bin> is a whole build that was published signed; once a master runs again no
staged file of the killed one is left and no process of the killed one's children serves; the
restarted master serves, and the build that was published last ends up serving. The load counts
as failures only requests that began and ended while one master ran: requests caught by a kill
are the killed master's own connections.
"""
import glob
import os
import random
import shutil
import signal
import subprocess
import tempfile
import threading
import unittest
import http.client

from harness import (MOLT, LogWatcher, free_port, hello_build, pid_alive, run, wait_for_exit,
                     wait_until)

UPGRADES = 40
PHASES = (None,  # right after the publish
          r"verified build %(build)s",
          r"started child \d+ \(build %(build)s, .*from the staged file",
          r"installed build %(build)s as",
          r"draining child \d+ \(replaced by %(build)s\)",
          r"child \d+ \(build \S+\) exited")
SEED = int(os.environ.get("MOLT_CHAOS_SEED", "9"))


class EpochLoad:
    """New-connection clients that tag each request with the epoch it began and ended in. The
    test moves to a new epoch just before a kill and once a master is ready again, so a failure
    counts only when it began and ended in one epoch of a running master."""

    def __init__(self, port, clients=2):
        self.port = port
        self.lock = threading.Lock()
        self.epoch = 0  # even: a master runs; odd: one is being killed or started
        self.ok = 0
        self.failures = []
        self.excused = 0
        self.bodies = []
        self.stop_flag = threading.Event()
        self.threads = [threading.Thread(target=self._client, daemon=True) for _ in range(clients)]
        for t in self.threads:
            t.start()

    def next_epoch(self):
        with self.lock:
            self.epoch += 1

    def _client(self):
        while not self.stop_flag.is_set():
            with self.lock:
                began = self.epoch
            failure, body = None, None
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            try:
                conn.request("GET", "/")
                resp = conn.getresponse()
                body = resp.read().decode().strip()
                if resp.status != 200:
                    failure = "status %d" % resp.status
            except Exception as e:  # a reset, refusal or timeout is a failed request
                failure = repr(e)
            finally:
                conn.close()
            with self.lock:
                if failure is None:
                    self.ok += 1
                    self.bodies.append(body)
                elif began == self.epoch and began % 2 == 0:
                    self.failures.append((began, failure))
                else:
                    self.excused += 1
            if failure is not None and began % 2 == 1:
                self.stop_flag.wait(0.01)  # nothing listens yet: do not spin

    def saw_since(self, body, start):
        with self.lock:
            return body in self.bodies[start:]

    def mark(self):
        with self.lock:
            return len(self.bodies)

    def finish(self):
        self.stop_flag.set()
        for t in self.threads:
            t.join(timeout=30)


def processes_running_from(directory):
    """Pids whose executable is a file in `directory` (the binary or a staged file)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.path.dirname(os.readlink("/proc/%s/exe" % entry)) == directory:
                    pids.append(int(entry))
            except OSError:
                pass
    return pids


def parent_of(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError):
        return None


class Chaos(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="molt-e2e-chaos-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.bin = os.path.join(self.dir, "app")
        shutil.copy(hello_build("v1"), self.bin)
        os.mkdir(os.path.join(self.dir, "drop"))
        self.source = os.path.join(self.dir, "drop", "app")
        self.pub = os.path.join(self.dir, "molt.pub")
        self.sec = os.path.join(self.dir, "molt.sec")
        run(MOLT, "keygen", "-W", "-p", self.pub, "-s", self.sec)
        self.port = free_port()
        self.builds = []
        for build in ("v1", "v2", "v3"):
            with open(hello_build(build), "rb") as f:
                self.builds.append(f.read())
        self.master = None
        self.logs = []
        self.addCleanup(self.cleanup)

    def start_master(self):
        args = [self.bin, "--listen", "127.0.0.1:%d" % self.port, "--source", self.source,
                "--pubkey", self.pub, "--interval", "1s", "--ready-timeout", "10s",
                "--drain-timeout", "5s", "--probation", "1s"]
        self.master = subprocess.Popen(args, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                       start_new_session=True)
        log = LogWatcher(self.master.stderr,
                         os.path.join(self.dir, "master-%d.log" % len(self.logs)))
        self.logs.append(log)
        log.wait_for(r"child \d+ \(build \S+\) is ready")
        return log

    def cleanup(self):
        if self.master and self.master.poll() is None:
            self.master.send_signal(signal.SIGTERM)
            try:
                self.master.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.master.kill()
                self.master.wait()
        for pid in processes_running_from(self.dir):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.master and not self.master.stderr.closed:
            self.logs[-1].thread.join(timeout=10)
            self.logs[-1].echo.close()
            self.master.stderr.close()

    def publish(self, build):
        staging = os.path.join(self.dir, "staging")
        shutil.copy(hello_build(build), staging)
        run(MOLT, "sign", "-s", self.sec, "-m", staging, "-x", staging + ".minisig")
        os.rename(staging + ".minisig", self.source + ".minisig")
        os.rename(staging, self.source)

    def assert_whole_signed_build(self, signature=True):
        """<bin> is one of the published builds; with `signature`, <bin>.minisig (once there is
        one) signs it. Right after a kill the signature may wait as <bin>.minisig.new: the next
        master completes that install. A running master may be between the binary's rename and
        its signature's: the pair is waited for, the binary is whole at every instant."""
        with open(self.bin, "rb") as f:  # read once: a running master may rename meanwhile
            installed = f.read()
        self.assertIn(installed, self.builds, "<bin> is no whole build")
        if signature and os.path.exists(self.bin + ".minisig"):
            verify = [MOLT, "verify", "-p", self.pub, "-m", self.bin, "-x", self.bin + ".minisig"]
            wait_until(lambda: subprocess.run(verify, capture_output=True).returncode == 0,
                       "<bin>.minisig to sign <bin>")

    def assert_no_orphans(self):
        master = self.master.pid
        for pid in processes_running_from(self.dir):
            if pid == master or not pid_alive(pid):
                continue
            ancestor = parent_of(pid)
            while ancestor not in (None, 0, 1, master):
                ancestor = parent_of(ancestor)
            self.assertEqual(ancestor, master,
                             "process %d runs from %s but no master of ours started it" %
                             (pid, self.dir))

    def test_sigkill_the_master_at_random_moments_through_upgrades(self):
        rng = random.Random(SEED)
        log = self.start_master()
        load = EpochLoad(self.port)
        self.addCleanup(load.finish)
        wait_until(lambda: load.ok >= 20, "the first answers")
        kills_before_installed = 0
        for i in range(UPGRADES):
            build = ("v2", "v3")[i % 2]
            mark = log.mark()
            self.publish(build)
            # A random moment of the upgrade: a random phase, reached by its log line, then a
            # random few milliseconds more (in a slow sanitizer build too, every phase is hit).
            phase = rng.choice(PHASES)
            if phase:
                log.wait_for(phase % {"build": build}, mark)
            threading.Event().wait(rng.uniform(0, 0.05))
            load.next_epoch()
            installed = any("installed build %s as" % build in l for l in log.since(mark))
            kills_before_installed += not installed
            killed = self.master.pid
            self.master.kill()
            self.master.wait()
            log.thread.join(timeout=10)
            log.echo.close()
            self.master.stderr.close()
            staged_before = set(glob.glob(os.path.join(self.dir, ".app.molt-*")))
            self.assert_whole_signed_build(signature=False)
            log = self.start_master()
            self.assert_whole_signed_build()
            self.assertTrue(wait_for_exit(killed))
            left = staged_before & set(glob.glob(os.path.join(self.dir, ".app.molt-*")))
            self.assertEqual(left, set(), "staged files of the killed master remain")
            self.assert_no_orphans()
            load.next_epoch()
            # The restarted master serves, and the build published last ends up serving (it
            # was installed before the kill, or the new master finds and installs it).
            start = load.mark()
            wait_until(lambda: load.saw_since("hello from " + build, start),
                       "build %s to serve after kill %d" % (build, i + 1))
            self.assert_whole_signed_build()
        load.finish()
        self.assertEqual(load.failures, [])
        self.assertGreater(load.ok, UPGRADES)
        # The random moments fell both before and after the swap.
        self.assertGreater(kills_before_installed, 0)
        self.assertLess(kills_before_installed, UPGRADES)


if __name__ == "__main__":
    unittest.main()
