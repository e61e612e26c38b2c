"""Under systemd (Type=notify) the master forwards readiness with a stable MAINPID."""
import os
import socket
import tempfile
import unittest

from harness import Service


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


if __name__ == "__main__":
    unittest.main()
