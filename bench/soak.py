"""Soak: SOAK_UPGRADES (default 500) upgrades in a row under load, and what the master holds
before and after (issue 9).

One hello master with a file source; two load clients for the whole run (bench/loadgen.cpp: 8
keep-alive connections, 4 connecting anew for every request). Each upgrade publishes the other
build (v2, v1, v2, ...), freshly signed so that no signature is older than the running one, and
waits until the new child serves and the old one has exited. Before the first upgrade, after the
tenth (warm) and at the end it reads the master's open fds, its anonymous memory and the files of
the binary's folder and of the state dir.

Writes soak.json to BENCH_OUT and the "Soak" section of bench/RESULTS.md (between its markers;
report.py keeps that section when it rewrites the rest). Run it with bench/run.sh --only soak.
"""
import json
import os
import subprocess
import sys
import time

import common as c

UPGRADES = int(os.environ.get("SOAK_UPGRADES", "60" if c.QUICK else "500"))
MARK_BEGIN = "<!-- soak: written by bench/soak.py -->"
MARK_END = "<!-- /soak -->"


def master_reading(molt):
    """The master's fds, anonymous memory (kB) and the files beside the binary and in the state
    dir. Anonymous counts the master's anonymous pages whether or not its check helper shares
    them copy-on-write at that moment. Read in one state each time: one child serving and the
    check helper alive between checks (its pipes are two of the master's fds)."""
    deadline = time.monotonic() + 30
    while len(c.children_of(molt.pid)) != 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    fds = sorted(os.listdir("/proc/%d/fd" % molt.pid), key=int)
    targets = []
    for fd in fds:
        try:
            targets.append(os.readlink("/proc/%d/fd/%s" % (molt.pid, fd)))
        except OSError:
            pass
    smaps = c.smaps_rollup(molt.pid)
    state_dir = molt.bin + ".molt"
    return {
        "fds": len(fds),
        "fd_kinds": sorted(set(t.split(":")[0] if ":" in t else "file" for t in targets)),
        "anonymous_kb": smaps.get("Anonymous", 0),
        "rss_kb": smaps.get("Rss", 0),
        "folder": sorted(os.listdir(molt.dir)),
        "state_dir": sorted(os.listdir(state_dir)) if os.path.isdir(state_dir) else [],
    }


def load_results(path):
    total = failed = 0
    failures = {}
    with open(path) as f:
        for line in f:
            fields = line.rstrip("\n").split(",")
            if len(fields) < 4:
                continue
            total += 1
            if fields[3] != "200":
                failed += 1
                failures[fields[3]] = failures.get(fields[3], 0) + 1
    return total, failed, failures


def main():
    molt = c.Molt("soak", "v1", args=["--probation", "1s"])
    keys = molt.keys
    clients = []
    try:
        for mode, connections in (("keepalive", 8), ("close", 4)):
            out = os.path.join(c.OUT, "soak-%s.csv" % mode)
            clients.append((mode, out, subprocess.Popen(
                [c.LOADGEN, "--port", str(molt.port), "--connections", str(connections),
                 "--duration", "3600", "--mode", mode, "--out", out],
                stdout=subprocess.PIPE, text=True)))
        time.sleep(1)  # the clients reach full speed: this measures nothing, it only warms up
        readings = {"start": master_reading(molt)}
        builds = ("v2", "v1")
        durations = []
        started = time.monotonic()
        for i in range(UPGRADES):
            build = builds[i % 2]
            mark = molt.log.mark()
            t0 = time.monotonic()
            c.publish(c.hello_build(build), molt.source, keys)
            molt.wait_upgrade(build, mark, timeout=60)
            durations.append(time.monotonic() - t0)
            if i + 1 == 10:
                readings["warm"] = master_reading(molt)
            if (i + 1) % 50 == 0:
                c.log("soak: %d upgrades" % (i + 1))
        elapsed = time.monotonic() - started
        readings["end"] = master_reading(molt)
        requests = {}
        for mode, out, proc in clients:
            proc.send_signal(2)
            proc.wait(timeout=60)
            total, failed, kinds = load_results(out)
            requests[mode] = {"total": total, "failed": failed, "failures": kinds}
        clients = []
        log_lines = molt.log.since(0)
    finally:
        for _, _, proc in clients:
            proc.kill()
        molt.stop()
    durations.sort()
    result = {
        "upgrades": UPGRADES,
        "elapsed_s": round(elapsed, 1),
        "upgrade_s": {"median": round(c.median(durations), 3),
                      "p99": round(c.percentile(durations, 99), 3),
                      "max": round(durations[-1], 3)},
        "requests": requests,
        "readings": readings,
        "errors_in_log": sum(1 for l in log_lines if " error: " in l),
        "warnings_in_log": sum(1 for l in log_lines if " warning: " in l),
    }
    c.write_json("soak.json", result)
    return result


def section(r, meta):
    s, w, e = r["readings"]["start"], r["readings"]["warm"], r["readings"]["end"]
    lines = [MARK_BEGIN, "## Soak: %d upgrades under load" % r["upgrades"], "",
             "`bench/run.sh --only soak` (bench/soak.py), %s, %s. One hello master (file source), "
             "two load clients for the whole run: 8 keep-alive connections and 4 that connect "
             "anew for every request. Each upgrade publishes the other build, freshly signed, "
             "and waits until the new child serves and the old one has exited." % (
                 meta.get("date", "?"), meta.get("commit", "?")), ""]
    lines += ["| | requests | failed |", "|---|---|---|"]
    for mode, q in r["requests"].items():
        lines.append("| %s | %d | %d%s |" % (mode, q["total"], q["failed"],
                                              " (%s)" % q["failures"] if q["failed"] else ""))
    lines += ["", "%d upgrades in %.0f s: per upgrade median %.3f s, p99 %.3f s, max %.3f s. "
              "Error lines in the master's log: %d; warnings: %d." % (
                  r["upgrades"], r["elapsed_s"], r["upgrade_s"]["median"], r["upgrade_s"]["p99"],
                  r["upgrade_s"]["max"], r["errors_in_log"], r["warnings_in_log"]), ""]
    lines += ["| the master | before the first | after the 10th | after the last |",
              "|---|---|---|---|",
              "| open fds | %d | %d | %d |" % (s["fds"], w["fds"], e["fds"]),
              "| anonymous memory | %d KiB | %d KiB | %d KiB |" % (
                  s["anonymous_kb"], w["anonymous_kb"], e["anonymous_kb"]),
              "| Rss | %d KiB | %d KiB | %d KiB |" % (s["rss_kb"], w["rss_kb"], e["rss_kb"]),
              "| the binary's folder | %s | %s | %s |" % tuple(
                  "`%s`" % " ".join(x["folder"]) for x in (s, w, e)),
              "| the state dir | %s | %s | %s |" % tuple(
                  "`%s`" % " ".join(x["state_dir"]) for x in (s, w, e)), ""]
    lines += ["Before the first upgrade the binary's folder has no `app.prev` and no installed "
              "signature yet; from the first upgrade on, the folder holds the same files after "
              "every upgrade. The fds are read with one child serving and the check helper "
              "alive between checks (its two pipes). The error lines are checks that "
              "read a new signature before its binary was renamed into place (each publish "
              "renames the signature first): the artifact changed right after, and was "
              "downloaded then (one early retry; later ones wait for the backoff).", MARK_END]
    return "\n".join(lines) + "\n"


def write_section(path, text):
    old = open(path).read() if os.path.exists(path) else ""
    if MARK_BEGIN in old and MARK_END in old:
        head, rest = old.split(MARK_BEGIN, 1)
        tail = rest.split(MARK_END, 1)[1].lstrip("\n")
        new = head + text + ("\n" + tail if tail else "")
    else:
        new = old.rstrip("\n") + "\n\n" + text
    with open(path, "w") as f:
        f.write(new)


if __name__ == "__main__":
    r = main()
    meta_path = os.path.join(c.OUT, "meta.json")
    meta = json.load(open(meta_path)) if os.path.exists(meta_path) else {}
    target = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        c.OUT if c.QUICK else c.HERE, "RESULTS.md")
    write_section(target, section(r, meta))
    c.log("soak: %s" % json.dumps(r["requests"]))
