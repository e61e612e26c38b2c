#!/usr/bin/env bash
# Builds the fuzzers with clang (libFuzzer, ASan, UBSan) and runs each for a bounded time on a
# copy of its seed corpus (real minisign files; control requests). Exits non-zero on a crash or a failed build.
#
#   tests/fuzz/run.sh            # 30 s each, build dir build-fuzz/
#   MOLT_FUZZ_SECONDS=300 MOLT_FUZZ_BUILD_DIR=/tmp/fz tests/fuzz/run.sh
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${MOLT_FUZZ_BUILD_DIR:-$root/build-fuzz}
seconds=${MOLT_FUZZ_SECONDS:-30}

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
if [[ ! -f "$build/CMakeCache.txt" ]]; then
  # fuzzer-no-link instruments the molt library too, so libFuzzer sees the parsers' coverage.
  CC=clang CXX=clang++ cmake -S "$root" -B "$build" "${generator[@]}" \
    -DMOLT_FUZZ=ON -DMOLT_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS=-fsanitize=fuzzer-no-link >/dev/null
fi
fuzzers=(signature_fuzz json_fuzz)
cmake --build "$build" --target "${fuzzers[@]}" -j "$(nproc)"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for name in "${fuzzers[@]}"; do
  fuzzer=$(find "$build" -name "$name" -type f -perm -u+x | head -n 1)
  [[ -n "$fuzzer" ]] || { echo "tests/fuzz/run.sh: no $name in $build" >&2; exit 1; }
  rm -rf "$work/corpus" "$work/artifacts"
  mkdir -p "$work/corpus" "$work/artifacts"
  cp "$root/tests/fuzz/corpus/${name%_fuzz}/"* "$work/corpus/"
  echo "tests/fuzz/run.sh: $name for ${seconds}s"
  if ! "$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$work/artifacts/" "$work/corpus" >"$work/log" 2>&1; then
    tail -n 60 "$work/log"
    mkdir -p "$build/fuzz-artifacts"
    cp "$work/artifacts/"* "$build/fuzz-artifacts/" 2>/dev/null || true
    echo "tests/fuzz/run.sh: $name failed; crashing inputs kept in $build/fuzz-artifacts" >&2
    exit 1
  fi
  grep -E '^(Done|stat::number_of_executed_runs)' "$work/log" || tail -n 3 "$work/log"
done
