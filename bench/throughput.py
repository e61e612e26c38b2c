#!/usr/bin/env python3
"""Benchmark 7 (issue 15): raw HTTP throughput of molt::HttpServer beside its peers, in one run.

Four servers answer GET / with the same constant body (examples/hello's "hello from <BuildID>\\n"):
  molt     examples/hello, a master and its child (molt::HttpServer, up to 128 threads)
  httplib  bench/servers/plain_httplib.cpp: cpp-httplib's own httplib::Server, 128 threads,
           TCP_NODELAY on
  go       bench/servers/plain_go.go: Go's net/http, stdlib only
  nginx    Debian's nginx, 2 workers (the cores), `return 200 "<body>"`
wrk (2 threads, 16 connections, on the same 2 cores) loads each in turn, keep-alive and with a
new connection per request (`Connection: close`), RUNS rounds with the servers interleaved so
that drift on a shared machine touches all of them alike; the report takes medians.
Then one more keep-alive load on molt, with `perf record` on its child: where the cycles go.
Writes OUT/throughput.json, OUT/throughput-profile.txt and the raw wrk and perf outputs.
"""
import os
import re
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as c  # noqa: E402
from upgrade_under_load import parse_wrk  # noqa: E402

RUNS = int(os.environ.get("BENCH_THROUGHPUT_RUNS", "1" if c.QUICK else "3"))
SECONDS = int(os.environ.get("BENCH_THROUGHPUT_SECONDS", "3" if c.QUICK else "10"))
THREADS, CONNECTIONS = 2, 16
PROFILE_SECONDS = 5
SERVERS = ("molt", "httplib", "go", "nginx")
KINDS = {"keepalive": [], "close": ["-H", "Connection: close"]}
HELLO = os.path.join(c.BUILD, "examples", "hello")
BIN = os.path.join(c.OUT, "..", "bin")


class Plain:
    """bench/servers/plain_httplib or plain_go: PORT BODY, "listening" on stdout once it is."""

    def __init__(self, program, body):
        self.port = c.free_port()
        # A session of its own, as molt's master and the daemonised nginx have: with the
        # kernel's autogroups on, a server in wrk's session would share its CPU with wrk thread
        # by thread, and the others compete with wrk as a whole.
        self.proc = subprocess.Popen([os.path.join(BIN, program), str(self.port), body],
                                     stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                                     start_new_session=True)
        if self.proc.stdout.readline().strip() != "listening":
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError("%s did not start" % program)
        self.pids = [self.proc.pid]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.proc.stdout.close()


class Hello:
    """examples/hello as deployed: a master whose child serves."""

    def __init__(self):
        self.svc = c.Molt("throughput", HELLO)
        self.port = self.svc.port
        self.pids = [self.svc.child]

    def stop(self):
        self.svc.stop()


class NginxReturn:
    def __init__(self, body):
        self.ngx = c.Nginx("throughput", workers=os.cpu_count(), body=body)
        self.port = self.ngx.port
        self.pids = c.children_of(self.ngx.master)  # the workers

    def stop(self):
        self.ngx.stop()


def wrk(port, kind, seconds):
    cmd = ["wrk", "-t%d" % THREADS, "-c%d" % CONNECTIONS, "-d%ds" % seconds, "--timeout", "10s",
           "--latency"] + KINDS[kind] + ["http://127.0.0.1:%d/" % port]
    return cmd, subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def measure(name, server, kind, run_index):
    with open("/proc/loadavg") as f:
        load1 = float(f.read().split()[0])
    cpu0 = sum(c.schedstat_ns(p) for p in server.pids)
    cmd, proc = wrk(server.port, kind, SECONDS)
    out, err = proc.communicate(timeout=SECONDS + 60)
    if proc.returncode != 0:
        raise RuntimeError("wrk failed: %s" % err)
    cpu = (sum(c.schedstat_ns(p) for p in server.pids) - cpu0) / 1e9
    with open(os.path.join(c.OUT, "throughput-%s-%s-%d.txt" % (name, kind, run_index)), "w") as f:
        f.write(" ".join(cmd) + "\n" + out)
    res = parse_wrk(out)
    res["tool"] = " ".join(cmd[:-1])
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    res["rps"] = float(m.group(1)) if m else None
    # The server's own CPU (its threads; the client's is not in it): what a request costs it.
    res["server_cpu_s"] = round(cpu, 3)
    res["cpu_us_per_request"] = round(1e6 * cpu / res["requests"], 1) if res["requests"] else None
    res["load1_before"] = load1
    c.log("  %-8s %-9s %8.0f req/s  p50 %.3f ms  p99 %.3f ms  %s failed  %.1f us CPU/request" % (
        name, kind, res["rps"] or 0, res.get("p50_ms", 0), res.get("p99_ms", 0), res["failed"],
        res["cpu_us_per_request"] or 0))
    return res


# ---------------------------------------------------------------- perf

# perf's dso names, grouped: the hello binary (run from a copy named "app") holds molt and its
# handler, linked statically; cpp-httplib is Debian's shared library.
GROUPS = (("kernel", lambda dso: dso.startswith("[kernel")),
          ("libcpp-httplib", lambda dso: dso.startswith("libcpp-httplib")),
          ("libstdc++", lambda dso: dso.startswith("libstdc++")),
          ("molt (the hello binary)", lambda dso: dso == "app"),
          ("libc", lambda dso: dso.startswith("libc.so") or dso.startswith("libc-")))
# Report lines end in the IPC columns, which a VM without a hardware PMU leaves empty ("-").
IPC = r"(?:\s+-\s+-)?\s*$"
# --no-children --sort dso,symbol: share, dso, [k] or [.], symbol.
ENTRY = re.compile(r"^\s+([\d.]+)%\s+(\S+)\s+\[([.k])\]\s+(.+?)" + IPC)
# --children --sort symbol: inclusive share, self share, a kernel symbol.
INCLUSIVE = re.compile(r"^\s+([\d.]+)%\s+[\d.]+%\s+\[k\]\s+(\S+)" + IPC)


def group_of(dso):
    return next((g for g, match in GROUPS if match(dso)), "other")


def perf_report(data, *args):
    p = subprocess.run(["perf", "report", "-i", data, "--stdio", "-g", "none"] + list(args),
                       capture_output=True, text=True, check=True)
    return p.stdout


def profile(server):
    """perf record of molt's child under the keep-alive load; returns the summary."""
    data = os.path.join(c.OUT, "perf-molt.data")
    c.log("throughput: perf record of molt's child %d, %d s under keep-alive load" % (
        server.svc.child, PROFILE_SECONDS))
    _, load = wrk(server.port, "keepalive", PROFILE_SECONDS + 2)
    time.sleep(1)  # into the steady state
    subprocess.run(["perf", "record", "-q", "-F", "999", "-g", "-p", str(server.svc.child),
                    "-o", data, "--", "sleep", str(PROFILE_SECONDS)],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out, _ = load.communicate(timeout=PROFILE_SECONDS + 60)
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    by_symbol = perf_report(data, "--no-children", "--sort", "dso,symbol")
    by_dso = perf_report(data, "--no-children", "--sort", "dso")
    # Inclusive time under each system call's entry point: which calls the kernel time is in.
    inclusive = perf_report(data, "--children", "--sort", "symbol")
    with open(os.path.join(c.OUT, "perf-molt-report.txt"), "w") as f:
        f.write(by_symbol + "\n" + by_dso + "\n" + inclusive)
    # cpu-clock counts nanoseconds: the CPU time the child's threads ran while sampled.
    cpu_ns = re.search(r"# Event count \(approx\.\): (\d+)", by_symbol)
    top, groups = [], {}
    for line in by_symbol.splitlines():
        e = ENTRY.match(line)
        if e:
            share, dso, symbol = float(e.group(1)), e.group(2), e.group(4)
            groups[group_of(dso)] = groups.get(group_of(dso), 0) + share
            if len(top) < 25:
                top.append({"share": share, "dso": dso, "group": group_of(dso), "symbol": symbol})
    syscalls, kernel_paths = [], {}
    for line in inclusive.splitlines():
        m2 = INCLUSIVE.match(line)
        if m2 and m2.group(2).startswith("__x64_sys_"):
            syscalls.append({"syscall": m2.group(2)[len("__x64_sys_"):],
                             "share": float(m2.group(1))})
        elif m2 and m2.group(2) in ("do_syscall_64", "__schedule"):
            kernel_paths[m2.group(2)] = float(m2.group(1))
    result = {"seconds": PROFILE_SECONDS, "frequency_hz": 999, "child": server.svc.child,
              "cpu_seconds": round(int(cpu_ns.group(1)) / 1e9, 2) if cpu_ns else None,
              "in_syscalls": kernel_paths.get("do_syscall_64"),
              "in_scheduler": kernel_paths.get("__schedule"),
              "rps_during": float(m.group(1)) if m else None,
              "groups": {k: round(v, 2) for k, v in sorted(groups.items(), key=lambda kv: -kv[1])},
              "top": top, "syscalls": syscalls[:10]}
    write_profile_text(result)
    os.remove(data)  # large, and perf-molt-report.txt holds what it says
    return result


def write_profile_text(p):
    lines = ["perf record -F %d -g -p <molt's child> -- sleep %d, under wrk -t%d -c%d keep-alive "
             "(%s req/s meanwhile); the child ran %s s of CPU" % (
                 p["frequency_hz"], p["seconds"], THREADS, CONNECTIONS, p["rps_during"],
                 p["cpu_seconds"]),
             "", "Self time by group:"]
    lines += ["  %6.2f%%  %s" % (v, k) for k, v in p["groups"].items()]
    lines += ["", "Inclusive: in system calls (do_syscall_64) %s%%, in the scheduler (__schedule: "
              "blocking in poll, futex) %s%%" % (p["in_syscalls"], p["in_scheduler"])]
    lines += ["", "Kernel time by system call (inclusive):"]
    lines += ["  %6.2f%%  %s" % (s["share"], s["syscall"]) for s in p["syscalls"]]
    lines += ["", "Top %d symbols (self time):" % len(p["top"])]
    lines += ["  %6.2f%%  %-24s %s" % (t["share"], t["group"], t["symbol"]) for t in p["top"]]
    with open(os.path.join(c.OUT, "throughput-profile.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    os.makedirs(c.OUT, exist_ok=True)
    servers = {"molt": Hello()}
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/" % servers["molt"].port) as r:
            body = r.read().decode()
        servers["httplib"] = Plain("plain_httplib", body)
        servers["go"] = Plain("plain_go", body)
        servers["nginx"] = NginxReturn(body)
        for name in SERVERS:  # a first load for each: threads, caches and Go's heap warmed up
            wrk(servers[name].port, "keepalive", 1)[1].communicate(timeout=60)
        results = {"date": time.strftime("%Y-%m-%d %H:%M %Z"), "runs": RUNS, "seconds": SECONDS,
                   "threads": THREADS,
                   "connections": CONNECTIONS, "body_bytes": len(body), "servers": {}}
        for i in range(RUNS):  # interleaved: A B C D, A B C D, ...
            c.log("throughput: round %d of %d (%d s each)" % (i + 1, RUNS, SECONDS))
            for kind in KINDS:
                for name in SERVERS:
                    runs = results["servers"].setdefault(name, {}).setdefault(kind, [])
                    runs.append(measure(name, servers[name], kind, i))
                    c.write_json("throughput.json", results)
        results["profile"] = profile(servers["molt"])
        c.write_json("throughput.json", results)
    finally:
        for s in servers.values():
            s.stop()


if __name__ == "__main__":
    main()
