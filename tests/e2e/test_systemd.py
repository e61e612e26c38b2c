"""Under systemd (Type=notify) the master forwards readiness with a stable MAINPID, and the unit
file in examples/systemd is one systemd accepts."""
import os
import re
import shutil
import socket
import subprocess
import tempfile
import unittest

from harness import BUILD, Service

UNIT = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "systemd", "hello.service")


class SystemdNotify(unittest.TestCase):
    def test_ready_and_mainpid_reach_the_service_manager(self):
        path = os.path.join(tempfile.mkdtemp(prefix="molt-notify-"), "notify")
        manager = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        manager.bind(path)
        manager.settimeout(30)
        self.addCleanup(manager.close)
        os.environ["NOTIFY_SOCKET"] = path
        try:
            svc = Service(self)
        finally:
            del os.environ["NOTIFY_SOCKET"]
        first = manager.recv(4096).decode()
        self.assertIn("READY=1", first.splitlines())
        self.assertIn("MAINPID=%d" % svc.proc.pid, first.splitlines())
        self.assertIn("STATUS=serving build v1", first.splitlines())
        svc.upgrade("v2")
        second = manager.recv(4096).decode()
        self.assertNotIn("READY=1", second.splitlines())
        self.assertIn("MAINPID=%d" % svc.proc.pid, second.splitlines())
        self.assertIn("STATUS=serving build v2", second.splitlines())
        # A child never sees the service manager's socket: it is given its own.
        with open("/proc/%d/environ" % svc.id()["pid"], "rb") as f:
            env = dict(e.split(b"=", 1) for e in f.read().split(b"\0") if b"=" in e)
        self.assertTrue(env[b"NOTIFY_SOCKET"].startswith(svc.bin.encode() + b".molt/run/notify-"),
                        env[b"NOTIFY_SOCKET"])



class UnitFile(unittest.TestCase):
    def unit(self):
        with open(UNIT) as f:
            return f.read()

    def test_systemd_analyze_verify_accepts_it(self):
        # verify checks that ExecStart's program exists: point it at the built example.
        work = tempfile.mkdtemp(prefix="molt-unit-")
        self.addCleanup(shutil.rmtree, work, True)
        text = self.unit().replace("/opt/hello/hello ", os.path.join(BUILD, "examples", "hello") + " ")
        path = os.path.join(work, "hello.service")
        with open(path, "w") as f:
            f.write(text)
        result = subprocess.run(["systemd-analyze", "verify", path], capture_output=True, text=True)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stderr.strip(), "")

    def test_it_says_what_molt_needs(self):
        settings = dict(re.findall(r"^(\w+)=(.*)$", self.unit(), re.M))
        self.assertEqual(settings["Type"], "notify")  # the master sends READY=1 and MAINPID
        self.assertEqual(settings["ExecReload"], "/bin/kill -HUP $MAINPID")  # check now
        self.assertEqual(settings["KillMode"], "mixed")  # SIGTERM to the master, which drains
        self.assertEqual(settings["ProtectSystem"], "strict")
        self.assertEqual(settings["NoNewPrivileges"], "yes")
        # The binary's folder (upgrades and the state dir beside it) is the one writable path.
        binary = settings["ExecStart"].split()[0]
        self.assertEqual(settings["ReadWritePaths"], os.path.dirname(binary))
        source = settings["ExecStart"].split("--source ")[1].split()[0]
        self.assertTrue(source.startswith(os.path.dirname(binary) + "/"), source)


if __name__ == "__main__":
    unittest.main()
