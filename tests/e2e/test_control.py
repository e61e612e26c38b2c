"""The control socket and the commands built on it (issue 12): `molt status` through an upgrade,
a failed upgrade and a hold, with its exit codes; `molt check`, `molt restart` and `molt rollback`
wait for and print their outcome; a hold survives a master restart; the socket refuses another
uid and requests that are not one JSON line. The source is an HTTP server with a 1 h interval, so
that each check is the one `molt check` asks for."""
import json
import os
import re
import socket
import subprocess
import unittest

from prometheus_client.parser import text_string_to_metric_families

from harness import MOLT, Load, Service
from http_peers import served_folder
from molt_run import wait_first_check

NOBODY = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]


def molt(*args):
    """Runs `molt ARGS...`: (exit code, stdout, stderr)."""
    p = subprocess.run([MOLT] + [str(a) for a in args], capture_output=True, text=True,
                       timeout=120)
    return p.returncode, p.stdout, p.stderr


class Control(unittest.TestCase):
    def service(self, **kw):
        root, server = served_folder(self)
        svc = Service(self, source=server.url("/app"), interval="1h", **kw)
        svc.root = root
        wait_first_check(svc.bin)
        return svc

    def publish(self, svc, build):
        svc.publish(build, path=os.path.join(svc.root, "app"))

    def status(self, svc, expect_code=0):
        code, out, err = molt("status", "--json", svc.bin)
        self.assertEqual(code, expect_code, err)
        return json.loads(out)

    def test_status_and_check_through_an_upgrade_a_failed_upgrade_and_a_hold(self):
        svc = self.service()
        s = self.status(svc)
        self.assertTrue(s["serving"])
        self.assertEqual(s["build_id"], "v1")
        self.assertEqual(s["master"]["pid"], svc.proc.pid)
        self.assertEqual(s["master"]["build_id"], "v1")  # the master's own code
        self.assertEqual(s["current"]["pid"], svc.id()["pid"])
        self.assertEqual(s["current"]["build_id"], "v1")
        self.assertEqual(s["source"], svc.source)
        self.assertIsNone(s["hold"])
        self.assertEqual(s["bad_builds"], [])
        # The text form says the same, and exits 0 while serving.
        code, out, _ = molt("status", svc.bin)
        self.assertEqual(code, 0)
        self.assertRegex(out, r"^serving build v1 ")

        # An upgrade: `molt check` waits for it and says how it ended.
        v1_child = svc.id()["pid"]
        mark = svc.log.mark()
        self.publish(svc, "v2")
        code, out, err = molt("check", svc.bin)
        self.assertEqual(code, 0, err)
        self.assertRegex(out, r"^build v2 serves \(child \d+\); build v1 drains")
        # The draining v1 accepts until its own STOPPING=1, which may follow the answer.
        svc.wait_stopped_accepting(v1_child, mark)
        self.assertEqual(svc.hello(), "hello from v2")
        s = self.status(svc)
        self.assertEqual(s["build_id"], "v2")
        self.assertEqual(s["current"]["build_id"], "v2")
        self.assertRegex(s["current"]["key_id"], r"^[0-9A-F]{16}$")
        self.assertEqual(s["current"]["signed_at"], s["floor"])
        self.assertEqual(s["last_check"]["outcome"], "staged")
        self.assertIsNotNone(s["probation_until"])

        # Nothing new: the check still answers, with what it found.
        code, out, err = molt("check", svc.bin)
        self.assertEqual(code, 0, err)
        self.assertRegex(out, r"nothing new since the last check|build v2 is already running")

        # A build that crashes at start: discarded, said, and exit 1; v2 serves on.
        self.publish(svc, "v2_crash")
        code, out, err = molt("check", svc.bin)
        self.assertEqual(code, 1)
        self.assertRegex(err, r"^molt check: build v2-crash .*: discarded; build v2 serves on")
        s = self.status(svc)
        self.assertTrue(s["serving"])
        self.assertEqual(s["build_id"], "v2")
        self.assertEqual(s["bad_builds"], ["v2-crash"])

        # A hold: no check runs and no build is taken, across a master restart, until resume.
        code, out, err = molt("hold", "--reason", "incident 42", svc.bin)
        self.assertEqual(code, 0, err)
        self.publish(svc, "v3")
        code, out, err = molt("check", svc.bin)
        self.assertEqual(code, 1)
        self.assertIn("upgrades are held (incident 42)", err)
        svc.restart()
        s = self.status(svc)
        self.assertEqual(s["hold"]["reason"], "incident 42")
        self.assertIsNone(s["next_check"])
        code, out, _ = molt("status", svc.bin)
        self.assertIn("HELD", out)
        self.assertEqual(svc.hello(), "hello from v2")
        metrics = molt("status", "--format", "prometheus", svc.bin)[1]
        held = [s.value for f in text_string_to_metric_families(metrics) for s in f.samples
                if s.name == "molt_held"]
        self.assertEqual(held, [1.0])
        mark = svc.log.mark()
        code, out, err = molt("resume", svc.bin)
        self.assertEqual(code, 0, err)
        svc.wait_ready("v3", mark)
        self.assertIsNone(self.status(svc)["hold"])

        # No master: status says so and exits 1, as `systemctl is-active` does.
        svc.stop()
        code, out, err = molt("status", svc.bin)
        self.assertEqual(code, 1)
        self.assertRegex(err, r"^molt status: no master answers at .*/app\.molt/control: ")

    def test_rollback_under_load(self):
        svc = self.service()
        self.publish(svc, "v2")
        self.assertEqual(molt("check", svc.bin)[0], 0)
        loads = [Load(svc.port, clients=2), Load(svc.port, clients=2, keep_alive=True)]
        for load in loads:
            load.wait_for_answers(20)
        code, out, err = molt("rollback", svc.bin)
        self.assertEqual(code, 0, err)
        self.assertRegex(out, r"^build v1 serves \(child \d+\); build v2 drains and is marked bad")
        for load in loads:
            mark = load.mark()
            load.wait_for_body("hello from v1", mark)
            ok, failures = load.finish()
            self.assertEqual(failures, [])
        self.assertEqual(svc.hello(), "hello from v1")
        self.assertEqual(svc.installed_build_id(), "v1")
        s = self.status(svc)
        self.assertEqual(s["bad_builds"], ["v2"])
        # v2 signed again (a new signature, newer than the floor) is still not taken.
        self.publish(svc, "v2")
        code, out, err = molt("check", svc.bin)
        self.assertEqual(code, 0, err)
        self.assertIn("v2 failed before; not retried", out)
        self.assertEqual(svc.hello(), "hello from v1")

    def test_restart_waits_for_the_new_child(self):
        svc = self.service()
        old = svc.id()["pid"]
        code, out, err = molt("restart", "--json", svc.bin)
        self.assertEqual(code, 0, err)
        answer = json.loads(out)
        self.assertTrue(answer["ok"])
        m = re.match(r"child (\d+) \(build v1\) is ready; child %d drains$" % old,
                     answer["message"])
        self.assertTrue(m, answer["message"])
        # Once the old child has stopped accepting, the new one answers.
        svc.wait_stopped_accepting(old)
        self.assertEqual(svc.id()["pid"], int(m.group(1)))

    def test_rollback_with_nothing_to_roll_back_to(self):
        svc = self.service()
        code, out, err = molt("rollback", svc.bin)
        self.assertEqual(code, 1)
        self.assertRegex(err, r"^molt rollback: nothing to roll back to: stat .*/app\.prev: "
                              r"No such file or directory")

    def test_usage_errors_exit_2(self):
        self.assertEqual(molt("status")[0], 2)  # which master?
        self.assertEqual(molt("status", "--format", "xml", "/x")[0], 2)
        self.assertEqual(molt("hold", "--state-dir", "/x", "/y")[0], 2)

    def ask_raw(self, svc, data):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(20)
            s.connect(os.path.join(svc.bin + ".molt", "control"))
            s.sendall(data)
            answer = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                answer += chunk
        return json.loads(answer)

    def test_requests_that_are_not_one_json_line_are_refused(self):
        svc = self.service()
        # A client that connects and says nothing does not hold the master up.
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as idle:
            idle.connect(os.path.join(svc.bin + ".molt", "control"))
            for data, error in [
                (b"status\n", r"^the request is not one JSON object: expected an object"),
                (b'{"command": ["status"]}\n', r"^the request is not one JSON object"),
                (b'{"command": "self-destruct"}\n', r'^unknown command "self-destruct"'),
                (b'{"command": "hold", "reason": "' + b"x" * 600 + b'"}\n',
                 r"^the reason is longer than 512 bytes"),
                (b'{"command": "status", "pad": "' + b"x" * 5000 + b'"}\n',
                 r"^the request is longer than 4096 bytes"),
            ]:
                answer = self.ask_raw(svc, data)
                self.assertFalse(answer["ok"], data[:40])
                self.assertRegex(answer["error"], error)
            self.assertTrue(self.status(svc)["serving"])
        self.assertIsNone(self.status(svc)["hold"])

    def test_another_uid_cannot_control_the_master(self):
        svc = self.service()
        state = svc.bin + ".molt"
        # The state dir is the master user's alone: another uid cannot even reach the socket.
        p = subprocess.run(NOBODY + [MOLT, "hold", "--state-dir", state], capture_output=True,
                           text=True)
        self.assertEqual(p.returncode, 1)
        self.assertRegex(p.stderr, r"^molt hold: no master answers at .*: Permission denied")
        # With the modes loosened by mistake, the master still refuses the uid (SO_PEERCRED).
        for path, mode in ((svc.dir, 0o711), (state, 0o711),
                           (os.path.join(state, "control"), 0o666)):
            os.chmod(path, mode)
        mark = svc.log.mark()
        p = subprocess.run(NOBODY + [MOLT, "hold", "--reason", "mine now", "--state-dir", state],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 1)
        self.assertRegex(p.stderr, r"^molt hold: uid 65534 may not control this master "
                                   r"\(only root or uid 0\)")
        svc.log.wait_for(r"control socket: refused pid \d+ \(uid 65534\)", mark)
        self.assertIsNone(self.status(svc)["hold"])
        self.assertFalse(os.path.exists(os.path.join(state, "hold")))


if __name__ == "__main__":
    unittest.main()
