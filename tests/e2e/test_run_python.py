"""`molt run -- PROGRAM` (issue 13): the molt command as the master of a program in another
language, here examples/python/server.py (the standard library alone: fd 3 and a notify
datagram). Under a new-connection client and a keep-alive client, with no failed request: an
upgrade from a file drop and from an HTTP source, a program that does not notify made ready by
`--ready delay:`, a new build that never becomes ready is discarded while the old one serves, and
a crash during probation rolls back."""
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import unittest

from harness import MOLT, PATIENCE, Load, LogWatcher, kill_processes_of_dir, run
from http_peers import served_folder

SOURCE_DIR = os.environ.get("MOLT_SOURCE_DIR",
                            os.path.abspath(os.path.join(os.path.dirname(__file__), "../..")))
SERVER = os.path.join(SOURCE_DIR, "examples", "python", "server.py")


def server_script(version, path):
    """examples/python/server.py answering `version`, written at `path`; returns its BuildID."""
    with open(SERVER) as f:
        text = f.read()
    text, n = re.subn(r'^VERSION = "v1"', 'VERSION = "%s"' % version, text, flags=re.M)
    assert n == 1
    if version.endswith("-crash"):  # a build that exits before it serves
        text = text.replace("    server = Server()\n", "    sys.exit(3)\n", 1)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o755)
    return run(MOLT, "build-id", path).stdout.strip()


class RunService:
    """`molt run` of the Python server, copied into a temp folder, with a drop folder or URL."""

    def __init__(self, test, source=None, extra=(), program_args=()):
        self.dir = tempfile.mkdtemp(prefix="molt-e2e-run-")
        test.addCleanup(shutil.rmtree, self.dir, True)
        self.bin = os.path.join(self.dir, "server.py")
        self.build_id = server_script("v1", self.bin)
        os.mkdir(os.path.join(self.dir, "drop"))
        self.source = source or os.path.join(self.dir, "drop", "server.py")
        self.pub = os.path.join(self.dir, "molt.pub")
        self.sec = os.path.join(self.dir, "molt.sec")
        run(MOLT, "keygen", "-W", "-p", self.pub, "-s", self.sec)
        argv = [MOLT, "run", "--listen", "127.0.0.1:0", "--source", self.source, "--pubkey",
                self.pub, "--interval", "1h", "--ready-timeout", "10s", "--probation", "5s"]
        argv += list(extra) + ["--", self.bin] + list(program_args)
        self.proc = subprocess.Popen(argv, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        test.addCleanup(self.stop)
        self.log = LogWatcher(self.proc.stderr, os.path.join(self.dir, "master.log"))
        _, m = self.log.wait_for(r"serving build %s on 127\.0\.0\.1:(\d+)" % self.build_id)
        self.port = int(m.group(1))
        _, m = self.wait_ready(self.build_id)
        self.child = int(m.group(1))

    def wait_ready(self, build_id, start=0):
        return self.log.wait_for(r"child (\d+) \(build %s\) is ready" % re.escape(build_id),
                                 start)

    def publish(self, version, root=None):
        """Signs a build answering `version` and drops it at the source (signature first);
        `root`: the folder an HTTP source serves. Returns its BuildID."""
        staging = os.path.join(self.dir, "staging")
        build_id = server_script(version, staging)
        run(MOLT, "sign", "-s", self.sec, "-m", staging, "-x", staging + ".minisig")
        target = os.path.join(root, "server.py") if root else self.source
        os.rename(staging + ".minisig", target + ".minisig")
        os.rename(staging, target)
        return build_id

    def check(self):
        """`molt check` (the source polls hourly): the check and the upgrade it starts."""
        return subprocess.run([MOLT, "check", self.bin], capture_output=True, text=True,
                              timeout=60 * PATIENCE)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30 * PATIENCE)
        self.log.thread.join(timeout=10)
        self.proc.stderr.close()
        self.log.echo.close()
        kill_processes_of_dir(self.dir)


class RunPython(unittest.TestCase):
    def under_load(self, svc, action, then_body=None):
        """Runs `action` under a new-connection and a keep-alive client; with `then_body`, waits
        until both get it. Asserts that no request failed."""
        loads = [Load(svc.port, clients=2), Load(svc.port, clients=2, keep_alive=True)]
        for load in loads:
            load.wait_for_answers(20)
        marks = [load.mark() for load in loads]
        result = action()
        for load, mark in zip(loads, marks):
            if then_body:
                load.wait_for_body(then_body, mark)
            load.wait_for_answers(load.ok + 20)
            ok, failures = load.finish()
            self.assertEqual(failures, [])
        return result, loads

    def test_upgrade_from_a_file_drop_under_load(self):
        svc = RunService(self)
        self.assertEqual(svc.proc.poll(), None)

        def upgrade():
            mark = svc.log.mark()
            v2 = svc.publish("v2")
            svc.wait_ready(v2, mark)  # the file source is watched: no check needed
            return v2
        v2, loads = self.under_load(svc, upgrade, "hello from v2")
        for load in loads:
            self.assertEqual(set(load.bodies), {"hello from v1", "hello from v2"})
        self.assertEqual(run(MOLT, "build-id", svc.bin).stdout.strip(), v2)
        self.assertEqual(json.loads(run(MOLT, "status", "--json", svc.bin).stdout)["build_id"], v2)

    def test_upgrade_from_an_http_source_under_load(self):
        root, server = served_folder(self)
        svc = RunService(self, source=server.url("/server.py"))

        def upgrade():
            svc.publish("v2", root)
            return svc.check()
        result, _ = self.under_load(svc, upgrade, "hello from v2")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertRegex(result.stdout, r"^build sha256-[0-9a-f]{64} serves")

    def test_a_program_that_does_not_notify_is_ready_after_the_delay(self):
        svc = RunService(self, extra=["--ready", "delay:300ms"], program_args=["--no-notify"])

        def upgrade():
            mark = svc.log.mark()
            svc.wait_ready(svc.publish("v2"), mark)
        self.under_load(svc, upgrade, "hello from v2")

    def test_a_build_that_never_becomes_ready_is_discarded_while_the_old_one_serves(self):
        svc = RunService(self)

        def bad_upgrade():
            mark = svc.log.mark()
            bad = svc.publish("v2-crash")
            svc.log.wait_for(r"build %s .*: discarded; build %s serves on" % (bad, svc.build_id),
                             mark)
        _, loads = self.under_load(svc, bad_upgrade)
        for load in loads:
            self.assertEqual(set(load.bodies), {"hello from v1"})
        self.assertEqual(run(MOLT, "build-id", svc.bin).stdout.strip(), svc.build_id)

    def test_a_crash_during_probation_rolls_back(self):
        svc = RunService(self)
        mark = svc.log.mark()
        fragile = svc.publish("v2-fragile")
        svc.wait_ready(fragile, mark)
        svc.log.wait_for(r"child %d stopped accepting" % svc.child, mark)  # v2 alone answers
        with self.assertRaises(Exception):
            import http.client
            conn = http.client.HTTPConnection("127.0.0.1", svc.port, timeout=10)
            conn.request("GET", "/crash")
            conn.getresponse().read()
        svc.log.wait_for(r"build %s .* during probation: rolled back to build %s"
                         % (fragile, svc.build_id), mark)
        svc.wait_ready(svc.build_id, mark)
        self.assertEqual(run(MOLT, "build-id", svc.bin).stdout.strip(), svc.build_id)

    def test_bad_ready_modes_and_signals_are_usage_errors(self):
        for extra in (["--ready", "http:/healthz"], ["--ready", "delay:soon"],
                      ["--drain-signal", "SIGNOPE"]):
            p = subprocess.run([MOLT, "run", "--listen", "127.0.0.1:0"] + extra +
                               ["--", "/bin/true"], capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, 2, (extra, p.stderr))


if __name__ == "__main__":
    unittest.main()
