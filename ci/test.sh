#!/usr/bin/env bash
# Installs what is missing, builds molt twice (Release with warnings as errors, then ASan+UBSan)
# and runs every test on both; then fuzzes the signature parsers for a bounded time.
# Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
jobs=$(nproc)
started=$SECONDS

step() { printf '\n== %s (%ds)\n' "$*" $((SECONDS - started)); }

step "dependencies"
ci/deps.sh
ci/npm-deps.sh

# ccache makes a rebuild of unchanged sources nearly free; the results are the same without it.
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)

build_and_test() {
  local dir=$1
  shift
  step "configure $dir"
  cmake -S "$root" -B "$dir" -G Ninja -DMOLT_WERROR=ON "${launcher[@]}" "$@" >/dev/null
  step "build $dir"
  cmake --build "$dir" --parallel "$jobs"
  step "test $dir"
  ctest --test-dir "$dir" --output-on-failure --parallel "$jobs" --timeout 600
}

step "format"
git ls-files '*.cpp' '*.hpp' | xargs clang-format --dry-run -Werror

build_and_test build/ci-release -DCMAKE_BUILD_TYPE=Release
# detect_leaks stays on; children inherit these through the environment.
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
build_and_test build/ci-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMOLT_SANITIZE=ON
unset ASAN_OPTIONS UBSAN_OPTIONS

step "fuzz the signature parsers"
tests/fuzz/run.sh

step "done: every test passed"
