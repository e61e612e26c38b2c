"""Under systemd (Type=notify) the master forwards readiness with a stable MAINPID, a molt program's
as `molt run`'s, and the unit files in examples/systemd are ones systemd accepts."""
import os
import re
import shutil
import socket
import subprocess
import tempfile
import unittest

from harness import BUILD, Service
from molt_run import RunService, c_server

UNITS = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "systemd")


class SystemdNotify(unittest.TestCase):
    def fake_manager(self):
        """A datagram socket standing for systemd's NOTIFY_SOCKET: (the socket, its path)."""
        path = os.path.join(tempfile.mkdtemp(prefix="molt-notify-"), "notify")
        manager = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        manager.bind(path)
        manager.settimeout(30)
        self.addCleanup(manager.close)
        return manager, path

    def test_molt_run_keeps_a_stable_mainpid(self):
        manager, path = self.fake_manager()
        os.environ["NOTIFY_SOCKET"] = path
        try:
            svc = RunService(self, c_server)
        finally:
            del os.environ["NOTIFY_SOCKET"]
        first = manager.recv(4096).decode().splitlines()
        self.assertIn("READY=1", first)
        self.assertIn("MAINPID=%d" % svc.proc.pid, first)
        mark = svc.log.mark()
        v2 = svc.publish("v2")
        svc.wait_ready(v2, mark)
        second = manager.recv(4096).decode().splitlines()
        self.assertIn("MAINPID=%d" % svc.proc.pid, second)
        self.assertIn("STATUS=serving build %s" % v2, second)

    def test_ready_and_mainpid_reach_the_service_manager(self):
        manager, path = self.fake_manager()
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
    # Each unit, and what systemd-analyze verify needs to find its ExecStart program: the built one.
    UNITS = {"hello.service": ("/opt/hello/hello ", os.path.join(BUILD, "examples", "hello") + " "),
             "molt-run.service": ("/usr/bin/molt ", os.path.join(BUILD, "molt") + " ")}

    def unit(self, name):
        with open(os.path.join(UNITS, name)) as f:
            return f.read()

    def test_systemd_analyze_verify_accepts_them(self):
        work = tempfile.mkdtemp(prefix="molt-unit-")
        self.addCleanup(shutil.rmtree, work, True)
        for name, (installed, built) in self.UNITS.items():
            path = os.path.join(work, name)
            with open(path, "w") as f:
                f.write(self.unit(name).replace(installed, built))
            result = subprocess.run(["systemd-analyze", "verify", path], capture_output=True,
                                    text=True)
            self.assertEqual(result.returncode, 0, (name, result.stderr))
            self.assertEqual(result.stderr.strip(), "", name)

    def test_they_say_what_molt_needs(self):
        for name in self.UNITS:
            settings = dict(re.findall(r"^(\w+)=(.*)$", self.unit(name), re.M))
            self.assertEqual(settings["Type"], "notify")  # the master sends READY=1 and MAINPID
            self.assertEqual(settings["ExecReload"], "/bin/kill -HUP $MAINPID")  # check now
            self.assertEqual(settings["KillMode"], "mixed")  # SIGTERM to the master, which drains
            self.assertEqual(settings["ProtectSystem"], "strict")
            self.assertEqual(settings["NoNewPrivileges"], "yes")
            # The upgraded file's folder (upgrades, the state dir beside it) is the one writable
            # path: the binary's, or with molt run the program's.
            command = settings["ExecStart"]
            upgraded = (command.split(" -- ")[1] if " -- " in command else command).split()[0]
            self.assertEqual(settings["ReadWritePaths"], os.path.dirname(upgraded), name)
            source = command.split("--source ")[1].split()[0]
            self.assertTrue(source.startswith(os.path.dirname(upgraded) + "/"), (name, source))


if __name__ == "__main__":
    unittest.main()
