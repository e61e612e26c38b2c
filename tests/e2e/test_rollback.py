"""A new build that never becomes ready, or exits at start (issue 2, point 4): the old child
never stops serving, <bin> is never replaced (the candidate runs from the staged file), the
build is discarded and not tried again, and a later good build still upgrades."""
import glob
import filecmp
import os
import unittest

from harness import Load, Service, hello_build


class Rollback(unittest.TestCase):
    def check_discarded(self, bad_build, bad_id, expected):
        svc = Service(self)
        v1_pid = svc.id()["pid"]
        load = Load(svc.port, clients=2)
        load.wait_for_answers(20)
        mark = svc.log.mark()
        svc.publish(bad_build)
        i, _ = svc.log.wait_for(r"started child \d+ \(build %s, .*from the staged file" % bad_id,
                                mark)
        # While the candidate started, <bin> was still v1.
        self.assertTrue(filecmp.cmp(svc.bin, hello_build("v1"), shallow=False))
        svc.log.wait_for(expected, i)
        svc.log.wait_for(r"build %s .*: discarded; build v1 serves on" % bad_id, i)
        self.assertFalse([l for l in svc.log.since(mark) if "installed build" in l])
        # Its staged file is gone, and no .prev was made.
        self.assertEqual(glob.glob(os.path.join(svc.dir, ".app.molt-*")), [])
        self.assertFalse(os.path.exists(svc.bin + ".prev"))
        load.wait_for_answers(load.ok + 20)
        ok, failures = load.finish()
        self.assertEqual(failures, [])
        self.assertEqual(set(load.bodies), {"hello from v1"})
        self.assertEqual(svc.id()["pid"], v1_pid)
        self.assertTrue(filecmp.cmp(svc.bin, hello_build("v1"), shallow=False))
        # The bad build is not tried again...
        mark = svc.log.mark()
        svc.publish(bad_build)
        svc.log.wait_for(r"build %s failed before; not retried" % bad_id, mark)
        # ...but a good one still upgrades.
        svc.upgrade("v3")
        self.assertEqual(svc.hello(), "hello from v3")

    def test_build_that_crashes_during_probation_is_rolled_back(self):
        # Ready, installed, then it aborts at its first request: <bin>.prev (v1) comes back and
        # a v1 child serves again.
        svc = Service(self)
        v1_pid = svc.id()["pid"]
        mark = svc.log.mark()
        svc.publish("v2_fragile")
        i, _ = svc.log.wait_for(r"installed build v2-fragile as ", mark)
        svc.wait_ready("v2-fragile", mark)
        svc.wait_stopped_accepting(v1_pid, mark)
        self.assertTrue(filecmp.cmp(svc.bin + ".prev", hello_build("v1"), shallow=False))
        with self.assertRaises(Exception):
            svc.get("/")  # the request that makes it abort
        svc.log.wait_for(r"child \d+ \(build v2-fragile\) was killed by ABRT", i)
        svc.log.wait_for(r"build v2-fragile was killed by ABRT during probation: rolled back to "
                         r"build v1; it will not be tried again", i)
        svc.wait_ready("v1", i)
        self.assertEqual(svc.hello(), "hello from v1")
        self.assertTrue(filecmp.cmp(svc.bin, hello_build("v1"), shallow=False))
        mark = svc.log.mark()
        svc.publish("v2_fragile")
        svc.log.wait_for(r"build v2-fragile failed before; not retried", mark)

    def test_probation_survives_a_master_crash(self):
        # Issue 9: a master SIGKILLed during the probation of a build that then crashes; the
        # restarted master rolls back to <bin>.prev as an uninterrupted one would.
        svc = Service(self, extra_args=["--probation", "10m"])
        mark = svc.log.mark()
        svc.publish("v2_fragile")
        svc.log.wait_for(r"installed build v2-fragile as ", mark)
        svc.wait_ready("v2-fragile", mark)
        svc.restart(kill=True)
        svc.log.wait_for(r"build v2-fragile is on probation for \S+ more")
        with self.assertRaises(Exception):
            svc.get("/")  # the request that makes it abort
        svc.log.wait_for(r"build v2-fragile was killed by ABRT during probation: rolled back to "
                         r"build v1")
        svc.wait_ready("v1")
        self.assertEqual(svc.hello(), "hello from v1")
        self.assertTrue(filecmp.cmp(svc.bin, hello_build("v1"), shallow=False))

    def test_build_not_ready_in_time_is_discarded(self):
        self.check_discarded("v2_slow", "v2-slow", r"draining child \d+ \(not ready within")

    def test_build_that_exits_at_start_is_discarded(self):
        self.check_discarded("v2_crash", "v2-crash", r"child \d+ \(build v2-crash\) exited")


if __name__ == "__main__":
    unittest.main()
