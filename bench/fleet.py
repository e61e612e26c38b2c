#!/usr/bin/env python3
"""Benchmark 6 (only with `run.sh --only fleet`): a fleet of `molt run` masters on one source,
run on one nginx (HTTP), then on one s3rver bucket (S3).

HOSTS masters (500; 40 with --quick), each `molt run` of the C server (examples/c/server.c, no
library) in a folder of its own, with its own --host-id, all polling the source for
tests/fixtures/c_server_v2, with a delta patch from v1 (`molt delta`) beside it. Each source gets
a new fleet of the same hosts (same ids, so the same cohorts). Measured at the server, from its
access log (nginx's own; in s3rver, whose log says neither when nor how many bytes, one written
from each connection's byte counters by bench/s3rver_access_log.js): requests and bytes per idle
poll, polls per second and how they spread over each second (the masters' jitter), the time the
server took to answer, its CPU, and the warnings and errors the masters logged. Then a staged
rollout of v2, signed with --rollout 10, 50, then 0 (halted), then 100: the share of hosts on v2
after each (against the exact set master/cohort.hpp's rule gives, and the binomial margin around
the target), that no host moves after rollout:0, the time until every host runs v2, and the
patches and artifacts downloaded. Both sources are polled every second, like for like
(BENCH_FLEET_S3_INTERVAL=SECONDS polls s3rver less often).
Writes OUT/fleet.json and OUT/fleet-progress-SOURCE.dat (time, hosts on v2) for the plot.
"""
import hashlib
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as c  # noqa: E402
from fleet_sources import HttpSource, S3Source  # noqa: E402

HOSTS = int(os.environ.get("BENCH_FLEET_HOSTS", "40" if c.QUICK else "500"))
IDLE_SECONDS = float(os.environ.get("BENCH_FLEET_IDLE_SECONDS", "10" if c.QUICK else "30"))
SOURCES = os.environ.get("BENCH_FLEET_SOURCES", "http,s3").split(",")
INTERVAL_S = {"http": 1, "s3": int(os.environ.get("BENCH_FLEET_S3_INTERVAL", "1"))}
SETTLE_POLLS = 6    # a halted rollout step is watched for this many poll intervals
CONVERGE_POLLS = 120  # a widening step waits at most this many for every host it names
START_BATCH = 25    # masters started at once, then wait until they serve
PROBLEM = re.compile(r" master (warning|error|critical): ")


def c_build(version):
    return os.path.join(c.BUILD, "tests", "fixtures", "c_server_" + version)


def cohort(host_id, build_id):
    """master/cohort.hpp's rule."""
    digest = hashlib.blake2b((host_id + "\n" + build_id).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % 10000


class Fleet:
    """HOSTS masters on v1, polling `source` every `interval` seconds."""

    def __init__(self, source, pub, interval):
        self.root = tempfile.mkdtemp(prefix="molt-bench-fleet-")
        self.hosts = []
        for i in range(HOSTS):
            d = os.path.join(self.root, "h%03d" % i)
            os.mkdir(d)
            binary = os.path.join(d, "server")
            shutil.copyfile(c_build("v1"), binary)
            os.chmod(binary, 0o755)
            self.hosts.append({"id": "fleet-host-%03d" % i, "dir": d, "bin": binary,
                               "inode": os.stat(binary).st_ino})
        self.procs = []
        for start in range(0, HOSTS, START_BATCH):
            batch = self.hosts[start:start + START_BATCH]
            for h in batch:
                log = open(os.path.join(h["dir"], "master.log"), "w")
                argv = ([c.MOLT, "run", "--listen", "127.0.0.1:0", "--source", source.url] +
                        source.flags + ["--pubkey", pub, "--interval", "%ds" % interval,
                                        "--host-id", h["id"], "--", h["bin"]])
                self.procs.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=log,
                                                   stdin=subprocess.DEVNULL, env=source.env,
                                                   start_new_session=True))
                log.close()
            for h in batch:
                self.wait_log(h, "is ready")

    def wait_log(self, host, text, timeout=60):
        deadline = time.monotonic() + timeout
        path = os.path.join(host["dir"], "master.log")
        while time.monotonic() < deadline:
            with open(path) as f:
                if text in f.read():
                    return
            time.sleep(0.05)
        raise RuntimeError("%s: no '%s' in %s" % (host["id"], text, path))

    def on_new_build(self):
        """The hosts whose <bin> was replaced (an install renames a new file over it)."""
        return {h["id"] for h in self.hosts if os.stat(h["bin"]).st_ino != h["inode"]}

    def problems(self, since, until):
        """The warning and error lines the masters logged in [since, until), by their text
        with the numbers blanked (to say what went wrong without 500 copies of it)."""
        out = {}
        for h in self.hosts:
            with open(os.path.join(h["dir"], "master.log")) as f:
                for line in f:
                    t = c.log_time(line)
                    if t is not None and since <= t < until and PROBLEM.search(line):
                        what = re.sub(r"\b\d+\b", "N", line.split(": ", 1)[1].strip())
                        out[what] = out.get(what, 0) + 1
        return out

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        c.kill_processes_of_dir(self.root)
        shutil.rmtree(self.root, ignore_errors=True)


def access_lines(path, since, until):
    """(time, request bytes, response bytes, status, seconds taken, request) of each logged
    request."""
    out = []
    with open(path) as f:
        for line in f:
            parts = line.split(" ", 5)
            if len(parts) == 6 and since <= float(parts[0]) < until:
                out.append((float(parts[0]), int(parts[1]), int(parts[2]), int(parts[3]),
                            float(parts[4]), parts[5].strip()))
    return out


def server_cpu_seconds(pids):
    return sum(sum(c.cpu_times(pid)[:2]) for pid in pids)


def measure_idle(source, fleet):
    """Polls at the server while nothing changes. A master is ready before its first check
    ends, and that check is unconditional (a 200): the window opens once every master logged
    the result of its first."""
    for h in fleet.hosts:
        fleet.wait_log(h, "is already running; nothing to do")
    idle_from = time.time()
    pids = source.pids()
    cpu = server_cpu_seconds(pids)
    time.sleep(IDLE_SECONDS)
    cpu = server_cpu_seconds(pids) - cpu
    idle = access_lines(source.access_log, idle_from, idle_from + IDLE_SECONDS)
    # Whole seconds only: the window's ends cut into two.
    per_second = {second: 0 for second in range(math.ceil(idle_from),
                                                 math.floor(idle_from + IDLE_SECONDS))}
    for t, *_ in idle:
        if int(t) in per_second:
            per_second[int(t)] += 1
    tenths = [0] * 10
    statuses = {}
    for t, _, _, status, _, _ in idle:
        tenths[int((t % 1) * 10)] += 1
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    return {
        "requests": len(idle),
        "polls_per_second": len(idle) / IDLE_SECONDS,
        "per_second_min": min(per_second.values()) if per_second else 0,
        "per_second_max": max(per_second.values()) if per_second else 0,
        "bytes_in_per_poll": sum(r[1] for r in idle) / max(len(idle), 1),
        "bytes_out_per_poll": sum(r[2] for r in idle) / max(len(idle), 1),
        "statuses": statuses,
        "answer_ms_median": 1000 * c.median([r[4] for r in idle]) if idle else None,
        "answer_ms_p99": 1000 * c.percentile(sorted(r[4] for r in idle), 99) if idle else None,
        "spread_by_tenth_of_second": tenths,
        "server_cpu_percent": 100 * cpu / IDLE_SECONDS,
        # The server shares the 2 cores with the masters, their helpers and any neighbour.
        "loadavg_1min": os.getloadavg()[0],
        "master_problems": fleet.problems(idle_from, idle_from + IDLE_SECONDS),
    }


def staged_rollout(source, fleet, keys, files, interval, progress):
    """v2 signed (again) for 10, 50, 0, then 100 percent; each time the signature goes up, then
    (the first time) the file. Appends (seconds since the first step, hosts on v2) to progress."""
    v2 = files["v2"]
    steps = []
    start = time.time()
    for share in (10, 50, 0, 100):
        before = fleet.on_new_build()
        publishing = time.time()  # s3rver serves an upload half done: counted from here
        c.run(c.MOLT, "sign", "-s", keys.sec, "-m", v2, "-x", v2 + ".minisig", "--rollout",
              str(share))
        source.put("server.minisig", v2 + ".minisig")
        if not steps:
            source.put("server", v2)
        t = time.time()
        expected = {h["id"] for h in fleet.hosts if cohort(h["id"], files["v2_id"]) < share * 100}
        # A widening step waits for every host the rule names; a halt is watched for
        # SETTLE_POLLS intervals, in which no host may move.
        deadline = t + interval * (SETTLE_POLLS if share == 0 else CONVERGE_POLLS)
        done_at = None
        while time.time() < deadline:
            on = fleet.on_new_build()
            progress.append((time.time() - start, len(on)))
            if share and on >= expected:
                done_at = time.time()
                break
            time.sleep(0.2)
        on = fleet.on_new_build()
        p = share / 100
        margin = 2 * (p * (1 - p) / HOSTS) ** 0.5 if 0 < p < 1 else 0
        answered = access_lines(source.access_log, publishing, time.time())
        served = [r for r in answered if r[3] == 200]
        artifacts = [r for r in served
                     if r[5].startswith('"GET %s ' % source.request_path("server"))]
        patches = [r for r in served
                   if r[5].startswith('"GET %s/' % source.request_path("server.patch"))]
        step = {"rollout": share, "on_new_build": len(on), "fraction": len(on) / HOSTS,
                "downloads": len(artifacts) + len(patches), "patch_downloads": len(patches),
                "bytes_sent": sum(r[2] for r in artifacts + patches),
                "error_answers": sum(1 for r in answered if r[3] >= 400),
                "master_problems": fleet.problems(publishing, time.time()),
                "margin_2sigma": margin,
                "within_margin": abs(len(on) / HOSTS - p) <= margin + 1e-9 or share == 0,
                # Halted: no host moves; otherwise exactly the hosts the rule names (and
                # those already on it).
                "exact": on == (before if share == 0 else expected | before),
                "moved": len(on - before)}
        if done_at:
            step["converged_seconds"] = done_at - t  # every host the rule names is on it
        steps.append(step)
        c.log("fleet: rollout %d%%: %d of %d hosts on v2 (exact set: %s)%s" % (
            share, len(on), HOSTS, step["exact"],
            ", all in %.1f s" % step["converged_seconds"] if done_at else ""))
    return steps


def run_on(source_class, keys, files):
    """A new fleet on a new source: idle polls, then the staged rollout. Returns the figures
    and the rollout's progress."""
    interval = INTERVAL_S[source_class.name]
    source = source_class()
    fleet = None
    progress = []
    out = {"title": source.title, "interval_s": interval}
    try:
        # The source holds the running build, signed, as it would between deploys: idle polls
        # are conditional requests for a signature that has not changed.
        source.put("server.minisig", files["v1"] + ".minisig")
        source.put("server", files["v1"])
        # A delta update beside it (v1 to v2 is a one-line change: the version string).
        source.put("server.patch/" + files["v1_id"], files["patch"])
        # A master does not keep the validators of a file modified within the second it was
        # served (nginx's ETag and Last-Modified count whole seconds: fetchers/http.cpp), so
        # its polls in that second are unconditional: the fleet starts in a later one.
        published = time.time()
        while int(time.time()) <= int(published):
            time.sleep(0.01)
        c.log("fleet: starting %d molt run masters on %s (every %d s)" % (HOSTS, source.url,
                                                                         interval))
        t0 = time.time()
        fleet = Fleet(source, keys.pub, interval)
        out["start_seconds"] = time.time() - t0
        c.log("fleet: %d masters serve (%.1f s); idle for %g s" % (HOSTS, out["start_seconds"],
                                                                   IDLE_SECONDS))
        out["idle"] = idle = measure_idle(source, fleet)
        c.log("fleet: idle %.0f polls/s, %.0f + %.0f bytes per poll, server CPU %.0f%%, "
              "statuses %s, master warnings/errors %s" % (
                  idle["polls_per_second"], idle["bytes_in_per_poll"], idle["bytes_out_per_poll"],
                  idle["server_cpu_percent"], idle["statuses"], idle["master_problems"]))
        out["steps"] = staged_rollout(source, fleet, keys, files, interval, progress)
    finally:
        if fleet:
            fleet.stop()
        source.stop()
    return out, progress


def main():
    work = tempfile.mkdtemp(prefix="molt-bench-fleet-files-")
    keys = c.Keys(work)
    files = {"v1": c.prepare(c_build("v1"), work, keys, "v1"), "v2": os.path.join(work, "v2"),
             "patch": os.path.join(work, "v1-v2.patch"),
             "v1_id": c.run(c.MOLT, "build-id", c_build("v1")).stdout.strip(),
             "v2_id": c.run(c.MOLT, "build-id", c_build("v2")).stdout.strip()}
    shutil.copyfile(c_build("v2"), files["v2"])
    os.chmod(files["v2"], 0o755)
    c.run(c.MOLT, "delta", "--from", c_build("v1"), "--to", c_build("v2"), "-o", files["patch"])
    # Dated: RESULTS.md's fleet section may come from a run of this benchmark alone.
    results = {"date": time.strftime("%Y-%m-%d %H:%M %Z"), "hosts": HOSTS,
               "idle_seconds": IDLE_SECONDS, "settle_polls": SETTLE_POLLS,
               "artifact_bytes": os.path.getsize(c_build("v2")),
               "patch_bytes": os.path.getsize(files["patch"]), "sources": {}}
    classes = {cls.name: cls for cls in (HttpSource, S3Source)}
    try:
        for name in SOURCES:
            results["sources"][name], progress = run_on(classes[name], keys, files)
            with open(os.path.join(c.OUT, "fleet-progress-%s.dat" % name), "w") as f:
                for t, n in progress:
                    f.write("%.2f %d\n" % (t, n))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    # The same for examples/hello (the library's example, 2 MiB), v1 to v2 (the BuildID string).
    hello_patch = os.path.join(c.OUT, "hello-v1-v2.patch")
    c.run(c.MOLT, "delta", "--from", c.hello_build("v1"), "--to", c.hello_build("v2"), "-o",
          hello_patch)
    results["hello_patch_bytes"] = os.path.getsize(hello_patch)
    results["hello_artifact_bytes"] = os.path.getsize(c.hello_build("v2"))
    os.remove(hello_patch)
    c.write_json("fleet.json", results)


if __name__ == "__main__":
    main()
