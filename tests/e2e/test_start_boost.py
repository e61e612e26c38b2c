"""A new child starts 10 nice levels above the master (--start-boost), so that on a saturated
CPU its start is not spread thin among the serving child's threads; it is back at the master's
priority, every thread of it, once it is ready or has used 100 ms of CPU (--start-boost-cpu).
The check that comes before it runs at the same boost, and the bulk of a large transfer 10
levels below the master. Raising a priority needs CAP_SYS_NICE or RLIMIT_NICE: without either,
children start at the master's priority and the master says why once. The fixture reports the
nice value it had when its serve() began: a sanitizer build uses more than 100 ms of CPU before
that, so the tests that look at it give the boost a larger budget."""
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import unittest

from harness import Service, children_of, hello_build, wait_until
from http_peers import publish, served_folder

WITHOUT_CAP_SYS_NICE = ["setpriv", "--inh-caps=-sys_nice", "--bounding-set=-sys_nice"]
# A master as a service user with LimitNICE= runs: it may raise a priority, but the kernel takes
# one change of any autogroup per 100 ms from it.
WITHOUT_CAP_SYS_ADMIN = ["setpriv", "--inh-caps=-sys_admin", "--bounding-set=-sys_admin"]


def thread_nices(pid):
    """The nice value of each thread of process `pid` (/proc/<pid>/task/*/stat, field 19)."""
    nices = []
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                nices.append(int(f.read().rsplit(")", 1)[1].split()[16]))
        except FileNotFoundError:
            pass  # the thread has just ended
    return nices


def autogroup_nice(pid):
    """The nice value of the autogroup of process `pid`'s session, None where it has none (the
    kernel prints nothing for init's session, as a CI runner's commands may be in) or the kernel
    has no autogroups."""
    try:
        with open("/proc/%d/autogroup" % pid) as f:
            words = f.read().split()  # "/autogroup-123 nice 0"
    except OSError:
        return None
    return int(words[-1]) if words else None


def leads_its_session(pid):
    return os.getsid(pid) == pid


# Where the kernel shares the CPU per session, the boost is on the session's autogroup too. The
# master, its children and its check helper each lead a session (harness.Service), so each has
# an autogroup of its own even where this test's session has none.
AUTOGROUPS = os.path.exists("/proc/self/autogroup") and \
    open("/proc/sys/kernel/sched_autogroup_enabled").read().strip() == "1"


@unittest.skipUnless(os.geteuid() == 0, "raising a priority needs root here")
class StartBoost(unittest.TestCase):
    def test_a_new_child_starts_boosted_and_serves_at_the_masters_priority(self):
        svc = Service(self, extra_args=["--start-boost-cpu", "60s"])
        base = os.getpriority(os.PRIO_PROCESS, svc.proc.pid)
        first = svc.id()
        self.assertEqual(first["start_nice"], max(-20, base - 10))
        svc.upgrade("v2")
        new = svc.id()
        self.assertEqual(new["build_id"], "v2")
        self.assertEqual(new["start_nice"], max(-20, base - 10))
        nices = thread_nices(new["pid"])
        self.assertGreater(len(nices), 1)  # molt::HttpServer's threads, started before READY
        self.assertEqual(set(nices), {base})
        self.assertTrue(leads_its_session(new["pid"]))
        if AUTOGROUPS:
            master_group = autogroup_nice(svc.proc.pid)
            wait_until(lambda: autogroup_nice(new["pid"]) == master_group,
                       "the new child's autogroup to be back at the master's session's")

    @unittest.skipUnless(AUTOGROUPS, "no autogroups here")
    def test_a_childs_session_competes_as_the_masters_does(self):
        # A master at nice 5 in a session at 0: its child's session at 0 too, once it is ready
        # (a nice value counts inside a session; the sessions compete at their own).
        svc = Service(self, wrapper=["nice", "-n", "5"])
        child = svc.id()["pid"]
        self.assertTrue(leads_its_session(child))
        self.assertEqual(os.getpriority(os.PRIO_PROCESS, svc.proc.pid),
                         min(19, os.getpriority(os.PRIO_PROCESS, 0) + 5))
        wait_until(lambda: autogroup_nice(child) == autogroup_nice(svc.proc.pid),
                   "the child's autogroup to be at the master's session's")

    @unittest.skipUnless(AUTOGROUPS, "no autogroups here")
    def test_a_childs_session_is_boosted_when_the_kernel_refused_at_first(self):
        svc = Service(self, wrapper=WITHOUT_CAP_SYS_ADMIN,
                      extra_args=["--init-spin", "2s", "--start-boost-cpu", "1s"],
                      ready_timeout="60s")
        master_group = autogroup_nice(svc.proc.pid)
        mark = svc.log.mark()
        # An autogroup changed (the master's session's, to the value it has) right before the
        # new child starts: the kernel refuses the master the child's session's first change.
        with open("/proc/%d/autogroup" % svc.proc.pid, "w") as f:
            f.write(str(master_group))
        os.kill(svc.proc.pid, signal.SIGUSR2)  # a new child on the same build; it spins first
        _, m = svc.log.wait_for(r"started child (\d+)", mark)
        child = int(m.group(1))
        wait_until(lambda: autogroup_nice(child) == max(-20, master_group - 5),
                   "the new child's session to get half the boost")
        svc.log.wait_for(r"child %d used 1000ms of CPU before it was ready" % child, mark,
                         timeout=60)
        wait_until(lambda: autogroup_nice(child) == master_group,
                   "the new child's session to be back at the master's session's")

    def test_off_with_zero(self):
        svc = Service(self, extra_args=["--start-boost", "0"])
        self.assertEqual(svc.id()["start_nice"], os.getpriority(os.PRIO_PROCESS, svc.proc.pid))

    def test_a_heavy_start_is_boosted_for_its_cpu_budget_only(self):
        svc = Service(self, extra_args=["--init-spin", "2s", "--start-boost-cpu", "1s"],
                      ready_timeout="60s")
        base = os.getpriority(os.PRIO_PROCESS, svc.proc.pid)
        pid = svc.id()["pid"]
        mark = svc.log.mark()
        os.kill(svc.proc.pid, signal.SIGUSR2)  # a new child on the same build; it spins first
        _, m = svc.log.wait_for(r"started child (\d+)", mark)
        if AUTOGROUPS:  # half the boost for the session (StartBoost::child_autogroup_nice)
            master_group = autogroup_nice(svc.proc.pid)
            self.assertEqual(autogroup_nice(int(m.group(1))), max(-20, master_group - 5))
        i, m = svc.log.wait_for(r"child (\d+) used 1000ms of CPU before it was ready: back at "
                                r"the master's priority", mark, timeout=60)
        spinning = int(m.group(1))
        self.assertNotEqual(spinning, pid)
        self.assertEqual(set(thread_nices(spinning)), {base})
        if AUTOGROUPS:
            wait_until(lambda: autogroup_nice(spinning) == master_group,
                       "the spinning child's autogroup to be back at the master's session's")
        j, _ = svc.log.wait_for(r"child %d \(build v1\) is ready" % spinning, mark, timeout=60)
        self.assertGreater(j, i)  # the CPU budget ended the boost, not the child's READY=1
        self.assertEqual(svc.id()["start_nice"], max(-20, base - 10))

    def stalled_check(self, build):
        """A master at an HTTP source whose answer for the artifact stalls halfway: `build` is
        published and being downloaded. Returns (service, its check helper's pid, the staged
        file's path)."""
        root, server = served_folder(self)
        svc = Service(self, source=server.url("/app"), interval="1s")
        child = svc.id()["pid"]
        server.set_mode("/app", "stall")  # half the body, then silence
        publish(svc, build, root)
        staged = lambda: glob.glob(os.path.join(svc.dir, ".app.molt-*"))
        wait_until(staged, "the download to begin")
        helpers = [p for p in children_of(svc.proc.pid) if p != child]
        self.assertEqual(len(helpers), 1)
        self.addCleanup(os.kill, helpers[0], signal.SIGKILL)
        return svc, helpers[0], staged()[0]

    def test_a_check_runs_at_the_start_boost(self):
        svc, helper, _ = self.stalled_check("v2")
        base = os.getpriority(os.PRIO_PROCESS, svc.proc.pid)
        self.assertEqual(set(thread_nices(helper)), {max(-20, base - 10)})
        self.assertTrue(leads_its_session(helper))
        if AUTOGROUPS:
            self.assertEqual(autogroup_nice(helper), max(-20, autogroup_nice(svc.proc.pid) - 10))

    def test_the_bulk_of_a_large_transfer_runs_below_the_master(self):
        # 40 MiB: the stall (at half) comes after StagedFile::kYieldAfter (16 MiB).
        folder = tempfile.mkdtemp(prefix="molt-e2e-large-")
        self.addCleanup(shutil.rmtree, folder, True)
        large = os.path.join(folder, "app")
        shutil.copy(hello_build("v2"), large)
        with open(large, "ab") as f:
            f.write(b"\0" * (40 << 20))
        svc, helper, staged = self.stalled_check(large)
        base = os.getpriority(os.PRIO_PROCESS, svc.proc.pid)
        wait_until(lambda: os.path.getsize(staged) >= (17 << 20), "16 MiB to be staged")
        wait_until(lambda: set(thread_nices(helper)) == {min(19, base + 10)},
                   "every thread of the helper to be 10 levels below the master")
        if AUTOGROUPS:
            self.assertEqual(autogroup_nice(helper), min(19, autogroup_nice(svc.proc.pid) + 10))

    def test_without_cap_sys_nice_children_start_at_the_masters_priority(self):
        svc = Service(self, wrapper=WITHOUT_CAP_SYS_NICE)
        base = os.getpriority(os.PRIO_PROCESS, svc.proc.pid)
        svc.log.wait_for(r"new children start at the master's priority \(--start-boost\): nice "
                         r"-?\d+ needs CAP_SYS_NICE or RLIMIT_NICE \d+ \(systemd: LimitNICE=-?\d+\)")
        self.assertEqual(svc.id()["start_nice"], base)

    @unittest.skipUnless(subprocess.run(["prlimit", "--nice=30", "true"],
                                        stderr=subprocess.DEVNULL).returncode == 0,
                         "raising RLIMIT_NICE needs CAP_SYS_RESOURCE, which this machine's root "
                         "lacks")
    def test_rlimit_nice_is_enough(self):
        # RLIMIT_NICE 30 allows nice values down to 20 - 30 = -10.
        svc = Service(self, wrapper=["prlimit", "--nice=30", "--"] + WITHOUT_CAP_SYS_NICE)
        base = os.getpriority(os.PRIO_PROCESS, svc.proc.pid)
        self.assertEqual(svc.id()["start_nice"], max(-10, base - 10))


if __name__ == "__main__":
    unittest.main()
