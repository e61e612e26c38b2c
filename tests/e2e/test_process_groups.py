"""Processes of a child (issue 9, item 6 and 9): the drain signal, the kill and the master's end
reach a child's whole process group, so a careless pre-fork worker (hello_v1_worker forks one
that ignores the drain signal) never answers for an old build; a child gets fds 0-2 and the
listeners, nothing else."""
import os
import signal
import subprocess
import unittest

from harness import LogWatcher, Service, children_of, wait_for_exit, wait_until


class ProcessGroups(unittest.TestCase):
    def start_with_worker(self):
        svc = Service(self, build="v1_worker")
        _, m = svc.wait_ready("v1-worker")
        child = int(m.group(1))
        bodies = set()
        wait_until(lambda: bodies.add(svc.get("/")[1].strip()) or
                   "hello from v1-worker (worker)" in bodies, "the worker to answer")
        workers = children_of(child)
        self.assertEqual(len(workers), 1, workers)
        return svc, child, workers[0]

    def test_no_process_of_the_old_generation_answers_after_an_upgrade(self):
        svc, child, worker = self.start_with_worker()
        mark = svc.log.mark()
        svc.publish("v2")
        svc.wait_ready("v2", mark)
        svc.log.wait_for(r"child %d \(build v1-worker\) (exited|was killed)" % child, mark)
        svc.log.wait_for(r"killed 1 process\(es\) left in child %d's process group" % child, mark)
        self.assertTrue(wait_for_exit(worker), "the old build's worker still runs")
        for _ in range(50):
            self.assertEqual(svc.hello(), "hello from v2")

    def test_the_masters_exit_ends_the_workers(self):
        svc, child, worker = self.start_with_worker()
        mark = svc.log.mark()
        svc.signal(signal.SIGTERM)
        svc.proc.wait(timeout=30)
        self.assertTrue(wait_for_exit(worker))
        svc.log.wait_for(r"killed 1 process\(es\) left in child %d's process group" % child, mark)

    def test_a_new_master_ends_what_a_killed_one_left(self):
        svc, child, worker = self.start_with_worker()
        svc.signal(signal.SIGKILL)
        svc.proc.wait()
        self.assertTrue(wait_for_exit(child))  # the drain signal through PR_SET_PDEATHSIG
        # The worker ignored it, holds the port and answers for the old build.
        self.assertEqual(svc.get("/")[1].strip(), "hello from v1-worker (worker)")
        args = list(svc.master_args())
        args[args.index("127.0.0.1:0")] = "127.0.0.1:%d" % svc.port
        again = subprocess.Popen(args, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                 start_new_session=True)
        self.addCleanup(lambda: again.poll() is None and (again.kill(), again.wait()))
        log = LogWatcher(again.stderr, os.path.join(svc.dir, "master-again.log"))
        self.addCleanup(lambda: (again.stderr.close(), log.echo.close()))
        log.wait_for(r"killed 1 process\(es\) left in process group %d" % child)
        self.assertTrue(wait_for_exit(worker))
        log.wait_for(r"child \d+ \(build v1-worker\) is ready")
        again.send_signal(signal.SIGTERM)
        self.assertEqual(again.wait(timeout=30), 0)


class ChildDescriptors(unittest.TestCase):
    def test_a_child_gets_fds_0_to_2_and_the_listeners_only(self):
        # The master inherits a pipe from whoever started it; its children must not.
        read_end, write_end = os.pipe()
        os.set_inheritable(read_end, True)
        self.addCleanup(os.close, read_end)
        self.addCleanup(os.close, write_end)
        svc = Service(self, pass_fds=(read_end,))
        pid = svc.id()["pid"]
        targets = {}
        for fd in sorted(int(fd) for fd in os.listdir("/proc/%d/fd" % pid)):
            try:
                targets[fd] = os.readlink("/proc/%d/fd/%d" % (pid, fd))
            except FileNotFoundError:
                pass  # closed meanwhile: an accepted connection of hello's own
        pipe = os.readlink("/proc/self/fd/%d" % read_end)
        self.assertNotIn(pipe, targets.values())
        self.assertEqual([fd for fd, t in targets.items() if t == "/dev/null"], [0])
        # fd 3 is the listener; whatever hello opened itself comes after it.
        self.assertTrue(targets[3].startswith("socket:"), targets)


if __name__ == "__main__":
    unittest.main()
