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
import subprocess
import tempfile
import unittest
import urllib.request

from harness import MOLT, run
from http_peers import served_folder
from molt_run import RunService, under_load, upgrade_ready_by_http_healthz

SOURCE_DIR = os.environ.get("MOLT_SOURCE_DIR",
                            os.path.abspath(os.path.join(os.path.dirname(__file__), "../..")))
SERVER = os.path.join(SOURCE_DIR, "examples", "python", "server.py")


def server_script(version, path):
    """examples/python/server.py answering `version`, written at `path`; returns its BuildID."""
    with open(SERVER) as f:
        text = f.read()
    text, n = re.subn(r'^VERSION = "v1"', 'VERSION = "%s"' % version, text, flags=re.M)
    assert n == 1
    def change(old, new):
        nonlocal text
        assert old in text, old
        text = text.replace(old, new, 1)
    if version.endswith("-crash"):  # a build that exits before it serves
        change("    server = Server()\n", "    sys.exit(3)\n")
    if version.endswith("-unhealthy"):  # a build that serves, but whose health check fails
        change('status, body = 200, b"ok\\n"', 'status, body = 503, b"unwell\\n"')
    if version.endswith("-deaf"):  # a build that runs and never accepts a connection
        change("    server = Server()\n", "    signal.sigwait({signal.SIGTERM})\n    sys.exit(0)\n")
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o755)
    return run(MOLT, "build-id", path).stdout.strip()


class RunPython(unittest.TestCase):
    def test_upgrade_from_a_file_drop_under_load(self):
        svc = RunService(self, server_script, "server.py")
        self.assertEqual(svc.proc.poll(), None)

        def upgrade():
            mark = svc.log.mark()
            v2 = svc.publish("v2")
            svc.wait_ready(v2, mark)  # the file source is watched: no check needed
            return v2
        v2, loads = under_load(self, svc, upgrade, "hello from v2")
        for load in loads:
            self.assertEqual(set(load.bodies), {"hello from v1", "hello from v2"})
        self.assertEqual(run(MOLT, "build-id", svc.bin).stdout.strip(), v2)
        self.assertEqual(json.loads(run(MOLT, "status", "--json", svc.bin).stdout)["build_id"], v2)

    def test_upgrade_from_an_http_source_under_load(self):
        root, server = served_folder(self)
        svc = RunService(self, server_script, "server.py", source=server.url("/server.py"))

        def upgrade():
            svc.publish("v2", root)
            return svc.check()
        result, _ = under_load(self, svc, upgrade, "hello from v2")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertRegex(result.stdout, r"^build sha256-[0-9a-f]{64} serves")

    def test_a_program_that_does_not_notify_is_ready_after_the_delay(self):
        svc = RunService(self, server_script, "server.py", extra=["--ready", "delay:300ms"],
                         program_args=["--no-notify"])

        def upgrade():
            mark = svc.log.mark()
            svc.wait_ready(svc.publish("v2"), mark)
        under_load(self, svc, upgrade, "hello from v2")

    def test_a_build_that_never_becomes_ready_is_discarded_while_the_old_one_serves(self):
        svc = RunService(self, server_script, "server.py")

        def bad_upgrade():
            mark = svc.log.mark()
            bad = svc.publish("v2-crash")
            svc.log.wait_for(r"build %s .*: discarded; build %s serves on" % (bad, svc.build_id),
                             mark)
        _, loads = under_load(self, svc, bad_upgrade)
        for load in loads:
            self.assertEqual(set(load.bodies), {"hello from v1"})
        self.assertEqual(run(MOLT, "build-id", svc.bin).stdout.strip(), svc.build_id)

    def test_a_crash_during_probation_rolls_back(self):
        svc = RunService(self, server_script, "server.py")
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
        for extra, cause in (
                (["--ready", "http:healthz"], "the path must begin with /"),
                (["--ready", "http:/a b"], "no space or control character"),
                (["--ready", "exec: "], "no command"),
                (["--ready", "delay:soon"], "soon"),
                (["--ready", "probe"], "unknown"),
                (["--listen", "unix:/tmp/molt-e2e-ready.sock", "--ready", "tcp"],
                 "--listen names none"),
                (["--drain-signal", "SIGNOPE"], "not a signal")):
            listen = [] if "--listen" in extra else ["--listen", "127.0.0.1:0"]
            p = subprocess.run([MOLT, "run"] + listen + extra + ["--", "/bin/true"],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, 2, (extra, p.stderr))
            self.assertIn(cause, p.stderr.splitlines()[0])


class RunPythonReadyProbes(unittest.TestCase):
    """`--ready http:PATH`, `tcp` and `exec:COMMAND`, for a program that does not notify. The
    listener is shared: while the new child starts, the old one accepts the master's probes too,
    and its healthy answers must never make the new build look ready."""

    def probed(self, mode):
        return RunService(self, server_script, "server.py", extra=["--ready", mode],
                          program_args=["--no-notify"])

    def test_ready_by_http_healthz_under_load(self):
        upgrade_ready_by_http_healthz(self, self.probed("http:/healthz"))

    def test_a_build_whose_health_check_fails_is_discarded_while_the_old_one_serves(self):
        svc = self.probed("http:/healthz")

        def bad_upgrade():
            mark = svc.log.mark()
            bad = svc.publish("v2-unhealthy")
            svc.log.wait_for(r"is not ready yet: GET /healthz answered 503", mark)
            svc.log.wait_for(r"build %s .*: discarded; build %s serves on" % (bad, svc.build_id),
                             mark)
            # Drained, not killed: it served from its first accept, before its check failed.
            svc.log.wait_for(r"child \d+ \(build %s\) exited with status 0" % bad, mark)
        _, loads = under_load(self, svc, bad_upgrade)
        for load in loads:
            self.assertLessEqual(set(load.bodies), {"hello from v1", "hello from v2-unhealthy"})
        self.assertEqual(run(MOLT, "build-id", svc.bin).stdout.strip(), svc.build_id)
        answers = set()
        for _ in range(10):
            with urllib.request.urlopen("http://127.0.0.1:%d/" % svc.port, timeout=10) as r:
                answers.add(r.read().decode().strip())
        self.assertEqual(answers, {"hello from v1"})

    def test_ready_by_tcp_needs_the_new_child_itself_to_accept(self):
        svc = self.probed("tcp")

        def deaf_upgrade():  # the old child accepts every probe the new one leaves
            mark = svc.log.mark()
            deaf = svc.publish("v2-deaf")
            svc.log.wait_for(r"build %s .*: discarded; build %s serves on"
                             % (deaf, svc.build_id), mark)
        _, loads = under_load(self, svc, deaf_upgrade)
        for load in loads:
            self.assertEqual(set(load.bodies), {"hello from v1"})

        mark = svc.log.mark()
        v3 = svc.publish("v3")
        svc.wait_ready(v3, mark)
        svc.log.wait_for(r"passed its readiness probe: it accepted a connection on 127\.0\.0\.1:%d"
                         % svc.port, mark)

    def test_ready_by_a_command(self):
        flag = os.path.join(tempfile.mkdtemp(prefix="molt-e2e-exec-"), "go")
        self.addCleanup(shutil.rmtree, os.path.dirname(flag), True)
        # Ready once the test says so; the command is told which child and listener it is about.
        open(flag, "w").close()  # the first child: ready at once
        svc = self.probed("exec:test -e %s && echo $MOLT_CHILD_PID $MOLT_LISTEN > %s.who"
                          % (flag, flag))
        mark = svc.log.mark()
        os.unlink(flag)
        v2 = svc.publish("v2")
        svc.log.wait_for(r"is not ready yet: its readiness command exited with status 1", mark)
        self.assertEqual(run(MOLT, "build-id", svc.bin).stdout.strip(), svc.build_id)
        open(flag, "w").close()
        _, m = svc.wait_ready(v2, mark)
        with open(flag + ".who") as f:
            self.assertEqual(f.read().split(), [m.group(1), "127.0.0.1:%d" % svc.port])
        self.assertEqual(run(MOLT, "build-id", svc.bin).stdout.strip(), v2)


if __name__ == "__main__":
    unittest.main()
