"""A new build that never becomes ready, or exits at start (issue 2, point 4): the old child
never stops serving, <bin> holds v1 again, and a later good build still upgrades."""
import filecmp
import unittest

from harness import Load, Service, hello_build


class Rollback(unittest.TestCase):
    def check_rollback(self, bad_build, bad_id, expected):
        svc = Service(self)
        v1_pid = svc.id()["pid"]
        load = Load(svc.port, clients=2)
        load.wait_for_answers(20)
        mark = svc.log.mark()
        svc.publish(bad_build)
        svc.log.wait_for(expected, mark)
        svc.log.wait_for(r"build %s .*rolled back to build v1" % bad_id, mark)
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

    def test_build_not_ready_in_time_is_rolled_back(self):
        self.check_rollback("v2_slow", "v2-slow", r"killing child \d+: not ready within")

    def test_build_that_exits_at_start_is_rolled_back(self):
        self.check_rollback("v2_crash", "v2-crash", r"child \d+ \(build v2-crash\) exited")


if __name__ == "__main__":
    unittest.main()
