"""The master upgrades too (issue 12): once a new build has passed probation, the master
re-executes itself from <bin> with the same pid and keeps its child, its sockets and what it
counted, under load with no failed request; a build that cannot start as a master leaves the
master on its old code, and says so."""
import filecmp
import json
import subprocess
import unittest

from harness import MOLT, Load, Service, hello_build


def master_code(pid):
    """The file the process runs, as the kernel has it (the inode, whatever its name now)."""
    return "/proc/%d/exe" % pid


def status(svc):
    out = subprocess.run([MOLT, "status", "--json", svc.bin], capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out)


class MasterUpgrade(unittest.TestCase):
    def test_the_master_reexecutes_into_the_new_build_under_load(self):
        svc = Service(self, extra_args=["--probation", "1s"])
        master = svc.proc.pid
        self.assertTrue(filecmp.cmp(master_code(master), hello_build("v1"), shallow=False))
        loads = [Load(svc.port, clients=2), Load(svc.port, clients=2, keep_alive=True)]
        for load in loads:
            load.wait_for_answers(20)
        mark = svc.log.mark()
        svc.publish("v2")
        _, m = svc.wait_ready("v2", mark)
        child = int(m.group(1))
        i, _ = svc.log.wait_for(r"master %d re-executed: it runs build v2's code \(it ran build "
                                r"v1's\); serving build v2 on .* with child %d" % (master, child),
                                mark)
        self.assertTrue(filecmp.cmp(master_code(master), hello_build("v2"), shallow=False))
        self.assertEqual(svc.proc.poll(), None)
        s = status(svc)
        self.assertEqual(s["master"]["pid"], master)
        self.assertEqual(s["master"]["build_id"], "v2")
        self.assertEqual(s["current"]["pid"], child)  # the child never noticed
        self.assertEqual(s["current"]["generation"], 2)
        for load in loads:
            load.wait_for_answers(load.ok + 20)
        # The new code supervises as the old did: it upgrades, and re-executes once more.
        mark = svc.log.mark()
        svc.publish("v3")
        svc.wait_ready("v3", mark)
        svc.log.wait_for(r"master %d re-executed: it runs build v3's code" % master, mark)
        self.assertTrue(filecmp.cmp(master_code(master), hello_build("v3"), shallow=False))
        for load in loads:
            mark = load.mark()
            load.wait_for_body("hello from v3", mark)
            ok, failures = load.finish()
            self.assertEqual(failures, [])
        s = status(svc)
        self.assertEqual(s["current"]["generation"], 3)
        # Its counters came along: two upgrades installed.
        metrics = subprocess.run([MOLT, "status", "--format", "prometheus", svc.bin],
                                 capture_output=True, text=True, check=True).stdout
        self.assertIn('molt_upgrades_total{result="installed"} 2', metrics)

    def test_a_build_that_cannot_be_the_master_leaves_the_old_code_running(self):
        svc = Service(self, extra_args=["--probation", "1s"])
        master = svc.proc.pid
        mark = svc.log.mark()
        svc.publish("v2_no_master")
        svc.wait_ready("v2-no-master", mark)
        svc.log.wait_for(r"build v2-no-master cannot start as a master \(it exited with status "
                         r"3\): the master keeps running build v1's code", mark)
        # It serves as a child all the same; the master runs v1's code, and still supervises.
        self.assertEqual(svc.hello(), "hello from v2-no-master")
        self.assertTrue(filecmp.cmp(master_code(master), hello_build("v1"), shallow=False))
        self.assertEqual(status(svc)["master"]["build_id"], "v1")
        mark = svc.log.mark()
        svc.publish("v3")
        svc.wait_ready("v3", mark)
        svc.log.wait_for(r"master %d re-executed: it runs build v3's code \(it ran build "
                         r"v1's\)" % master, mark)
        self.assertEqual(svc.hello(), "hello from v3")


if __name__ == "__main__":
    unittest.main()
