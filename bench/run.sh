#!/usr/bin/env bash
# Runs every molt benchmark and writes bench/RESULTS.md (and the PNG plots beside it).
#
#   bench/run.sh            the full run (about 27 minutes on 2 cores): bench/RESULTS.md
#   bench/run.sh --quick    a short run (about 4 minutes) to check the benchmarks work:
#                           bench/out/quick/RESULTS.md, nothing committed is touched
#   bench/run.sh --only NAME[,NAME]   run some of: load, footprint, transfer, latency, fleet,
#                                     throughput, soak
#                                     (soak, 500 upgrades under load, runs only when named: it
#                                     writes its own section of RESULTS.md)
#   BENCH_NICE=-10                    run every benchmark process at that nice value (on a shared
#                                     machine, so that the figures show molt and nginx rather
#                                     than the neighbours; RESULTS.md says so)
#   BENCH_WAIT_QUIET=SECONDS          first wait up to that long for the 1-min load average to
#                                     drop under BENCH_QUIET_LOAD (default 1.5): the machine may
#                                     be shared, and other work shows in every latency figure
#
# Installs what it needs from Debian if missing (wrk, hey, nginx-light, gnuplot-nox, minisign,
# curl, openssl, iptables, python3, a compiler and CMake, linux-perf), builds hello_v1/hello_v2,
# c_server_v1, examples/hello and the molt command in build-bench/ (override with
# MOLT_BENCH_BUILD=DIR), the bench's own client and the plain servers of bench/servers/.
# Must run as root (nginx binary upgrade as root, iptables counters). Everything is on loopback.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$HERE")
QUICK=0
ALL=load,footprint,transfer,latency,fleet,throughput
ONLY=$ALL
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --only) ONLY=$2; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

export BENCH_QUICK=$QUICK
export MOLT_BENCH_BUILD=${MOLT_BENCH_BUILD:-$REPO/build-bench}
if [ "$QUICK" = 1 ]; then
  export BENCH_OUT=$HERE/out/quick
  RESULTS=$BENCH_OUT/RESULTS.md
  PLOTS=$BENCH_OUT
else
  export BENCH_OUT=$HERE/out/full
  RESULTS=$HERE/RESULTS.md
  PLOTS=$HERE
fi
BIN=$HERE/out/bin
say() { echo "[$(date +%H:%M:%S)] $*"; }

# ---- dependencies (Debian 12 packages)
need=()
for pair in wrk:wrk hey:hey nginx:nginx-light gnuplot:gnuplot-nox minisign:minisign curl:curl \
            openssl:openssl iptables:iptables python3:python3 g++:g++ cmake:cmake ninja:ninja-build \
            go:golang-go perf:linux-perf; do
  cmd=${pair%%:*}; pkg=${pair#*:}
  if [ "$cmd" = nginx ]; then [ -x /usr/sbin/nginx ] || need+=("$pkg"); continue; fi
  command -v "$cmd" >/dev/null 2>&1 || need+=("$pkg")
done
# The fleet's S3 source: s3rver (from npm, by ci/npm-deps.sh) and botocore to upload to it.
if [[ ",$ONLY," == *",fleet,"* ]]; then
  command -v npm >/dev/null 2>&1 || need+=(nodejs npm)
  python3 -c 'import botocore' 2>/dev/null || need+=(python3-botocore)
fi
if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if [[ ",$ONLY," == *",fleet,"* ]]; then
  "$REPO/ci/npm-deps.sh"
fi
# Debian's nginx package starts a system nginx on port 80; the benchmarks start their own.

# ---- builds
# Always through the build tool: it does nothing when the binaries are current, and a stale
# build would measure old code.
say "building the hello, Go and C server builds and molt in $MOLT_BENCH_BUILD (Release)"
[ -f "$MOLT_BENCH_BUILD/CMakeCache.txt" ] || \
  cmake -S "$REPO" -B "$MOLT_BENCH_BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
# A build tree configured before Go was installed looks for it again.
grep -q '^MOLT_GO:FILEPATH=/' "$MOLT_BENCH_BUILD/CMakeCache.txt" || cmake "$MOLT_BENCH_BUILD" >/dev/null
cmake --build "$MOLT_BENCH_BUILD" --target hello_v1 hello_v2 go_server_v1 go_server_v2 c_server_v1 \
  c_server_v2 hello molt-cli >/dev/null
mkdir -p "$BIN" "$BENCH_OUT"
if [ ! -x "$BIN/loadgen" ] || [ "$HERE/loadgen.cpp" -nt "$BIN/loadgen" ]; then
  g++ -O2 -std=c++20 -Wall -Wextra -o "$BIN/loadgen" "$HERE/loadgen.cpp"
fi
# The throughput benchmark's baselines, built as loadgen is: plain cpp-httplib and Go's net/http.
if [ ! -x "$BIN/plain_httplib" ] || [ "$HERE/servers/plain_httplib.cpp" -nt "$BIN/plain_httplib" ]; then
  g++ -O2 -std=c++20 -Wall -Wextra $(pkg-config --cflags cpp-httplib) -o "$BIN/plain_httplib" \
    "$HERE/servers/plain_httplib.cpp" $(pkg-config --libs cpp-httplib) -lpthread
fi
if [ ! -x "$BIN/plain_go" ] || [ "$HERE/servers/plain_go.go" -nt "$BIN/plain_go" ]; then
  GO111MODULE=off CGO_ENABLED=0 go build -trimpath -o "$BIN/plain_go" "$HERE/servers/plain_go.go"
fi
if [ ! -f "$BIN/floor_preload.so" ] || [ "$HERE/floor_preload.c" -nt "$BIN/floor_preload.so" ]; then
  gcc -O2 -shared -fPIC -o "$BIN/floor_preload.so" "$HERE/floor_preload.c" -ldl
fi

# ---- run
if [ "$ONLY" = "$ALL" ]; then
  rm -f "$BENCH_OUT"/*.json "$BENCH_OUT"/*.dat "$BENCH_OUT"/*.log "$BENCH_OUT"/*.txt
fi
# The machine may be shared: optionally wait (bounded) for a quieter moment, and record the load
# average all along, so that RESULTS.md says how busy the machine was.
if [ -n "${BENCH_WAIT_QUIET:-}" ]; then
  deadline=$(( $(date +%s) + BENCH_WAIT_QUIET ))
  while [ "$(date +%s)" -lt "$deadline" ] && \
        awk -v max="${BENCH_QUIET_LOAD:-1.5}" '{exit !($1 > max)}' /proc/loadavg; do
    say "waiting for a quieter machine: load average $(cut -d' ' -f1 /proc/loadavg)"
    sleep 20
  done
fi
if [ -n "${BENCH_NICE:-}" ]; then
  renice -n "$BENCH_NICE" -p $$ >/dev/null  # inherited by everything started from here on
fi
( while :; do echo "$(date +%s) $(cut -d' ' -f1-3 /proc/loadavg)" >>"$BENCH_OUT/loadavg.txt"; sleep 5; done ) &
LOAD_SAMPLER=$!
trap 'kill $LOAD_SAMPLER 2>/dev/null || true' EXIT
START=$(date +%s)
python3 - <<EOF
import json, subprocess, sys, time
sys.path.insert(0, "$HERE")
import common as c
commit = subprocess.run(["git", "-C", "$REPO", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
dirty = subprocess.run(["git", "-C", "$REPO", "status", "--porcelain", "--", "src", "fetchers", "examples", "tests/fixtures"], capture_output=True, text=True).stdout.strip()
meta = {"machine": c.machine(), "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "nice": "${BENCH_NICE:-}",
        "commit": "commit %s%s" % (commit, " with uncommitted changes in src/, fetchers/, examples/ or tests/fixtures/" if dirty else "")}
# A run of some sections keeps the others' figures: RESULTS.md says which run wrote those.
if "$ONLY" != "$ALL":
    import os
    meta["only"] = "$ONLY"
    old = os.path.join(c.OUT, "meta.json")
    if os.path.exists(old):
        prev = json.load(open(old))
        meta["earlier"] = prev.get("earlier") or {k: prev.get(k) for k in ("date", "commit")}
c.write_json("meta.json", meta)
EOF
has() { [[ ",$ONLY," == *",$1,"* ]]; }
has load && { say "== 1. upgrade under load"; python3 "$HERE/upgrade_under_load.py"; }
has footprint && { say "== 2. master footprint"; python3 "$HERE/master_footprint.py"; }
has transfer && { say "== 3. transfer"; bash "$HERE/transfer.sh"; }
has latency && { say "== 4. upgrade latency"; python3 "$HERE/upgrade_latency.py"; }
has throughput && { say "== 7. throughput"; python3 "$HERE/throughput.py"; }
# Last: 500 masters and their children leave the machine loaded for minutes after they stop.
has fleet && { say "== 6. a fleet on one source"; python3 "$HERE/fleet.py"; }
has soak && { say "== 5. soak"; python3 "$HERE/soak.py" "$RESULTS"; }
END=$(date +%s)
python3 - <<EOF
import json, os, sys
sys.path.insert(0, "$HERE")
import common as c
p = os.path.join(c.OUT, "meta.json")
m = json.load(open(p))
m["total"] = "%d min %02d s" % divmod($END - $START, 60)
m["loadavg_end"] = open("/proc/loadavg").read().split()[0]
c.write_json("meta.json", m)
EOF
[ "$ONLY" = soak ] || python3 "$HERE/report.py" "$RESULTS" "$PLOTS"
say "done in $(( (END - START) / 60 )) min $(( (END - START) % 60 )) s: $RESULTS"
