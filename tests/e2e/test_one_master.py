"""One master per binary (issue 9, item 7): a second master on the same binary exits 2 with one
line naming the first's pid, and the first serves on untouched."""
import subprocess
import unittest

from harness import PATIENCE, Service


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


if __name__ == "__main__":
    unittest.main()
