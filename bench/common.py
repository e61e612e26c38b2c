"""Shared pieces of the benchmarks: paths, a molt service (tests/fixtures/hello, the example with test knobs), Debian's nginx, the
master's log with its timestamps, /proc readings and statistics.

Every process started here is started by us and stopped by us, by its pid.
"""
import datetime
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
# The master's log is read the way the end-to-end tests read it: tests/e2e/harness.py's
# LogWatcher (wait_for returns (index, match); match.string is the line).
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
from harness import (LogWatcher, children_of, free_port, kill_processes_of_dir,  # noqa: E402,F401
                     pid_alive, run)
BUILD = os.environ.get("MOLT_BENCH_BUILD", os.path.join(REPO, "build-bench"))
OUT = os.environ.get("BENCH_OUT", os.path.join(HERE, "out", "full"))
QUICK = os.environ.get("BENCH_QUICK", "0") == "1"
MOLT = os.path.join(BUILD, "molt")
LOADGEN = os.path.join(OUT, "..", "bin", "loadgen")
NGINX = "/usr/sbin/nginx"
NGINX_RUNNER = os.path.join(REPO, "tests", "tools", "nginx.py")  # writes the config, runs NGINX


def hello_build(name):
    return os.path.join(BUILD, "tests", "fixtures", "hello_" + name)


def go_build(name):
    """examples/go/server.go built as `name` (v1, v2), for `molt run`."""
    return os.path.join(BUILD, "tests", "fixtures", "go_server_" + name)


def write_json(name, data):
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, name), "w") as f:
        json.dump(data, f, indent=1)


def log(*parts):
    print("[%s]" % time.strftime("%H:%M:%S"), *parts, flush=True)


# ---------------------------------------------------------------- statistics

def percentile(sorted_values, p):
    """Nearest-rank percentile of an already sorted list (None if empty)."""
    if not sorted_values:
        return None
    k = max(0, min(len(sorted_values) - 1, int(round(p / 100.0 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def median(values):
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    n = len(values)
    return values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2


# ---------------------------------------------------------------- /proc

def smaps_rollup(pid):
    """kB fields of /proc/PID/smaps_rollup as a dict (Rss, Pss, Private_Dirty, ...)."""
    out = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            m = re.match(r"(\w+):\s+(\d+) kB", line)
            if m:
                out[m.group(1)] = int(m.group(2))
    return out


CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_times(pid):
    """(utime, stime, cutime, cstime) in seconds, from /proc/PID/stat."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is state (field 3); utime is field 14 -> index 11
    return tuple(int(fields[i]) / CLK_TCK for i in (11, 12, 13, 14))


def schedstat_ns(pid):
    """CPU time the process's own threads ran, in ns (precise; children not included)."""
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total += int(f.read().split()[0])
        except OSError:
            pass
    return total


def fsync_file(path):
    """Writes a file's dirty pages out. A binary copied a moment ago has dirty page-cache pages,
    and smaps counts them as Private_Dirty in every process that maps the file alone: a
    deployed binary is clean, so the benchmarks make theirs clean too."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def master_smaps(pid):
    """smaps_rollup of a master, with Private_Dirty as the master alone would hold it. Its check
    helper is forked from it and lives between polls, sharing the master's pages copy-on-write,
    and smaps counts such pages as Shared_Dirty instead of Private_Dirty. The children are
    exec'd and share none of the master's anonymous pages, so the master's own private memory
    is Private_Dirty + Shared_Dirty. The helper's own pages (those it copied) are counted for the
    helper."""
    s = smaps_rollup(pid)
    s["Private_Dirty"] = s.get("Private_Dirty", 0) + s.get("Shared_Dirty", 0)
    return s


def machine():
    info = {"nproc": os.cpu_count(), "kernel": os.uname().release}
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal"):
                info["mem_gib"] = round(int(line.split()[1]) / 1024 / 1024, 1)
    try:
        info["os"] = [l.split("=", 1)[1].strip().strip('"') for l in open("/etc/os-release")
                      if l.startswith("PRETTY_NAME=")][0]
    except (OSError, IndexError):
        pass
    for name, cmd in (("nginx", [NGINX, "-v"]), ("wrk", ["wrk", "-v"]), ("curl", ["curl", "-V"]),
                      ("minisign", ["minisign", "-v"])):
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=5)
            text = (p.stdout + p.stderr).strip().splitlines()
            info[name] = text[0] if text else "?"
        except (OSError, subprocess.TimeoutExpired):
            info[name] = "missing"
    with open("/proc/loadavg") as f:
        info["loadavg_at_start"] = f.read().split()[0]
    return info


# ---------------------------------------------------------------- the master's log

LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) ")


def log_time(line):
    """Epoch seconds of a molt log line (its local-time stamp, ms resolution), or None."""
    m = LOG_TIME.match(line)
    if not m:
        return None
    return datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f").timestamp()


# ---------------------------------------------------------------- molt service

class Keys:
    def __init__(self, directory):
        self.pub = os.path.join(directory, "molt.pub")
        self.sec = os.path.join(directory, "molt.sec")
        run(MOLT, "keygen", "-W", "-p", self.pub, "-s", self.sec)

    def sign(self, path):
        run(MOLT, "sign", "-s", self.sec, "-m", path, "-x", path + ".minisig")


_last_publish = {}


def publish(build_path, target, keys, distinct_second=False):
    """Drops a build at `target` the way a deploy does: copy aside, sign, rename the signature
    then the binary into place. Returns time.time() just after the binary's rename: the moment
    the artifact is complete at the source.

    distinct_second: first wait until the clock is in a later second than the previous publish
    at `target`. HTTP servers' validators (nginx's ETag and Last-Modified) have a resolution of
    one second, and a signature of the same size published within the same second as the last
    one is answered 304 to the master's conditional poll (see RESULTS.md)."""
    if distinct_second and target in _last_publish:
        while int(time.time()) <= int(_last_publish[target]):
            time.sleep(0.01)
    staging = os.path.join(os.path.dirname(target), ".staging-" + os.path.basename(target))
    shutil.copyfile(build_path, staging)
    os.chmod(staging, 0o755)
    keys.sign(staging)
    os.rename(staging + ".minisig", target + ".minisig")
    os.rename(staging, target)
    _last_publish[target] = time.time()
    return _last_publish[target]


def prepare(build_path, directory, keys, name):
    """A signed copy of a build, made ahead of time (signing costs CPU that should not land in
    a measurement). Signed in the order of use, so the signatures' timestamps never decrease."""
    path = os.path.join(directory, name)
    shutil.copyfile(build_path, path)
    os.chmod(path, 0o755)
    keys.sign(path)
    return path


def publish_prepared(prepared, target):
    """publish() for a build signed by prepare(): staged beside the target, then the signature and
    the binary renamed into place. Returns the time of the binary's rename."""
    staging = os.path.join(os.path.dirname(target), ".staging-" + os.path.basename(target))
    shutil.copyfile(prepared, staging)
    os.chmod(staging, 0o755)
    shutil.copyfile(prepared + ".minisig", staging + ".minisig")
    os.rename(staging + ".minisig", target + ".minisig")
    os.rename(staging, target)
    _last_publish[target] = time.time()
    return _last_publish[target]


class Molt:
    """A hello master run from a copy of a build in its own temp folder; with `molt_run`, the
    `molt run` master of that program (a build path) instead."""

    def __init__(self, name, build="v1", source=None, keys=None, args=(), workdir=None,
                 molt_run=False):
        self.dir = workdir or tempfile.mkdtemp(prefix="molt-bench-%s-" % name)
        self.bin = os.path.join(self.dir, "app")
        shutil.copyfile(hello_build(build) if not os.path.isabs(build) else build, self.bin)
        os.chmod(self.bin, 0o755)
        fsync_file(self.bin)
        self.keys = keys or Keys(self.dir)
        if source is None:
            os.makedirs(os.path.join(self.dir, "drop"), exist_ok=True)
            source = os.path.join(self.dir, "drop", "app")
        self.source = source
        flags = ["--listen", "127.0.0.1:0", "--source", source, "--pubkey", self.keys.pub,
                 "--ready-timeout", "10s", "--drain-timeout", "10s"] + list(args)
        if not any(a == "--interval" for a in args):
            flags += ["--interval", "1s"]
        argv = [MOLT, "run"] + flags + ["--", self.bin] if molt_run else [self.bin] + flags
        self.proc = subprocess.Popen(argv, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, start_new_session=True)
        self.pid = self.proc.pid
        os.makedirs(OUT, exist_ok=True)
        self.log = LogWatcher(self.proc.stderr, os.path.join(OUT, "master-%s.log" % name))
        _, m = self.log.wait_for(r"serving build (\S+) on 127\.0\.0\.1:(\d+)")
        self.build_id = m.group(1)
        self.port = int(m.group(2))
        _, m = self.log.wait_for(r"child (\d+) \(build %s\) is ready" % re.escape(self.build_id))
        self.child = int(m.group(1))

    def wait_upgrade(self, build_id, mark, timeout=30):
        """Waits for the upgrade to `build_id` that follows log index `mark` to complete (the new
        child ready and the old child exited). Returns a dict of epoch times from the log."""
        old = self.child
        t = {}
        # The helper's check ends with the build verified in its staged file; the master then
        # starts the new child from that file and installs it once the child is ready.
        _, m = self.log.wait_for(r"verified build %s\b" % re.escape(build_id), mark, timeout)
        t["verified"] = log_time(m.string)
        _, m = self.log.wait_for(r"started child (\d+) \(build %s" % re.escape(build_id), mark,
                                 timeout)
        t["started"] = log_time(m.string)
        new = int(m.group(1))
        _, m = self.log.wait_for(r"child %d \(build \S+\) is ready" % new, mark, timeout)
        t["ready"] = log_time(m.string)
        _, m = self.log.wait_for(r"installed build %s as " % re.escape(build_id), mark, timeout)
        t["installed"] = log_time(m.string)
        _, m = self.log.wait_for(r"draining child %d\b" % old, mark, timeout)
        t["drain"] = log_time(m.string)
        end, m = self.log.wait_for(r"child %d \(build \S+\) (exited|was killed)" % old, mark,
                                   timeout)
        t["old_exited"] = log_time(m.string)
        # The old child's STOPPING=1. The master can miss it: when the child exits right after
        # sending it, the master may reap the child (and close its notify socket) before reading
        # it (Master::run handles the signalfd before the notify sockets).
        t["stopped_accepting"] = None
        for line in self.log.since(mark)[:end - mark + 1]:
            if re.search(r"child %d stopped accepting" % old, line):
                t["stopped_accepting"] = log_time(line)
        self.child = new
        self.build_id = build_id
        return t

    def check_cpu_seconds(self):
        """The master's molt_check_cpu_seconds_total: the CPU of every check helper that has
        exited (one per transfer), read through `molt status` (always current)."""
        text = subprocess.run([MOLT, "status", self.bin, "--format", "prometheus"],
                              capture_output=True, text=True).stdout
        m = re.search(r"^molt_check_cpu_seconds_total (\S+)$", text, re.M)
        return float(m.group(1)) if m else None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.thread.join(timeout=10)
        self.proc.stderr.close()
        self.log.echo.close()
        # Children run in their own process groups: make sure none outlives the master.
        kill_processes_of_dir(self.dir)
        shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------- nginx

class Nginx:
    """Debian's nginx (tests/tools/nginx.py) with its own config, pid file and root in a temp
    folder, daemonised (so a binary upgrade behaves as in production); stopped through its pid
    file. With access_log, DIR/access.log has nginx.py's format "bench":
    `$request_length $bytes_sent $status "$request"`. With body, every request is answered 200
    with that text (`return 200`) instead of from the root folder."""

    def __init__(self, name, root=None, port=None, tls=None, access_log=False, workers=2,
                 body=None):
        self.dir = tempfile.mkdtemp(prefix="molt-bench-nginx-%s-" % name)
        self.root = root or os.path.join(self.dir, "www")
        os.makedirs(self.root, exist_ok=True)
        self.port = port or free_port()
        self.pidfile = os.path.join(self.dir, "nginx.pid")
        self.access_log = os.path.join(self.dir, "access.log")
        argv = [sys.executable, NGINX_RUNNER, "--daemon", "--workers", str(workers),
                "--worker-connections", "4096", "--dir", self.dir, "--port", str(self.port),
                "--root", self.root]
        if tls:
            argv += ["--cert", tls[0], "--key", tls[1]]
        if access_log:  # True: the format "bench"; or a format's name
            argv += ["--access-log", access_log if isinstance(access_log, str) else "bench"]
        if body is not None:
            argv += ["--return", body]
        run(*argv)  # returns once the master has detached
        self.master = self._wait_pidfile(lambda pid: True)
        self._wait_workers(self.master, workers)
        self.workers = workers

    def _wait_pidfile(self, accept, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with open(self.pidfile) as f:
                    pid = int(f.read().strip())
                if accept(pid) and pid_alive(pid):
                    return pid
            except (OSError, ValueError):
                pass
            time.sleep(0.005)
        raise RuntimeError("nginx pid file %s did not appear" % self.pidfile)

    def _wait_workers(self, master, count, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(children_of(master)) >= count:
                return
            time.sleep(0.005)
        raise RuntimeError("nginx %d did not start %d workers" % (master, count))

    def binary_upgrade(self):
        """nginx's zero-downtime binary upgrade: USR2 to the old master (it renames its pid file
        to .oldbin and starts a new master on the same sockets), then, once the new master and
        its workers run, WINCH (old workers stop gracefully) and QUIT (old master exits).
        Returns epoch times: usr2, new_ready, winch, old_exited."""
        old = self.master
        t = {"usr2": time.time()}
        os.kill(old, signal.SIGUSR2)
        new = self._wait_pidfile(lambda pid: pid != old)
        self._wait_workers(new, self.workers)
        t["new_ready"] = time.time()
        os.kill(old, signal.SIGWINCH)
        t["winch"] = time.time()
        os.kill(old, signal.SIGQUIT)
        deadline = time.monotonic() + 30
        while pid_alive(old) and time.monotonic() < deadline:
            time.sleep(0.005)
        t["old_exited"] = time.time()
        self.master = new
        return t

    def stop(self):
        for path in (self.pidfile + ".oldbin", self.pidfile):
            try:
                with open(path) as f:
                    pid = int(f.read().strip())
                os.kill(pid, signal.SIGQUIT)
                deadline = time.monotonic() + 10
                while pid_alive(pid) and time.monotonic() < deadline:
                    time.sleep(0.01)
                if pid_alive(pid):
                    os.kill(pid, signal.SIGKILL)
            except (OSError, ValueError):
                pass
        shutil.rmtree(self.dir, ignore_errors=True)
