#!/usr/bin/env bash
# Benchmark 3: transfer. A 256 MiB artifact (--quick: 32 MiB; hello_v2 with that many of random bytes appended: ELF
# ignores trailing bytes and the BuildID stays readable), signed with molt, served by Debian's
# nginx on loopback:
#   molt   publish it at the master's http:// source, send SIGHUP, and time until the master logs
#          "verified build" (download streamed and hashed to a temp file, fsync, signature
#          verified: the build is then ready to start from its staged file);
#   anchor `curl -o` of the same file alone (the physical anchor), then `minisign -V` on it, and
#          `sync FILE` (the fsync that an install must do and curl does not).
# Ratios are computed inside each run; RUNS runs, median reported.
# Then bytes on the wire per idle poll: a master polling the unchanged source every second,
# counted by nginx ($request_length + $bytes_sent) and at the IP level (iptables counters on lo),
# for http:// and https://.
# Writes $BENCH_OUT/transfer.json.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$HERE")
BUILD=${MOLT_BENCH_BUILD:-$REPO/build-bench}
OUT=${BENCH_OUT:-$HERE/out/full}
QUICK=${BENCH_QUICK:-0}
RUNS=${BENCH_TRANSFER_RUNS:-$([ "$QUICK" = 1 ] && echo 1 || echo 3)}
SIZE_MIB=${BENCH_TRANSFER_MIB:-$([ "$QUICK" = 1 ] && echo 32 || echo 256)}
POLL_SECONDS=${BENCH_POLL_SECONDS:-$([ "$QUICK" = 1 ] && echo 2 || echo 6)}
MOLT=$BUILD/molt
mkdir -p "$OUT"

say() { echo "[$(date +%H:%M:%S)] $*"; }

W=$(mktemp -d /tmp/molt-bench-transfer-XXXXXX)
NGINX_PIDS=()
MASTER_PID=
IPT_CHAIN="MOLTBENCH$$"
cleanup() {
  set +e
  [ -n "$MASTER_PID" ] && kill -TERM "$MASTER_PID" 2>/dev/null && wait "$MASTER_PID" 2>/dev/null
  for pidf in "$W"/nginx-*/nginx.pid; do
    [ -f "$pidf" ] && kill -QUIT "$(cat "$pidf")" 2>/dev/null
  done
  sleep 0.3
  iptables -D OUTPUT -o lo -j "$IPT_CHAIN" 2>/dev/null
  iptables -F "$IPT_CHAIN" 2>/dev/null
  iptables -X "$IPT_CHAIN" 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now_ms() { date +%s%3N; }
log_ms() { date -d "$(cut -c1-23 <<<"$1")" +%s%3N; }  # a molt log line's stamp, in epoch ms

# wait_line FILE REGEX [TIMEOUT_S]: prints the first matching line, fails after the timeout.
wait_line() {
  local deadline=$(( $(date +%s) + ${3:-60} ))
  while :; do
    local line
    line=$(grep -m1 -E "$2" "$1" 2>/dev/null || true)
    if [ -n "$line" ]; then echo "$line"; return 0; fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "transfer.sh: no line matching '$2' in $1:" >&2; tail -20 "$1" >&2; return 1
    fi
    sleep 0.005
  done
}

# start_nginx NAME PORT ROOT [CERT KEY]: Debian's nginx (tests/tools/nginx.py), daemonised, its
# own config and pid file in $W/nginx-NAME, its access log in nginx.py's format "bench":
# $request_length $bytes_sent $status "$request".
start_nginx() {
  local d="$W/nginx-$1" tls=()
  mkdir -p "$d"
  if [ $# -ge 5 ]; then tls=(--cert "$4" --key "$5"); fi
  python3 "$REPO/tests/tools/nginx.py" --daemon --workers 2 --worker-connections 1024 \
    --access-log bench --dir "$d" --port "$2" --root "$3" "${tls[@]}"
  for _ in $(seq 200); do [ -s "$d/nginx.pid" ] && return 0; sleep 0.01; done
  echo "nginx $1 did not start" >&2; return 1
}

# publish FILE ROOT: signature first, then the binary renamed into place; prints the time (ms).
# It first waits for the clock to enter a new second: nginx's ETag and Last-Modified have a
# resolution of one second, and a same-size signature published within the same second as the
# previous one would be answered 304 to the master's conditional poll.
publish() {
  local last; last=$(cat "$W/.last-publish" 2>/dev/null || echo 0)
  while [ "$(date +%s)" -le "$last" ]; do sleep 0.01; done
  cp "$1" "$2/.staging"
  cp "$1.minisig" "$2/.staging.minisig"
  # Written out before it counts as published: otherwise the kernel's writeback of the copy
  # would compete with the master's download, which curl's run never has to.
  sync "$2/.staging" "$2/.staging.minisig"
  mv "$2/.staging.minisig" "$2/app.minisig"
  mv "$2/.staging" "$2/app"
  now_ms
  date +%s >"$W/.last-publish"
}

# start_master DIR SOURCE INTERVAL [ARGS...]: a hello master from a copy of hello_v1.
start_master() {
  local d=$1 src=$2 interval=$3; shift 3
  mkdir -p "$d"
  cp "$BUILD/tests/fixtures/hello_v1" "$d/app"
  "$d/app" --listen 127.0.0.1:0 --source "$src" --pubkey "$W/k.pub" --interval "$interval" "$@" \
    2>"$d/master.log" </dev/null >/dev/null &
  MASTER_PID=$!
  wait_line "$d/master.log" "child [0-9]+ \(build v1\) is ready" 30 >/dev/null
}

stop_master() {
  kill -TERM "$MASTER_PID"; wait "$MASTER_PID" 2>/dev/null || true; MASTER_PID=
}

say "transfer: making a ${SIZE_MIB} MiB artifact (hello_v2 + random bytes), signing it"
"$MOLT" keygen -W -p "$W/k.pub" -s "$W/k.sec" >/dev/null
cp "$BUILD/tests/fixtures/hello_v2" "$W/big"
head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom >>"$W/big"
BIG_BYTES=$(stat -c %s "$W/big")
[ "$("$MOLT" build-id "$W/big")" = v2 ] || { echo "padded artifact lost its BuildID" >&2; exit 1; }
"$MOLT" sign -s "$W/k.sec" -m "$W/big" -x "$W/big.minisig" >/dev/null
cp "$BUILD/tests/fixtures/hello_v1" "$W/v1"
"$MOLT" sign -s "$W/k.sec" -m "$W/v1" -x "$W/v1.minisig" >/dev/null

ROOT="$W/www"; mkdir -p "$ROOT"
PORT=$(free_port)
start_nginx http "$PORT" "$ROOT"
URL="http://127.0.0.1:$PORT/app"
publish "$W/big" "$ROOT" >/dev/null
curl -sS -o /dev/null "$URL"  # nginx's page cache holds the file for every run alike

RUN_JSON=()
for i in $(seq "$RUNS"); do
  say "transfer: run $i/$RUNS"
  # ---- the anchor: curl -o, then minisign -V, then the fsync an install needs
  rm -rf "$W/curl"; mkdir -p "$W/curl"
  t0=$(now_ms)
  curl -sS -o "$W/curl/app" "$URL"
  t1=$(now_ms)
  curl -sS -o "$W/curl/app.minisig" "$URL.minisig"
  minisign -Vq -m "$W/curl/app" -x "$W/curl/app.minisig" -p "$W/k.pub"
  t2=$(now_ms)
  sync "$W/curl/app"
  t3=$(now_ms)
  curl_ms=$((t1 - t0)); minisign_ms=$((t2 - t1)); sync_ms=$((t3 - t2))
  rm -rf "$W/curl"
  # ---- molt: the source holds v1 (running); publish the big v2, SIGHUP, wait for the install
  publish "$W/v1" "$ROOT" >/dev/null
  M="$W/master-$i"
  start_master "$M" "$URL" 1h
  sleep 0.5
  # A watcher notes when the master's temp file holds every byte: the end of download + hash.
  python3 - "$M" "$BIG_BYTES" >"$W/watch.out" <<'PY' &
import glob, os, sys, time
d, size = sys.argv[1], int(sys.argv[2])
open(os.path.join(d, "..", "watch.ready"), "w").close()
end = time.time() + 120
while time.time() < end:
    for f in glob.glob(os.path.join(d, ".app.molt-*")):
        try:
            if os.path.getsize(f) >= size:
                print(int(time.time() * 1000))
                sys.exit(0)
        except OSError:
            pass
    time.sleep(0.005)
print(0)
PY
  WATCH=$!
  for _ in $(seq 1000); do [ -e "$W/watch.ready" ] && break; sleep 0.01; done
  rm -f "$W/watch.ready"
  t0=$(publish "$W/big" "$ROOT")
  kill -HUP "$MASTER_PID"
  line=$(wait_line "$M/master.log" "verified build v2" 120)
  verified_ms=$(( $(log_ms "$line") - t0 ))
  wait "$WATCH" || true
  done_at=$(cat "$W/watch.out")
  if [ "${done_at:-0}" -gt 0 ]; then downloaded_ms=$((done_at - t0)); else downloaded_ms=null; fi
  line=$(wait_line "$M/master.log" "child [0-9]+ \(build v2\) is ready" 60)
  ready_ms=$(( $(log_ms "$line") - t0 ))
  stop_master
  [ "$("$MOLT" build-id "$M/app")" = v2 ] || { echo "molt did not install the artifact" >&2; exit 1; }
  rm -rf "$M"
  say "  curl -o ${curl_ms} ms, minisign -V ${minisign_ms} ms, sync ${sync_ms} ms; molt downloaded and hashed in ${downloaded_ms} ms, verified in ${verified_ms} ms"
  RUN_JSON+=("{\"curl_ms\": $curl_ms, \"molt_downloaded_ms\": $downloaded_ms, \"minisign_ms\": $minisign_ms, \"sync_ms\": $sync_ms, \"molt_verified_ms\": $verified_ms, \"molt_ready_ms\": $ready_ms, \"ratio_vs_curl\": $(python3 -c "print(round($verified_ms/max(1,$curl_ms),3))"), \"ratio_vs_curl_minisign\": $(python3 -c "print(round($verified_ms/max(1,$curl_ms+$minisign_ms),3))"), \"ratio_vs_curl_minisign_sync\": $(python3 -c "print(round($verified_ms/max(1,$curl_ms+$minisign_ms+$sync_ms),3))")}")
done

# ---- bytes on the wire per idle poll, http:// and https://
iptables -N "$IPT_CHAIN"
iptables -I OUTPUT -o lo -j "$IPT_CHAIN"
poll_bytes() {  # NAME PORT URL [extra master args]: prints a JSON object
  local name=$1 port=$2 url=$3; shift 3
  local alog="$W/nginx-$name/access.log"
  iptables -F "$IPT_CHAIN"
  iptables -A "$IPT_CHAIN" -p tcp --dport "$port"
  iptables -A "$IPT_CHAIN" -p tcp --sport "$port"
  publish "$W/v1" "$ROOT" >/dev/null
  start_master "$W/poll-$name" "$url" 1s "$@"
  sleep 1.5  # the first check reads the whole signature; the idle polls follow
  local l0; l0=$(wc -l <"$alog")
  iptables -Z "$IPT_CHAIN"
  sleep "$POLL_SECONDS"
  local counters; counters=$(iptables -nvx -L "$IPT_CHAIN" | awk 'NR>2 {p+=$1; b+=$2} END {print p, b}')
  local l1; l1=$(wc -l <"$alog")
  stop_master
  rm -rf "$W/poll-$name"
  tail -n +$((l0 + 1)) "$alog" | head -n $((l1 - l0)) | python3 -c '
import json, sys
name, packets, ipbytes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
polls = [l.split() for l in sys.stdin if ".minisig" in l]
n = len(polls)
print(json.dumps({"source": name, "polls": n, "statuses": sorted({p[2] for p in polls}),
  "http_bytes_per_poll": round(sum(int(p[0]) + int(p[1]) for p in polls) / n, 1) if n else None,
  "request_bytes": round(sum(int(p[0]) for p in polls) / n, 1) if n else None,
  "response_bytes": round(sum(int(p[1]) for p in polls) / n, 1) if n else None,
  "ip_bytes_per_poll": round(ipbytes / n, 1) if n else None,
  "packets_per_poll": round(packets / n, 1) if n else None}))' "$name" $counters
}
say "transfer: bytes on the wire per idle poll (http, ${POLL_SECONDS}s at 1s)"
HTTP_POLL=$(poll_bytes http "$PORT" "$URL")
say "  $HTTP_POLL"

# https: a CA and a server certificate made here
"$REPO/tests/tools/make_pki.sh" "$W"
TLS_PORT=$(free_port)
start_nginx https "$TLS_PORT" "$ROOT" "$W/server.crt" "$W/server.key"
say "transfer: bytes on the wire per idle poll (https)"
HTTPS_POLL=$(poll_bytes https "$TLS_PORT" "https://127.0.0.1:$TLS_PORT/app" --ca-file "$W/ca.crt")
say "  $HTTPS_POLL"

RUNS_JOINED=$(IFS=,; echo "${RUN_JSON[*]}")
python3 - "$OUT/transfer.json" <<EOF
import json, sys
null = None
runs = [$RUNS_JOINED]
def med(k):
    v = sorted(r[k] for r in runs if r[k] is not None); n = len(v)
    if not n:
        return None
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2
out = {"runs": len(runs), "artifact_bytes": $BIG_BYTES, "padding_mib": $SIZE_MIB, "per_run": runs,
       "median": {k: med(k) for k in runs[0]},
       "idle_poll": {"http": $HTTP_POLL, "https": $HTTPS_POLL}}
json.dump(out, open(sys.argv[1], "w"), indent=1)
EOF
say "transfer: done"
