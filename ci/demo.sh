#!/usr/bin/env bash
# The main job on its embedded default: a self-upgrading server fed by a local drop folder.
# Builds hello as v1, serves it, keeps clients busy, builds v2, signs it, drops it into the
# folder, and shows v2 taking over with no failed request.
#
#   ci/demo.sh              # port 8080
#   DEMO_PORT=9090 ci/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
port=${DEMO_PORT:-8080}
build=$root/build/demo
demo=$(mktemp -d /tmp/molt-demo.XXXXXX)
master=""
cleanup() {
  [[ -n $master ]] && kill -TERM "$master" 2>/dev/null && wait "$master" 2>/dev/null || true
  rm -rf "$demo"
}
trap cleanup EXIT
say() { printf '\n>> %s\n' "$*"; }

say "installing what is missing and building (first time: a few minutes)"
ci/deps.sh
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
# Paths relative to the checkout, so a clone in another folder reuses the cache.
export CCACHE_BASEDIR=$root CCACHE_NOHASHDIR=1
build_hello() {  # $1 = BuildID; quiet, but a failed build shows what the compiler said
  local log
  log=$(mktemp)
  if ! { cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" \
    -DHELLO_BUILD_ID="$1" && cmake --build "$build" --target hello molt-cli; } >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "ci/demo.sh: the build of hello ($1) failed; the output above says why" >&2
    exit 1
  fi
  rm -f "$log"
}
build_hello v1
molt=$build/molt

say "a signing key, and v1 installed at $demo/app"
"$molt" keygen -W -p "$demo/molt.pub" -s "$demo/molt.sec" >/dev/null
mkdir "$demo/drop"
cp "$build/examples/hello" "$demo/app"
echo "   installed build: $("$molt" build-id "$demo/app")"

say "starting: app --listen 127.0.0.1:$port --source $demo/drop/app --pubkey molt.pub"
"$demo/app" --listen "127.0.0.1:$port" --source "$demo/drop/app" --pubkey "$demo/molt.pub" \
  --interval 2s 2>"$demo/master.log" &
master=$!
wait_log() {  # waits for a line in the master's log matching $1
  for _ in $(seq 600); do
    grep -qE "$1" "$demo/master.log" && return 0
    kill -0 "$master" 2>/dev/null || { cat "$demo/master.log"; return 1; }
    sleep 0.1
  done
  echo "gave up waiting for: $1"; cat "$demo/master.log"; return 1
}
wait_log "child [0-9]+ \(build v1\) is ready"
echo "   $(curl -s "http://127.0.0.1:$port/")"

say "clients now send requests without pause (new connection each)"
/usr/bin/python3 - "$port" "$demo/stop" >"$demo/clients.txt" <<'PY' &
import http.client, os, sys, threading, collections
port, stop = int(sys.argv[1]), sys.argv[2]
answers, failures, lock = collections.Counter(), [], threading.Lock()
def client():
    while not os.path.exists(stop):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            c.request("GET", "/")
            r = c.getresponse()
            body = r.read().decode().strip()
            with lock:
                if r.status == 200: answers[body] += 1
                else: failures.append(r.status)
            c.close()
        except Exception as e:
            with lock: failures.append(repr(e))
threads = [threading.Thread(target=client) for _ in range(4)]
[t.start() for t in threads]
[t.join() for t in threads]
print("requests: %d, failed: %d" % (sum(answers.values()) + len(failures), len(failures)))
for body, n in sorted(answers.items()):
    print("  %-20s %d" % (body, n))
for f in failures[:5]:
    print("  failure:", f)
PY
clients=$!
sleep 1
first=$(curl -s "http://127.0.0.1:$port/id")

say "building v2 (only the BuildID changes), signing it, dropping it into $demo/drop"
build_hello v2
cp "$build/examples/hello" "$demo/drop/.app.tmp"
"$molt" sign -s "$demo/molt.sec" -m "$demo/drop/.app.tmp" -x "$demo/drop/app.minisig" >/dev/null
mv "$demo/drop/.app.tmp" "$demo/drop/app"
wait_log "child [0-9]+ \(build v2\) is ready"
wait_log "stopped accepting"
sleep 1
touch "$demo/stop"
wait "$clients"
second=$(curl -s "http://127.0.0.1:$port/id")

say "what the master said"
sed -E 's/^[0-9-]+ ([0-9:.]+) /\1 /' "$demo/master.log"
say "what the clients saw"
cat "$demo/clients.txt"
say "before: $first"
echo "   after:  $second"
echo "   the master pid is the same, the child is new, and <bin> now holds $("$molt" build-id "$demo/app")"
