#!/usr/bin/env python3
"""Benchmark 6 (only with `run.sh --only fleet`): a fleet of `molt run` masters on one source.

HOSTS masters (500; 40 with --quick), each `molt run` of the C server (examples/c/server.c, no
library) in a folder of its own, with its own --host-id, all polling one nginx every second for
tests/fixtures/c_server_v2, with a delta patch from v1 (`molt delta`) beside it. Measured at the server (nginx's access log): requests and bytes per
idle poll, polls per second and how they spread over each second (the masters' jitter). Then a
staged rollout of v2, signed with --rollout 10, 50, then 0 (halted), then 100: the share of hosts
on v2 after each (against the exact set master/cohort.hpp's rule gives, and the binomial margin
around the target), that no host moves after rollout:0, and the time until every host runs v2.
Writes OUT/fleet.json and OUT/fleet-progress.dat (time, hosts on v2) for the plot.
"""
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as c  # noqa: E402

HOSTS = int(os.environ.get("BENCH_FLEET_HOSTS", "40" if c.QUICK else "500"))
IDLE_SECONDS = float(os.environ.get("BENCH_FLEET_IDLE_SECONDS", "10" if c.QUICK else "30"))
SETTLE_SECONDS = 6.0  # a rollout step is judged after this many 1 s poll intervals
START_BATCH = 25      # masters started at once, then wait until they serve


def c_build(version):
    return os.path.join(c.BUILD, "tests", "fixtures", "c_server_" + version)


def cohort(host_id, build_id):
    """master/cohort.hpp's rule."""
    digest = hashlib.blake2b((host_id + "\n" + build_id).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % 10000


class Fleet:
    def __init__(self, url, pub):
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
                argv = [c.MOLT, "run", "--listen", "127.0.0.1:0", "--source", url, "--pubkey",
                        pub, "--interval", "1s", "--host-id", h["id"], "--", h["bin"]]
                self.procs.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=log,
                                                   stdin=subprocess.DEVNULL,
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
    """(time, request bytes, response bytes, status, request) of each logged request."""
    out = []
    with open(path) as f:
        for line in f:
            parts = line.split(" ", 4)
            if len(parts) == 5 and since <= float(parts[0]) < until:
                out.append((float(parts[0]), int(parts[1]), int(parts[2]), int(parts[3]),
                            parts[4].strip()))
    return out


def main():
    ngx = c.Nginx("fleet", access_log="fleet", workers=2)
    keys_dir = tempfile.mkdtemp(prefix="molt-bench-fleet-keys-")
    keys = c.Keys(keys_dir)
    v2_id = c.run(c.MOLT, "build-id", c_build("v2")).stdout.strip()
    target = os.path.join(ngx.root, "server")
    # The source holds the running build, signed, as it would between deploys: idle polls
    # are conditional requests for a signature that has not changed.
    c.publish(c_build("v1"), target, keys)
    # A delta update beside it (v1 to v2 is a one-line change: the version string).
    v1_id = c.run(c.MOLT, "build-id", c_build("v1")).stdout.strip()
    patch = os.path.join(ngx.root, "server.patch", v1_id)
    os.makedirs(os.path.dirname(patch))
    c.run(c.MOLT, "delta", "--from", c_build("v1"), "--to", c_build("v2"), "-o", patch)
    staging = os.path.join(ngx.root, ".staging")
    shutil.copyfile(c_build("v2"), staging)
    os.chmod(staging, 0o755)
    published = []

    def sign(rollout):
        """v2 signed (again) for `rollout` percent; the signature, then the file, go up."""
        c.run(c.MOLT, "sign", "-s", keys.sec, "-m", staging, "-x", staging + ".minisig",
              "--rollout", str(rollout))
        os.rename(staging + ".minisig", target + ".minisig")
        if not published:
            shutil.copyfile(staging, target + ".new")
            os.rename(target + ".new", target)
            published.append(True)
        return time.time()

    results = {"hosts": HOSTS, "interval_s": 1, "idle_seconds": IDLE_SECONDS, "steps": [],
               "artifact_bytes": os.path.getsize(c_build("v2")),
               "patch_bytes": os.path.getsize(patch)}
    fleet = None
    progress = []
    try:
        c.log("fleet: starting %d molt run masters on http://127.0.0.1:%d/server"
              % (HOSTS, ngx.port))
        t0 = time.time()
        fleet = Fleet("http://127.0.0.1:%d/server" % ngx.port, keys.pub)
        results["start_seconds"] = time.time() - t0
        c.log("fleet: %d masters serve (%.1f s); idle for %g s" % (HOSTS, time.time() - t0,
                                                                   IDLE_SECONDS))
        idle_from = time.time() + 2
        time.sleep(2 + IDLE_SECONDS)
        idle = access_lines(ngx.access_log, idle_from, idle_from + IDLE_SECONDS)
        per_second = {}
        for t, *_ in idle:
            per_second.setdefault(int(t), 0)
            per_second[int(t)] += 1
        tenths = [0] * 10
        for t, *_ in idle:
            tenths[int((t % 1) * 10)] += 1
        results["idle"] = {
            "requests": len(idle),
            "polls_per_second": len(idle) / IDLE_SECONDS,
            "per_second_min": min(per_second.values()) if per_second else 0,
            "per_second_max": max(per_second.values()) if per_second else 0,
            "bytes_in_per_poll": sum(r[1] for r in idle) / max(len(idle), 1),
            "bytes_out_per_poll": sum(r[2] for r in idle) / max(len(idle), 1),
            "statuses": sorted({r[3] for r in idle}),
            "spread_by_tenth_of_second": tenths,
        }
        c.log("fleet: idle %.0f polls/s, %.0f + %.0f bytes per poll" % (
            results["idle"]["polls_per_second"], results["idle"]["bytes_in_per_poll"],
            results["idle"]["bytes_out_per_poll"]))

        start = time.time()
        for share in (10, 50, 0, 100):
            before = fleet.on_new_build()
            t = sign(share)
            expected = {h["id"] for h in fleet.hosts if cohort(h["id"], v2_id) < share * 100}
            # A widening step waits (up to 120 s) for every host the rule names; a halt is
            # watched for SETTLE_SECONDS, in which no host may move.
            deadline = t + (SETTLE_SECONDS if share == 0 else 120)
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
            served = [r for r in access_lines(ngx.access_log, t, time.time()) if r[3] == 200]
            artifacts = [r for r in served if r[4].startswith('"GET /server ')]
            patches = [r for r in served if r[4].startswith('"GET /server.patch/')]
            step = {"rollout": share, "on_new_build": len(on), "fraction": len(on) / HOSTS,
                    "downloads": len(artifacts) + len(patches), "patch_downloads": len(patches),
                    "bytes_sent": sum(r[2] for r in artifacts + patches),
                    "margin_2sigma": margin,
                    "within_margin": abs(len(on) / HOSTS - p) <= margin + 1e-9 or share == 0,
                    # Halted: no host moves; otherwise exactly the hosts the rule names (and
                    # those already on it).
                    "exact": on == (before if share == 0 else expected | before),
                    "moved": len(on - before)}
            if done_at:
                step["converged_seconds"] = done_at - t  # every host the rule names is on it
            results["steps"].append(step)
            c.log("fleet: rollout %d%%: %d of %d hosts on v2 (exact set: %s)%s" % (
                share, len(on), HOSTS, step["exact"],
                ", all in %.1f s" % step["converged_seconds"] if done_at else ""))
    finally:
        if fleet:
            fleet.stop()
        ngx.stop()
        shutil.rmtree(keys_dir, ignore_errors=True)
    with open(os.path.join(c.OUT, "fleet-progress.dat"), "w") as f:
        for t, n in progress:
            f.write("%.2f %d\n" % (t, n))
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
