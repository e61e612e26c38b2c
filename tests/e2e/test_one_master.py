"""One master per binary (issue 9, item 7): a second master on the same binary exits 2 with one
line naming the first's pid, and the first serves on untouched."""
import os
import subprocess
import unittest

from harness import PATIENCE, Service, children_of, wait_until


class OneMaster(unittest.TestCase):
    def test_a_second_master_on_the_same_binary_is_refused(self):
        svc = Service(self)
        before = svc.id()
        second = subprocess.run(svc.master_args(), capture_output=True, text=True,
                                stdin=subprocess.DEVNULL, timeout=30 * PATIENCE)
        self.assertEqual(second.returncode, 2, second.stderr)
        lines = [l for l in second.stderr.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, second.stderr)
        self.assertIn("another master (pid %d) runs %s (lock %s.molt/lock)" %
                      (svc.proc.pid, svc.bin, svc.bin), lines[0])
        self.assertEqual(svc.id(), before)
        svc.upgrade("v2")
        self.assertEqual(svc.hello(), "hello from v2")

    def test_only_the_master_holds_the_lock(self):
        # A check helper (forked from the master without exec) that outlives a killed master
        # for a moment, stuck in the kernel on a slow disk, must not refuse the next master.
        svc = Service(self)
        child = svc.id()["pid"]
        helpers = lambda: [p for p in children_of(svc.proc.pid) if p != child]
        wait_until(helpers, "the check helper between checks")
        lock = os.path.realpath(svc.bin + ".molt/lock")
        holders = [pid for pid in [svc.proc.pid, child] + helpers()
                   if lock in fd_targets(pid)]
        self.assertEqual(holders, [svc.proc.pid])


def fd_targets(pid):
    targets = []
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            targets.append(os.readlink("/proc/%d/fd/%s" % (pid, fd)))
        except FileNotFoundError:
            pass  # closed meanwhile
    return targets


if __name__ == "__main__":
    unittest.main()
