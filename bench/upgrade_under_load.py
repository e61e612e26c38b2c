#!/usr/bin/env python3
"""Benchmark 1: upgrades under full load, molt (tests/fixtures/hello, and examples/go/server.go
under `molt run`) against nginx's binary upgrade.

For each configuration a closed-loop client (bench/loadgen.cpp, 16 connections, one thread)
loads the server for DURATION seconds while an upgrade happens every PERIOD seconds:
  molt   alternating builds v1/v2 dropped at a file source (inotify), signed, as a deploy does;
         molt-run-go: the same with the Go server's builds, `molt run` its master;
  nginx  USR2, then WINCH, then QUIT to the old master (same Debian binary, a tiny static file).
Two client kinds, each on its own: a new connection per request, and keep-alive.
Every request is recorded; an upgrade window runs from the publish (or USR2) to the exit of the
old child (or old master). Writes OUT/upgrade_under_load.json and plot data.
BENCH_LOAD_CONFIGS=NAME[,NAME] runs only those configurations, without the cross-check;
BENCH_KEEP_CSV=1 keeps every request (load-NAME-RUN.csv) and the windows' times beside it.

A cross-check with the stock tools (wrk for keep-alive, hey -disable-keepalive) follows, one run
each, with the same upgrade cadence.
"""
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as c  # noqa: E402

RUNS = int(os.environ.get("BENCH_LOAD_RUNS", "1" if c.QUICK else "3"))
DURATION = float(os.environ.get("BENCH_LOAD_SECONDS", "6" if c.QUICK else "30"))
PERIOD = float(os.environ.get("BENCH_LOAD_PERIOD", "2" if c.QUICK else "3"))
CONNECTIONS = 16
XCHECK_SECONDS = float(os.environ.get("BENCH_XCHECK_SECONDS", "4" if c.QUICK else "10"))

CONFIGS = [
    # name, server, client mode, init delay
    ("molt-close", "molt", "close", None),
    ("molt-keepalive", "molt", "keepalive", None),
    ("molt300-close", "molt", "close", "300ms"),
    ("molt300-keepalive", "molt", "keepalive", "300ms"),
    ("molt-run-go-close", "molt-run-go", "close", None),
    ("molt-run-go-keepalive", "molt-run-go", "keepalive", None),
    ("nginx-close", "nginx", "close", None),
    ("nginx-keepalive", "nginx", "keepalive", None),
]


class MoltTarget:
    """The library's example (hello), or with `go` examples/go/server.go under `molt run`."""

    def __init__(self, name, init_delay, go=False):
        args = ["--interval", "1s"]
        if init_delay:
            args += ["--init-delay", init_delay]
        make = c.go_build if go else c.hello_build
        self.svc = c.Molt(name, make("v1"), args=args, molt_run=go)
        self.port = self.svc.port
        self.next = "v2"
        self.build_ids = {v: c.run(c.MOLT, "build-id", make(v)).stdout.strip()
                          for v in ("v1", "v2")}
        # Every upgrade's signed build is made before the load starts.
        self.prepared = []
        for k in range(int(DURATION / PERIOD) + 1):
            build = "v2" if k % 2 == 0 else "v1"
            self.prepared.append(c.prepare(make(build), self.svc.dir, self.svc.keys,
                                           "prepared-%d" % k))

    def upgrade(self):
        version = self.next
        self.next = "v1" if version == "v2" else "v2"
        mark = self.svc.log.mark()
        t0 = c.publish_prepared(self.prepared.pop(0), self.svc.source)
        t = self.svc.wait_upgrade(self.build_ids[version], mark)
        t["start"] = t0
        t["end"] = t["old_exited"]
        t["from"] = self.next
        t["to"] = version
        return t

    def stop(self):
        self.svc.stop()


class NginxTarget:
    def __init__(self, name):
        self.ngx = c.Nginx(name)
        with open(os.path.join(self.ngx.root, "index.html"), "w") as f:
            f.write("hello from nginx\n")
        self.port = self.ngx.port

    def upgrade(self):
        t = self.ngx.binary_upgrade()
        t["start"] = t["usr2"]
        t["end"] = t["old_exited"]
        t["drain"] = t["winch"]
        return t

    def stop(self):
        self.ngx.stop()


def make_target(name, server, init_delay):
    if server == "nginx":
        return NginxTarget(name)
    return MoltTarget(name, init_delay, go=server == "molt-run-go")


def drive(target, client_cmd, duration):
    """Runs client_cmd for `duration` s with an upgrade every PERIOD s; returns (stdout, windows)."""
    proc = subprocess.Popen(client_cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    t_start = time.time()
    windows = []
    k = 1
    try:
        while k * PERIOD <= duration - PERIOD + 1e-9:
            wait = t_start + k * PERIOD - time.time()
            if wait > 0:
                time.sleep(wait)
            windows.append(target.upgrade())
            k += 1
        out, err = proc.communicate(timeout=duration + 60)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    if proc.returncode != 0:
        raise RuntimeError("%s failed: %s" % (client_cmd[0], err))
    return out, err, windows, t_start


def load_records(path):
    recs = []
    with open(path) as f:
        for line in f:
            s, lat, conn, result, tag = line.rstrip("\n").split(",")
            recs.append((int(s) / 1e9, int(lat) / 1000.0, int(conn), result, tag))
    return recs


def summarize(latencies):
    v = sorted(latencies)
    return {"n": len(v), "p50_ms": c.percentile(v, 50), "p99_ms": c.percentile(v, 99),
            "p999_ms": c.percentile(v, 99.9), "max_ms": v[-1] if v else None}


def analyze(recs, windows, t_start, mode):
    import bisect

    def failed(r):
        return not r[3][:1].isdigit() or not r[3].startswith("2")

    spans = [(w["start"], w["end"]) for w in windows]
    recs.sort(key=lambda r: r[0])
    starts = [r[0] for r in recs]
    longest = max((r[1] for r in recs), default=0) / 1000.0

    def overlapping(lo, hi):
        """Requests whose [start, end] overlaps [lo, hi] (recs sorted by start)."""
        i = bisect.bisect_left(starts, lo - longest - 1e-6)
        j = bisect.bisect_right(starts, hi)
        return [r for r in recs[i:j] if r[0] + r[1] / 1000.0 >= lo]

    inside = set()
    for ws, we in spans:
        inside.update(id(r) for r in overlapping(ws, we))

    def in_window(r):
        return id(r) in inside

    all_lat, win_lat, steady_lat = [], [], []
    failures = {}
    fail_in_window = 0
    for r in recs:
        if failed(r):
            failures[r[3]] = failures.get(r[3], 0) + 1
            if in_window(r):
                fail_in_window += 1
            continue
        all_lat.append(r[1])
        if in_window(r):
            win_lat.append(r[1])
        elif r[0] >= t_start + 0.5:  # after the warm-up (connections opening)
            steady_lat.append(r[1])
    first = min((r[0] for r in recs), default=t_start)
    last = max((r[0] + r[1] / 1000.0 for r in recs), default=t_start)
    out = {
        "requests": len(recs),
        "failed": sum(failures.values()),
        "failures": failures,
        "failed_in_windows": fail_in_window,
        "rps": len(recs) / max(1e-9, last - first),
        "overall": summarize(all_lat),
        "windows": summarize(win_lat),
        "steady": summarize(steady_lat),
        "upgrades": len(windows),
        "window_ms": [round((w["end"] - w["start"]) * 1000, 1) for w in windows],
    }
    per_window_max = []
    for ws, we in spans:
        m = [r[1] for r in overlapping(ws, we) if not failed(r)]
        per_window_max.append(round(max(m), 2) if m else None)
    out["per_window_max_ms"] = per_window_max
    # Where in the window the worst latencies fall: the max over requests overlapping each phase.
    if windows and "to" in windows[0]:
        phases = (("check", "start", "verified"),
                  ("new child start", "started", "ready"),
                  ("drain", "ready", "end"))
    else:
        phases = (("new master start", "start", "new_ready"),
                  ("old workers' shutdown", "new_ready", "end"))
    phase_max = {}
    for label, a, b in phases:
        worst, every = [], []
        for w in windows:
            lo, hi = w[a], w[b]
            m = [r[1] for r in overlapping(lo, hi) if not failed(r)]
            worst.append(max(m) if m else 0)
            every += m
        phase_max[label] = {"max_ms": round(max(worst), 1) if worst else None,
                            "median_of_window_max_ms": c.median(worst),
                            "p99_ms": c.percentile(sorted(every), 99) if every else None,
                            "median_duration_ms": c.median([(w[b] - w[a]) * 1000
                                                            for w in windows])}
    out["phases"] = phase_max
    # molt: how fast keep-alive connections leave the old build once its drain began. Counted
    # from the master's "draining child" line (it logs, then sends the signal; the line's stamp
    # is truncated to the ms, so 1 ms is added) and from the child's own STOPPING=1 ("stopped
    # accepting"): the signal reaches the old child's threads asynchronously.
    if windows and "to" in windows[0]:
        moved, stale_signal, stale_stopping = [], [], []
        for w in windows:
            old, new = w["from"], w["to"]
            by_conn = {}
            i = bisect.bisect_left(starts, w["drain"])
            j = bisect.bisect_right(starts, w["end"] + 1.0)
            for r in recs[i:j]:
                by_conn.setdefault(r[2], []).append(r)
            worst_sig, worst_stop, worst_move = 0, 0, 0.0
            for conn, rs in by_conn.items():
                n_sig = n_stop = 0
                for r in rs:
                    if r[4] == new:
                        worst_move = max(worst_move, r[0] + r[1] / 1000 - w["drain"])
                        break
                    if r[4] == old:
                        n_sig += r[0] >= w["drain"] + 0.001
                        if w["stopped_accepting"] is not None:
                            n_stop += r[0] >= w["stopped_accepting"] + 0.001
                worst_sig = max(worst_sig, n_sig)
                worst_stop = max(worst_stop, n_stop)
            stale_signal.append(worst_sig)
            stale_stopping.append(worst_stop)
            moved.append(round(worst_move * 1000, 1))
        out["old_answers_after_drain_signal_max"] = max(stale_signal) if stale_signal else None
        out["old_answers_after_stopping_max"] = max(stale_stopping) if stale_stopping else None
        out["ms_until_every_conn_on_new_build_max"] = max(moved) if moved else None
        out["ms_signal_to_stopping"] = [round((w["stopped_accepting"] - w["drain"]) * 1000, 1)
                                        for w in windows if w["stopped_accepting"] is not None]
        out["stopping_not_logged"] = sum(w["stopped_accepting"] is None for w in windows)
        out["child_start_ms"] = [round((w["ready"] - w["started"]) * 1000, 1) for w in windows]
        # Publish to the first answer from the new build, under this load (upgrade_latency.py
        # measures the same idle).
        to_answer = []
        for w in windows:
            i = bisect.bisect_left(starts, w["start"])
            j = bisect.bisect_right(starts, w["end"] + 1.0)
            done = [r[0] + r[1] / 1000 for r in recs[i:j] if r[4] == w["to"] and not failed(r)]
            if done:
                to_answer.append(round((min(done) - w["start"]) * 1000, 1))
        out["publish_to_answer_ms"] = to_answer
    return out


def plot_data(recs, windows, t_start, path_prefix):
    """100 ms buckets: t, p50, p99, max latency (ms), failures; plus the windows."""
    buckets = {}
    for r in recs:
        b = int((r[0] - t_start) * 10)
        buckets.setdefault(b, []).append(r)
    with open(path_prefix + ".dat", "w") as f:
        f.write("# t_s p50_ms p99_ms max_ms failures requests\n")
        for b in sorted(buckets):
            rs = buckets[b]
            lat = sorted(r[1] for r in rs if r[3].startswith("2"))
            fails = sum(1 for r in rs if not r[3].startswith("2"))
            if lat:
                f.write("%.1f %.3f %.3f %.3f %d %d\n" % (b / 10, c.percentile(lat, 50),
                                                         c.percentile(lat, 99), lat[-1], fails,
                                                         len(rs)))
    with open(path_prefix + "-windows.dat", "w") as f:
        for w in windows:
            f.write("%.3f %.3f\n" % (w["start"] - t_start, w["end"] - t_start))


def run_config(name, server, mode, init_delay, run_index):
    c.log("upgrade_under_load: %s run %d (%ss, upgrade every %ss)" % (name, run_index + 1,
                                                                      DURATION, PERIOD))
    target = make_target("%s-%d" % (name, run_index), server, init_delay)
    csv = os.path.join(c.OUT, "load-%s-%d.csv" % (name, run_index))
    try:
        cmd = [c.LOADGEN, "--port", str(target.port), "--connections", str(CONNECTIONS),
               "--duration", str(DURATION), "--mode", mode, "--timeout-ms", "10000", "--out", csv]
        out, _, windows, t_start = drive(target, cmd, DURATION)
    finally:
        target.stop()
    summary = json.loads(out)
    recs = load_records(csv)
    result = analyze(recs, windows, t_start, mode)
    result["client_summary"] = summary
    if run_index == 0:
        plot_data(recs, windows, t_start, os.path.join(c.OUT, "plot-%s" % name))
    if os.environ.get("BENCH_KEEP_CSV"):
        c.write_json("load-%s-%d-windows.json" % (name, run_index), windows)
    else:
        os.remove(csv)  # hundreds of thousands of lines each; the summary keeps what matters
    c.log("  %d requests, %d failed, p99 %.2f ms, window max %.2f ms, steady p99 %.2f ms" % (
        result["requests"], result["failed"], result["overall"]["p99_ms"] or 0,
        result["windows"]["max_ms"] or 0, result["steady"]["p99_ms"] or 0))
    return result


# ---------------------------------------------------------------- wrk / hey cross-check

def parse_wrk(text):
    out = {"tool": "wrk -t1 -c%d --latency" % CONNECTIONS}
    m = re.search(r"(\d+) requests in", text)
    out["requests"] = int(m.group(1)) if m else None
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    out["errors"] = dict(zip(("connect", "read", "write", "timeout"),
                             map(int, m.groups()))) if m else {}
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    out["non2xx"] = int(m.group(1)) if m else 0
    out["failed"] = sum(out["errors"].values()) + out["non2xx"]
    for p in ("50", "99"):
        m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)" % p, text, re.M)
        if m:
            out["p%s_ms" % p] = float(m.group(1)) * {"us": 1e-3, "ms": 1, "s": 1e3}[m.group(2)]
    m = re.search(r"Latency\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)", text)
    if m:
        out["max_ms"] = float(m.group(1)) * {"us": 1e-3, "ms": 1, "s": 1e3}[m.group(2)]
    return out


def parse_hey(text):
    out = {"tool": "hey -c %d -disable-keepalive" % CONNECTIONS}
    codes = {int(a): int(b) for a, b in re.findall(r"\[(\d{3})\]\s+(\d+) responses", text)}
    errs = re.search(r"Error distribution:\n((?:\s+\[\d+\].*\n?)*)", text)
    n_err = sum(int(x) for x in re.findall(r"\[(\d+)\]", errs.group(1))) if errs else 0
    out["requests"] = sum(codes.values()) + n_err
    out["non2xx"] = sum(v for k, v in codes.items() if not 200 <= k < 300)
    out["errors"] = {"transport": n_err}
    if errs:
        out["error_lines"] = [l.strip()[:160] for l in errs.group(1).strip().splitlines()[:5]]
    out["failed"] = n_err + out["non2xx"]
    for p in ("50", "99"):
        m = re.search(r"%s%%+ in ([\d.]+) secs" % p, text)
        if m:
            out["p%s_ms" % p] = float(m.group(1)) * 1000
    m = re.search(r"Slowest:\s+([\d.]+) secs", text)
    if m:
        out["max_ms"] = float(m.group(1)) * 1000
    return out


def xcheck(server, tool):
    name = "xcheck-%s-%s" % (server, tool)
    c.log("upgrade_under_load: %s (%ss)" % (name, XCHECK_SECONDS))
    target = make_target(name, server, None)
    url = "http://127.0.0.1:%d/" % target.port
    secs = int(XCHECK_SECONDS)
    if tool == "wrk":
        cmd = ["wrk", "-t1", "-c%d" % CONNECTIONS, "-d%ds" % secs, "--timeout", "10s", "--latency",
               url]
    else:
        cmd = ["hey", "-z", "%ds" % secs, "-c", str(CONNECTIONS), "-t", "10", "-disable-keepalive",
               url]
    try:
        out, err, windows, _ = drive(target, cmd, secs)
    finally:
        target.stop()
    res = parse_wrk(out) if tool == "wrk" else parse_hey(out)
    res["upgrades"] = len(windows)
    res["seconds"] = secs
    with open(os.path.join(c.OUT, name + ".txt"), "w") as f:
        f.write(out)
    c.log("  %s requests, %s failed" % (res.get("requests"), res.get("failed")))
    return res


def main():
    os.makedirs(c.OUT, exist_ok=True)
    results = {"runs": RUNS, "duration_s": DURATION, "period_s": PERIOD,
               "connections": CONNECTIONS, "configs": {}}
    only = [n for n in os.environ.get("BENCH_LOAD_CONFIGS", "").split(",") if n]
    configs = [cf for cf in CONFIGS if not only or cf[0] in only]
    for i in range(RUNS):  # interleaved, so drift over time touches every configuration alike
        for name, server, mode, delay in configs:
            results["configs"].setdefault(name, {"server": server, "mode": mode,
                                                 "init_delay": delay, "runs": []})
            results["configs"][name]["runs"].append(run_config(name, server, mode, delay, i))
            c.write_json("upgrade_under_load.json", results)
    results["xcheck"] = {}
    if only:
        return
    for server in ("molt", "nginx"):
        for tool in ("wrk", "hey"):
            results["xcheck"]["%s-%s" % (server, tool)] = xcheck(server, tool)
            c.write_json("upgrade_under_load.json", results)


if __name__ == "__main__":
    main()
