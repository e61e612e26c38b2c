"""Signals to the master (issue 2, point 5)."""
import os
import re
import shutil
import signal
import unittest

from harness import Service, pid_alive, wait_for_exit


class Signals(unittest.TestCase):
    def test_sigusr2_restarts_the_child_on_the_same_build(self):
        svc = Service(self)
        before = svc.id()
        mark = svc.log.mark()
        svc.signal(signal.SIGUSR2)
        svc.wait_ready("v1", mark)
        svc.wait_stopped_accepting(before["pid"], mark)
        after = svc.id()
        self.assertEqual(after["build_id"], "v1")
        self.assertEqual(after["master_pid"], before["master_pid"])
        self.assertNotEqual(after["pid"], before["pid"])
        self.assertEqual(after["generation"], before["generation"] + 1)

    def test_sigusr2_runs_the_build_that_is_at_bin_now(self):
        # An operator puts the previous build back by hand and asks for a restart: the log and
        # the child say the build that is at <bin> now (issue 9, item 9).
        svc = Service(self)
        svc.upgrade("v2")
        shutil.copy(svc.bin + ".prev", svc.bin + ".tmp-by-hand")
        os.rename(svc.bin + ".tmp-by-hand", svc.bin)
        old = svc.id()["pid"]
        mark = svc.log.mark()
        svc.signal(signal.SIGUSR2)
        svc.log.wait_for(r"SIGUSR2: restarting the child on build v1$", mark)
        svc.wait_ready("v1", mark)
        svc.wait_stopped_accepting(old, mark)
        self.assertEqual(svc.id()["build_id"], "v1")

    def test_sighup_checks_the_source_now(self):
        # The source's folder does not exist at start, so there is no inotify watch, and the
        # interval is an hour: only SIGHUP makes the master look.
        svc = Service(self, interval="1h", source="later/app")
        old = svc.id()["pid"]
        os.mkdir(os.path.join(svc.dir, "later"))
        svc.publish("v2")
        mark = svc.log.mark()
        svc.signal(signal.SIGHUP)
        svc.log.wait_for(r"SIGHUP: checking", mark)
        svc.wait_ready("v2", mark)
        svc.wait_stopped_accepting(old, mark)
        self.assertEqual(svc.hello(), "hello from v2")

    def test_sighup_always_says_what_the_check_found(self):
        svc = Service(self, interval="1h")
        waiting = r" info: %s\.minisig: no signature yet" % re.escape(svc.source)
        svc.log.wait_for(waiting)
        # Said once at info by the polls; a SIGHUP's check says it again, at info.
        mark = svc.log.mark()
        svc.signal(signal.SIGHUP)
        svc.log.wait_for(r"SIGHUP: checking", mark)
        svc.log.wait_for(waiting, mark)
        svc.upgrade("v2")
        # An unchanged source: the check transfers nothing, and says so.
        for _ in range(2):
            mark = svc.log.mark()
            svc.signal(signal.SIGHUP)
            svc.log.wait_for(r"SIGHUP: checking", mark)
            svc.log.wait_for(r" info: %s: (nothing new since the last check|build v2 is already "
                             r"running; nothing to do)$" % re.escape(svc.source), mark)

    def test_sigterm_drains_and_exits_zero(self):
        svc = Service(self)
        child = svc.id()["pid"]
        slow, result = svc.send_slow_request("2s")
        svc.signal(signal.SIGTERM)
        self.assertEqual(svc.proc.wait(timeout=30), 0)
        slow.join(timeout=30)
        self.assertEqual(result["answer"], (200, "hello from v1\n"))
        self.assertFalse(pid_alive(child))

    def test_children_drain_and_exit_when_the_master_is_killed(self):
        svc = Service(self)
        child = svc.id()["pid"]
        slow, result = svc.send_slow_request("2s")
        svc.signal(signal.SIGKILL)
        svc.proc.wait(timeout=10)
        slow.join(timeout=30)
        # The orphaned child finished its request, then exited by itself.
        self.assertEqual(result["answer"], (200, "hello from v1\n"))
        self.assertTrue(wait_for_exit(child))


if __name__ == "__main__":
    unittest.main()
