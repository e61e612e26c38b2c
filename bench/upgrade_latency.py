#!/usr/bin/env python3
"""Benchmark 4: upgrade latency, from the moment the new artifact is complete at the source (its
rename into place) to the first answer from the new BuildID, for three ways of noticing it:
  file         a file source: the drop is seen by inotify
  http-1s      an http:// source (Debian's nginx) polled every 1 s
  http-sighup  the same source, polled every hour, with SIGHUP sent right after the publish
A prober opens a new connection per request (one every ~1 ms) and stops at the first answer
from the new build. The master's log splits the time: publish -> verified (notice, fetch,
hash, fsync, verify, in the check helper), verified -> child started (from the staged file),
started -> ready (the child's own start; the install, a rename, follows READY=1). The new child
(tests/fixtures/hello) says how much CPU its main thread used before main() (its exec, the
dynamic loader, the libraries' constructors) and from main() to its serve(); the rest of its
start is molt::HttpServer's threads and READY=1. The loader's own statistics (LD_DEBUG) count
the libraries and relocations behind the first part.
Writes OUT/upgrade_latency.json.
"""
import os
import json
import random
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as c  # noqa: E402

RUNS = int(os.environ.get("BENCH_LATENCY_RUNS", "2" if c.QUICK else "5"))


def ask(port):
    """One GET / on a new connection; the body, or None on any error."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        return data.split(b"\r\n\r\n", 1)[1].decode(errors="replace").strip()
    except (OSError, IndexError):
        return None


def first_answer_from(port, build, timeout=30):
    want = "hello from " + build
    deadline = time.monotonic() + timeout
    probes = 0
    while time.monotonic() < deadline:
        body = ask(port)
        probes += 1
        if body == want:
            return time.time(), probes
        time.sleep(0.001)
    raise RuntimeError("no answer from build %s within %ss" % (build, timeout))


def measure(mode):
    c.log("upgrade_latency: %s, %d runs" % (mode, RUNS))
    ngx = None
    if mode == "file":
        svc = c.Molt("latency-file", "v1", args=["--interval", "1s"])
        target = svc.source
    else:
        ngx = c.Nginx("latency-" + mode)
        keys = c.Keys(ngx.dir)
        target = os.path.join(ngx.root, "app")
        c.publish(c.hello_build("v1"), target, keys)
        interval = "1s" if mode == "http-1s" else "1h"
        svc = c.Molt("latency-" + mode, "v1", keys=keys,
                     source="http://127.0.0.1:%d/app" % ngx.port, args=["--interval", interval])
    runs = []
    try:
        nxt = "v2"
        for _ in range(RUNS):
            # A random phase against the poll interval.
            time.sleep(random.uniform(0.3, 1.3))
            mark = svc.log.mark()
            t0 = c.publish(c.hello_build(nxt), target, svc.keys, distinct_second=mode != "file")
            if mode == "http-sighup":
                os.kill(svc.pid, signal.SIGHUP)
            t1, probes = first_answer_from(svc.port, nxt)
            t = svc.wait_upgrade(nxt, mark)
            with urllib.request.urlopen("http://127.0.0.1:%d/id" % svc.port, timeout=5) as r:
                start_cpu = json.load(r)["start_cpu_ms"]
            latency = (t1 - t0) * 1000
            child_start = (t["ready"] - t["started"]) * 1000
            runs.append({
                "latency_ms": round(latency, 1),
                "to_verified_ms": round((t["verified"] - t0) * 1000, 1),
                "verified_to_started_ms": round((t["started"] - t["verified"]) * 1000, 1),
                "child_start_ms": round(child_start, 1),
                "ready_to_answer_ms": round((t1 - t["ready"]) * 1000, 1),
                "molt_overhead_ms": round(latency - child_start, 1),
                "child_cpu_before_main_ms": round(start_cpu["before_main"], 2),
                "child_cpu_main_to_serve_ms": round(start_cpu["main_to_serve"], 2),
                "probes": probes,
            })
            nxt = "v1" if nxt == "v2" else "v2"
        # Each upgrade's helper exits after its transfer (the last one before the upgrade ends);
        # the one forked ahead for the next check has not, and is not counted.
        cpu = svc.check_cpu_seconds()
    finally:
        svc.stop()
        if ngx:
            ngx.stop()
    med = {k: c.median([r[k] for r in runs]) for k in runs[0]}
    c.log("  median latency %.1f ms (child start %.1f ms)" % (med["latency_ms"],
                                                             med["child_start_ms"]))
    return {"runs": runs, "median": med,
            "max_latency_ms": max(r["latency_ms"] for r in runs),
            "check_cpu_ms_per_upgrade": round(cpu * 1000 / len(runs), 2) if cpu else None}


def reference_steps():
    """What one of the check's steps costs alone on this machine: a copy of the binary written
    and fsynced beside it, renamed, the folder fsynced."""
    import tempfile
    d = tempfile.mkdtemp(prefix="molt-bench-steps-")
    exe = os.path.join(d, "app")
    c.shutil.copyfile(c.hello_build("v2"), exe)
    os.chmod(exe, 0o755)
    c.fsync_file(exe)
    copy = []
    for i in range(5):
        t = time.monotonic()
        tmp = os.path.join(d, ".tmp%d" % i)
        with open(c.hello_build("v1"), "rb") as src, open(tmp, "wb") as dst:
            dst.write(src.read())
            dst.flush()
            os.fsync(dst.fileno())
        os.rename(tmp, os.path.join(d, "swapped"))
        fd = os.open(d, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
        copy.append((time.monotonic() - t) * 1000)
    c.shutil.rmtree(d, ignore_errors=True)
    return {"copy_fsync_rename_ms": round(c.median(copy), 1),
            "binary_bytes": os.path.getsize(c.hello_build("v2"))}


def loader_statistics():
    """What the dynamic loader does before the fixture's main(): the shared libraries it maps
    and the relocations it applies (glibc's LD_DEBUG=statistics, on a run that prints --help)."""
    exe = c.hello_build("v2")
    env = dict(os.environ, LD_DEBUG="statistics")
    p = subprocess.run([exe, "--help"], env=env, capture_output=True, text=True)
    def count(label):
        m = re.search(r"\b%s:\s+(\d+)" % label, p.stderr)
        return int(m.group(1)) if m else None
    ldd = subprocess.run(["ldd", exe], capture_output=True, text=True).stdout
    libs = sorted({m.group(1) for m in re.finditer(r"^\s*(\S+\.so[.\d]*) =>", ldd, re.M)})
    return {"libraries": libs, "relocations": count("number of relocations"),
            "relative_relocations": count("number of relative relocations")}


def main():
    results = {"runs": RUNS, "modes": {}}
    results["reference_steps"] = reference_steps()
    results["loader"] = loader_statistics()
    for mode in ("file", "http-1s", "http-sighup"):
        results["modes"][mode] = measure(mode)
        c.write_json("upgrade_latency.json", results)


if __name__ == "__main__":
    main()
