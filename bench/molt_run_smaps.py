#!/usr/bin/env python3
"""The idle `molt run` master's memory, where it goes: smaps_rollup and a table per mapping.

    bench/molt_run_smaps.py [--build DIR] [--json]

Starts `molt run` as tests/e2e/molt_run.py does (keygen, --listen 127.0.0.1:0, a drop folder as
--source, --pubkey, --interval 1h) over the C fixture server (tests/fixtures/c_server_v1), waits
until its child is ready and its first check is over, lets it sit for a second, then reads
/proc/<master>/smaps_rollup and /proc/<master>/smaps, and stops it. DIR is the build folder
(default $MOLT_BUILD_DIR, else build/). Nothing is left behind.

Per mapping (summed per file): Rss, Anonymous (the library's relocated data, its .bss, the heap,
the stacks), dirty (Private_Dirty + Shared_Dirty: the check helper, forked from the master and
alive between polls, shares the master's pages, which smaps then counts as Shared_Dirty). An
unnamed mapping right after a file's last mapping is that file's .bss and is counted with it.
bench/master_footprint.py imports measure() for RESULTS.md.
"""
import argparse
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
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
from harness import LogWatcher, kill_processes_of_dir  # noqa: E402

MAPPING = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$")
FIELD = re.compile(r"^(\w+):\s+(\d+) kB")
FIELDS = ("Rss", "Pss", "Anonymous", "Private_Dirty", "Shared_Dirty", "Private_Clean",
          "Shared_Clean")


def rollup(pid):
    out = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            m = FIELD.match(line)
            if m:
                out[m.group(1)] = int(m.group(2))
    out["dirty"] = out.get("Private_Dirty", 0) + out.get("Shared_Dirty", 0)
    return out


def per_mapping(pid):
    """{name: {field: KiB}}: files by path (with their .bss), [heap], [stack], [anon], ..."""
    table = {}
    cur = None
    prev_end, prev_name = None, None
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            m = MAPPING.match(line)
            if m:
                start, end, name = int(m.group(1), 16), int(m.group(2), 16), m.group(3).strip()
                if not name:
                    name = prev_name if prev_end == start and prev_name and \
                        prev_name.startswith("/") else "[anon]"
                cur = table.setdefault(name, {k: 0 for k in FIELDS + ("Size",)})
                cur["Size"] += (end - start) // 1024
                prev_end, prev_name = end, name
                continue
            m = FIELD.match(line)
            if m and cur is not None and m.group(1) in cur:
                cur[m.group(1)] += int(m.group(2))
    for v in table.values():
        v["dirty"] = v["Private_Dirty"] + v["Shared_Dirty"]
    return table


def run(*args):
    return subprocess.run([str(a) for a in args], check=True, capture_output=True, text=True)


def measure(build, settle=1.0):
    """Starts an idle `molt run` master on the C server, returns {"rollup", "mappings", "pid"}."""
    molt = os.path.join(build, "molt")
    d = tempfile.mkdtemp(prefix="molt-run-smaps-")
    proc = log = None
    try:
        server = os.path.join(d, "server")
        shutil.copyfile(os.path.join(build, "tests", "fixtures", "c_server_v1"), server)
        os.chmod(server, 0o755)
        for path in (server, molt):  # as deployed: clean in the page cache (bench/README.md)
            fd = os.open(path, os.O_RDONLY)
            os.fsync(fd)
            os.close(fd)
        build_id = run(molt, "build-id", server).stdout.strip()
        os.mkdir(os.path.join(d, "drop"))
        pub, sec = os.path.join(d, "molt.pub"), os.path.join(d, "molt.sec")
        run(molt, "keygen", "-W", "-p", pub, "-s", sec)
        proc = subprocess.Popen(
            [molt, "run", "--listen", "127.0.0.1:0", "--source", os.path.join(d, "drop", "server"),
             "--pubkey", pub, "--interval", "1h", "--", server],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True)
        log = LogWatcher(proc.stderr, os.path.join(d, "master.log"))
        log.wait_for(r"serving build %s on 127\.0\.0\.1:\d+" % build_id)
        log.wait_for(r"child \d+ \(build %s\) is ready" % build_id)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # the first check (at the start) is over
            out = subprocess.run([molt, "status", "--json", server], capture_output=True,
                                 text=True).stdout
            status = json.loads(out) if out else {}
            if status.get("last_check") is not None and not status.get("checking"):
                break
            time.sleep(0.05)
        time.sleep(settle)
        return {"pid": proc.pid, "rollup": rollup(proc.pid), "mappings": per_mapping(proc.pid)}
    finally:
        if proc and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if log:
            log.thread.join(timeout=10)
            proc.stderr.close()
            log.echo.close()
        kill_processes_of_dir(d)
        shutil.rmtree(d, ignore_errors=True)


def short(name):
    return os.path.basename(name) if name.startswith("/") else name


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.environ.get("MOLT_BUILD_DIR",
                                                      os.path.join(REPO, "build")))
    ap.add_argument("--json", action="store_true", help="print the measurement as JSON")
    args = ap.parse_args()
    m = measure(os.path.abspath(args.build))
    if args.json:
        json.dump(m, sys.stdout, indent=1)
        print()
        return
    r = m["rollup"]
    print("idle molt run master %d: Rss %d KiB, Pss %d KiB, Anonymous %d KiB, "
          "Private_Dirty %d KiB (+ Shared_Dirty %d KiB with its check helper)"
          % (m["pid"], r["Rss"], r["Pss"], r["Anonymous"], r["Private_Dirty"],
             r["Shared_Dirty"]))
    print("%-34s %7s %7s %7s %7s %7s %7s" % ("mapping", "Size", "Rss", "Anon", "dirty",
                                             "P_Clean", "S_Clean"))
    for name, v in sorted(m["mappings"].items(), key=lambda kv: -kv[1]["Rss"]):
        if v["Rss"] == 0:
            continue
        print("%-34s %7d %7d %7d %7d %7d %7d" % (short(name)[:34], v["Size"], v["Rss"],
                                                 v["Anonymous"], v["dirty"], v["Private_Clean"],
                                                 v["Shared_Clean"]))


if __name__ == "__main__":
    main()
