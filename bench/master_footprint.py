#!/usr/bin/env python3
"""Benchmark 2: the master's footprint.

1. Floor: the hello binary stopped after its libraries are loaded, before main() (LD_PRELOAD of
   bench/floor_preload.c): what the binary costs merely by loading them.
2. Idle: two masters polling at 1 s for IDLE seconds, one with a file source, one with an HTTP
   source (Debian's nginx), each with --metrics-file on and its control socket listening; Rss and Private_Dirty from /proc/PID/smaps_rollup, CPU from
   the schedstat of the master's threads and of its live check helper (which lives between
   polls that transfer nothing), plus cutime+cstime for any helper reaped meanwhile; the
   child's for comparison. Then the helpers are watched for a few seconds to count them and
   see their size.
3. HTTPS: a master polling an https:// source (nginx with a test CA made here) goes through
   CYCLES fetch-verify-install-restart cycles; its Private_Dirty before and after.
4. Idle masters side by side (issue 13): `molt run` over the C server (bench/molt_run_smaps.py,
   with its per-mapping table) and Debian nginx's master process (2 workers) in the foreground
   and daemonized, each idle; Rss, Anonymous and Private_Dirty (+ Shared_Dirty) from
   smaps_rollup, median of 3 of each.
Writes OUT/master_footprint.json.
"""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as c  # noqa: E402
import molt_run_smaps  # noqa: E402

IDLE = float(os.environ.get("BENCH_IDLE_SECONDS", "10" if c.QUICK else "60"))
CYCLES = int(os.environ.get("BENCH_HTTPS_CYCLES", "5" if c.QUICK else "20"))
FLOOR_SO = os.path.join(c.OUT, "..", "bin", "floor_preload.so")


def floor(build="v1"):
    """smaps_rollup of the hello binary stopped before main(); median of 3."""
    c.fsync_file(c.hello_build(build))
    samples = []
    for _ in range(3):
        env = dict(os.environ, LD_PRELOAD=os.path.abspath(FLOOR_SO), FLOOR_STOP="1")
        p = subprocess.Popen([c.hello_build(build), "--listen", "127.0.0.1:0"], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with open("/proc/%d/stat" % p.pid) as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "T":
                    break
            time.sleep(0.005)
        samples.append(c.smaps_rollup(p.pid))
        p.kill()
        p.wait()
    return {k: c.median([s[k] for s in samples]) for k in samples[0]}


def mem(pid, known=()):
    s = c.master_smaps(pid)
    return {k: s.get(k) for k in ("Rss", "Pss", "Private_Clean", "Private_Dirty", "Anonymous")}


def watch_helpers(master, child, seconds):
    """Samples the master's children every ~1 ms; returns what the per-check helpers looked
    like: how many were seen, how long each lived (lower bound), their Rss/Private_Dirty."""
    seen = {}
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        now = time.monotonic()
        for pid in c.children_of(master):
            if pid == child:
                continue
            h = seen.setdefault(pid, {"first": now, "last": now, "rss": 0, "pd": 0})
            h["last"] = now
            try:
                s = c.smaps_rollup(pid)
                h["rss"] = max(h["rss"], s.get("Rss", 0))
                h["pd"] = max(h["pd"], s.get("Private_Dirty", 0))
            except OSError:
                pass
        time.sleep(0.001)
    helpers = list(seen.values())
    return {
        "seconds": seconds,
        "helpers_seen": len(helpers),
        "max_alive_at_once": 1 if helpers else 0,
        "lifetime_ms_median": c.median([(h["last"] - h["first"]) * 1000 for h in helpers]),
        "rss_kib_max": max((h["rss"] for h in helpers), default=None),
        "private_dirty_kib_max": max((h["pd"] for h in helpers), default=None),
    }


def live_helper(svc):
    """The master's check helper (its child that is not the serving child), or None."""
    pids = [p for p in c.children_of(svc.pid) if p != svc.child]
    return pids[0] if pids else None


def helper_ns(pid):
    try:
        return c.schedstat_ns(pid) if pid else 0
    except OSError:
        return 0


def count_polls(access_log, since_line=0):
    with open(access_log) as f:
        lines = f.readlines()[since_line:]
    polls = [l for l in lines if ".minisig" in l]
    return len(lines), polls


def idle(results):
    c.log("master_footprint: idle polling at 1 s for %ss (file and HTTP sources)" % IDLE)
    ngx = c.Nginx("footprint-http", access_log=True)
    file_svc = http_svc = None
    try:
        # As an operator runs it: the metrics file on (rewritten at every check), and the
        # control socket listening (always on).
        file_svc = c.Molt("idle-file", "v1", args=["--interval", "1s", "--metrics-file",
                                                   os.path.join(c.OUT, "idle-file.prom")])
        # The source holds the running build, as after a deploy: every poll finds nothing new.
        c.publish(c.hello_build("v1"), file_svc.source, file_svc.keys)
        keys = c.Keys(ngx.dir)
        c.publish(c.hello_build("v1"), os.path.join(ngx.root, "app"), keys)
        http_svc = c.Molt("idle-http", "v1", keys=keys,
                          source="http://127.0.0.1:%d/app" % ngx.port,
                          args=["--interval", "1s", "--metrics-file",
                                os.path.join(c.OUT, "idle-http.prom")])
        time.sleep(3)  # the first checks (a full read of the signature) are done
        svcs = {"file": file_svc, "http": http_svc}
        before = {k: (c.cpu_times(s.pid), c.schedstat_ns(s.pid), time.monotonic())
                  for k, s in svcs.items()}
        helper_before = {k: (live_helper(s), helper_ns(live_helper(s))) for k, s in svcs.items()}
        log_lines_before, _ = count_polls(ngx.access_log)
        peak = {k: 0 for k in svcs}
        mem_start = {k: mem(s.pid, [s.child]) for k, s in svcs.items()}
        end = time.monotonic() + IDLE
        while time.monotonic() < end:
            time.sleep(min(5, max(0, end - time.monotonic())))
            for k, s in svcs.items():
                peak[k] = max(peak[k], c.master_smaps(s.pid)["Private_Dirty"])
        _, polls = count_polls(ngx.access_log, log_lines_before)
        for k, s in svcs.items():
            t0, ns0, m0 = before[k]
            t1, ns1, m1 = c.cpu_times(s.pid), c.schedstat_ns(s.pid), time.monotonic()
            wall = m1 - m0
            own = (t1[0] + t1[1]) - (t0[0] + t0[1])
            helpers = (t1[2] + t1[3]) - (t0[2] + t0[3])  # helpers reaped in the window
            hpid, hns0 = helper_before[k]
            if hpid and live_helper(s) == hpid:
                helpers += (helper_ns(hpid) - hns0) / 1e9  # the helper that lived through it
            results["idle"][k] = {
                "seconds": round(wall, 2),
                "master_mem_kib_start": mem_start[k],
                "master_mem_kib_end": mem(s.pid, [s.child]),
                "master_private_dirty_kib_peak": peak[k],
                "child_mem_kib": mem(s.child),
                "cpu_master_s": round(own, 3),
                "cpu_master_schedstat_s": round((ns1 - ns0) / 1e9, 4),
                "cpu_helpers_s": round(helpers, 4),
                "helper_lived_through": bool(hpid and live_helper(s) == hpid),
                "cpu_master_pct": round(100 * (ns1 - ns0) / 1e9 / wall, 4),
                "cpu_master_and_helpers_pct": round(100 * ((ns1 - ns0) / 1e9 + helpers) / wall,
                                                    4),
            }
        n = len(polls)
        results["idle"]["http"]["polls"] = n
        results["idle"]["http"]["poll_statuses"] = sorted({p.split()[2] for p in polls})
        if n:
            results["idle"]["http"]["http_bytes_per_poll"] = round(
                sum(int(p.split()[0]) + int(p.split()[1]) for p in polls) / n, 1)
        c.log("master_footprint: watching the per-check helpers")
        for k, s in svcs.items():
            results["idle"][k]["helpers"] = watch_helpers(s.pid, s.child, 2 if c.QUICK else 4)
    finally:
        for s in (file_svc, http_svc):
            if s:
                s.stop()
        ngx.stop()


def make_ca(d):
    """The tests' CA (tests/tools/make_pki.sh): (ca, cert, key)."""
    c.run(os.path.join(c.REPO, "tests", "tools", "make_pki.sh"), d)
    return tuple(os.path.join(d, n) for n in ("ca.crt", "server.crt", "server.key"))


def settle_private_dirty(pid, known, seconds=3.0):
    """Private_Dirty after `seconds` of idle polling: the median of samples taken between polls."""
    samples = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        samples.append(c.master_smaps(pid)["Private_Dirty"])
        time.sleep(0.25)
    return c.median(samples)


def https_cycles(results):
    c.log("master_footprint: %d HTTPS fetch-and-verify cycles" % CYCLES)
    import tempfile
    d = tempfile.mkdtemp(prefix="molt-bench-ca-")
    ca, crt, key = make_ca(d)
    ngx = c.Nginx("footprint-https", tls=(crt, key), access_log=True)
    svc = None
    try:
        keys = c.Keys(ngx.dir)
        target = os.path.join(ngx.root, "app")
        c.publish(c.hello_build("v1"), target, keys)
        svc = c.Molt("https", "v1", keys=keys, source="https://127.0.0.1:%d/app" % ngx.port,
                     args=["--interval", "1s", "--ca-file", ca])
        time.sleep(2)
        idle_pd = settle_private_dirty(svc.pid, [svc.child])
        idle_mem = mem(svc.pid, [svc.child])
        per_cycle = []
        durations = []
        nxt = "v2"
        for i in range(CYCLES):
            mark = svc.log.mark()
            t0 = c.publish(c.hello_build(nxt), target, keys, distinct_second=True)
            os.kill(svc.pid, signal.SIGHUP)
            t = svc.wait_upgrade(nxt, mark)
            durations.append(t["ready"] - t0)
            per_cycle.append(c.master_smaps(svc.pid)["Private_Dirty"])
            nxt = "v1" if nxt == "v2" else "v2"
        time.sleep(1.5)
        after_pd = settle_private_dirty(svc.pid, [svc.child])
        results["https"] = {
            "cycles": CYCLES,
            "private_dirty_kib_idle": idle_pd,
            "private_dirty_kib_after": after_pd,
            "growth_kib": after_pd - idle_pd,
            "mem_kib_idle": idle_mem,
            "mem_kib_after": mem(svc.pid, [svc.child]),
            "private_dirty_kib_per_cycle": per_cycle,
            "publish_to_ready_ms_median": round(c.median(durations) * 1000, 1),
        }
        c.log("  Private_Dirty idle %s KiB, after %d cycles %s KiB" % (idle_pd, CYCLES, after_pd))
    finally:
        if svc:
            svc.stop()
        ngx.stop()
        import shutil
        shutil.rmtree(d, ignore_errors=True)


def nginx_foreground_master(workers=2):
    """smaps of Debian nginx's master run in the foreground (`daemon off`, as molt run's master
    runs: never forked away from the process that loaded its libraries), with its workers up."""
    import tempfile
    d = tempfile.mkdtemp(prefix="molt-bench-nginx-fg-")
    os.makedirs(os.path.join(d, "www"))
    p = subprocess.Popen([sys.executable, c.NGINX_RUNNER, "--foreground-master", "--workers",
                          str(workers), "--dir", d, "--port", str(c.free_port()), "--root",
                          os.path.join(d, "www")], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while len(c.children_of(p.pid)) < workers and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(1)  # the master sits in sigsuspend
        r = molt_run_smaps.rollup(p.pid)
        r["mappings"] = molt_run_smaps.per_mapping(p.pid)
        return r
    finally:
        p.send_signal(signal.SIGQUIT)
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        import shutil
        shutil.rmtree(d, ignore_errors=True)


def nginx_daemon_master():
    """The same, daemonized (`daemon on`, as Debian's nginx.service runs it): the master is a
    child forked by the process that loaded the libraries, which then exits. fork copies no page
    table entry of a file mapping, so its Rss counts only the pages it touched since."""
    ngx = c.Nginx("footprint-master")
    try:
        time.sleep(1)
        r = molt_run_smaps.rollup(ngx.master)
        r["mappings"] = molt_run_smaps.per_mapping(ngx.master)
        return r
    finally:
        ngx.stop()


def idle_masters(results, samples=3):
    """The idle `molt run` master against nginx's master: the median of `samples` starts each
    (Rss of shared libraries depends on which of their pages the page cache holds)."""
    c.log("master_footprint: idle molt run master (C server) and nginx master, %d each" % samples)
    keys = ("Rss", "Pss", "Anonymous", "Private_Dirty", "Shared_Dirty", "dirty")
    out = {"samples": samples}

    def median_of(name, runs):
        runs.sort(key=lambda r: r["Rss"])
        out[name] = {k: c.median([r[k] for r in runs]) for k in keys}
        out[name + "_mappings"] = {molt_run_smaps.short(n): v
                                   for n, v in runs[len(runs) // 2]["mappings"].items()
                                   if v["Rss"] > 0}

    molt_runs = []
    for _ in range(samples):
        m = molt_run_smaps.measure(c.BUILD)
        molt_runs.append(dict(m["rollup"], mappings=m["mappings"]))
    median_of("molt_run", molt_runs)
    median_of("nginx", [nginx_foreground_master() for _ in range(samples)])
    median_of("nginx_daemon", [nginx_daemon_master() for _ in range(samples)])
    results["idle_masters"] = out
    c.log("  Rss / Anonymous KiB: molt run master %s / %s, nginx master %s / %s (daemonized "
          "%s / %s)" % (out["molt_run"]["Rss"], out["molt_run"]["Anonymous"], out["nginx"]["Rss"],
                        out["nginx"]["Anonymous"], out["nginx_daemon"]["Rss"],
                        out["nginx_daemon"]["Anonymous"]))


def main():
    results = {"idle_seconds": IDLE, "interval": "1s", "idle": {}}
    c.log("master_footprint: floor of the hello binary (libraries loaded, before main)")
    results["floor_kib"] = floor()
    idle(results)
    https_cycles(results)
    idle_masters(results)
    c.write_json("master_footprint.json", results)


if __name__ == "__main__":
    main()
