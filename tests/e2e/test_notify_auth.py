"""The notify channel under attack (issue 9, item 1): another local user can neither reach a
child's notify socket nor take its name, and a process outside the child's group cannot speak
for it. A forged READY=1 never installs a build that is not ready."""
import subprocess
import unittest

from harness import Load, Service, wait_until

# Debian's python3: another user may run it (a python3 under /root may not be).
NOBODY = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]


def environ_of(pid):
    with open("/proc/%d/environ" % pid, "rb") as f:
        return f.read()


def notify_socket_of(pid):
    # The master resumes (and logs "started child") once the child's exec has replaced its
    # memory, before the kernel has recorded where the new environment lies: until then
    # /proc/PID/environ reads empty.
    wait_until(lambda: environ_of(pid), "child %d's exec to set up its environment" % pid)
    env = dict(e.split(b"=", 1) for e in environ_of(pid).split(b"\0") if b"=" in e)
    return env[b"NOTIFY_SOCKET"].decode()


SEND = ("import socket, sys\n"
        "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
        "s.sendto(sys.argv[2].encode() if len(sys.argv) > 2 else b'READY=1', sys.argv[1])\n")


class NotifyAuth(unittest.TestCase):
    def start_slow_candidate(self):
        """v1 serves under load; v2_slow (never ready within the ready timeout) is starting."""
        svc = Service(self)
        load = Load(svc.port)
        mark = svc.log.mark()
        svc.publish("v2_slow")
        _, m = svc.log.wait_for(r"started child (\d+) \(build v2-slow, .*from the staged file", mark)
        return svc, load, mark, int(m.group(1))

    def assert_never_installed(self, svc, load, mark, candidate):
        svc.log.wait_for(r"draining child %d \(not ready within" % candidate, mark)
        svc.log.wait_for(r"build v2-slow .*: discarded; build v1 serves on", mark)
        self.assertFalse([l for l in svc.log.since(mark) if "installed build v2-slow" in l])
        ok, failures = load.finish()
        self.assertEqual(failures, [])
        self.assertEqual(set(load.bodies), {"hello from v1"})

    def test_another_user_cannot_reach_the_socket(self):
        svc, load, mark, candidate = self.start_slow_candidate()
        sent = subprocess.run(
            NOBODY + ["/usr/bin/python3", "-c", SEND, notify_socket_of(candidate)],
            capture_output=True, text=True)
        self.assertNotEqual(sent.returncode, 0)
        self.assertIn("PermissionError", sent.stderr)
        self.assert_never_installed(svc, load, mark, candidate)

    def test_a_process_outside_the_childs_group_is_not_heard(self):
        svc, load, mark, candidate = self.start_slow_candidate()
        # This test runs as the master's user: it reaches the socket, but is no process of the
        # candidate's group.
        subprocess.run(["python3", "-c", SEND, notify_socket_of(candidate)], check=True)
        svc.log.wait_for(r"dropped 1 message\(s\) to child %d's notify socket from pid \d+ "
                         r"\(uid 0\): not a process of the child's group" % candidate, mark)
        self.assert_never_installed(svc, load, mark, candidate)

    def test_a_process_outside_the_childs_group_cannot_ask_for_a_restart_or_a_check(self):
        # State::request_restart() and request_check() travel on the same socket: a process of
        # the master's user outside the child's group is dropped before its fields are read.
        svc = Service(self, interval="1h")
        child = svc.id()["pid"]
        mark = svc.log.mark()
        subprocess.run(["python3", "-c", SEND, notify_socket_of(child),
                        "MOLT_REQUEST=restart\nMOLT_REQUEST=check"], check=True)
        svc.log.wait_for(r"dropped 1 message\(s\) to child %d's notify socket from pid \d+ "
                         r"\(uid 0\): not a process of the child's group" % child, mark)
        # The child asks itself: heard, which shows the socket is read and the drop was the
        # sender's doing.
        svc.get("/request/check")
        svc.log.wait_for(r"child %d asked: checking" % child, mark)
        self.assertFalse([l for l in svc.log.since(mark) if "asked: restarting" in l])
        self.assertEqual(svc.id()["pid"], child)

    def test_squatting_the_names_does_not_fail_upgrades(self):
        svc = Service(self)
        # Another user takes the names the master used to use (abstract, predictable) and tries
        # to put files where it keeps its sockets now.
        squat = ("import socket, sys, time\n"
                 "held = []\n"
                 "for gen in range(1, 60):\n"
                 "    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
                 "    s.bind('\\0molt/%s/%d' % (sys.argv[1], gen))\n"
                 "    held.append(s)\n"
                 "try:\n"
                 "    open(sys.argv[2] + '/notify-9', 'w')\n"
                 "    print('created')\n"
                 "except PermissionError:\n"
                 "    print('refused')\n"
                 "sys.stdout.flush()\n"
                 "sys.stdin.read()\n")
        squatter = subprocess.Popen(
            NOBODY + ["/usr/bin/python3", "-c", squat, str(svc.proc.pid), svc.bin + ".molt/run"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.addCleanup(lambda: (squatter.stdin.close(), squatter.wait()))
        self.assertEqual(squatter.stdout.readline().strip(), "refused")
        mark = svc.log.mark()
        svc.upgrade("v2")
        self.assertEqual(svc.hello(), "hello from v2")
        self.assertFalse([l for l in svc.log.since(mark) if "discarded" in l])


if __name__ == "__main__":
    unittest.main()
