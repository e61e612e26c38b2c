#!/usr/bin/env bash
# Installs what is missing, checks the format, builds molt twice (Release with warnings as
# errors, then ASan+UBSan) and runs every test on both, then fuzzes the signature and control-request parsers for a
# bounded time. Every step runs even when an earlier one failed, so one run shows every problem;
# the exit status is non-zero if any step failed.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
jobs=$(nproc)
started=$SECONDS
failed=()

step() { printf '\n== %s (%ds)\n' "$*" $((SECONDS - started)); }
check() {  # runs "$@"; records the step as failed when it fails
  "$@" || failed+=("$current")
}

current="dependencies"
step "$current"
ci/deps.sh && ci/npm-deps.sh || { echo "ci/test.sh: cannot install dependencies" >&2; exit 1; }

current="format"
step "$current"
check bash -c "git ls-files '*.cpp' '*.hpp' | xargs clang-format --dry-run -Werror"

# ccache makes a rebuild of unchanged sources nearly free; the results are the same without it.
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
# Paths relative to the checkout, so a clone in another folder reuses the cache.
export CCACHE_BASEDIR=$root CCACHE_NOHASHDIR=1

build_and_test() {
  local dir=$1
  shift
  current="build $dir"
  step "$current"
  cmake -S "$root" -B "$dir" -G Ninja -DMOLT_WERROR=ON "${launcher[@]}" "$@" >/dev/null &&
    cmake --build "$dir" --parallel "$jobs" || { failed+=("$current"); return; }
  current="test $dir"
  step "$current"
  # The end-to-end tests mostly wait on processes and sockets: run more of them than cores.
  check ctest --test-dir "$dir" --output-on-failure --parallel $((jobs * 2)) --timeout 600
}

build_and_test build/ci-release -DCMAKE_BUILD_TYPE=Release
current="use molt from another project (install, DEB package, find_package, FetchContent, pkg-config)"
step "$current"
check tests/consumer/run.sh build/ci-release
# Children and helpers inherit these through the environment.
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
build_and_test build/ci-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMOLT_SANITIZE=ON
unset ASAN_OPTIONS UBSAN_OPTIONS

current="fuzz the signature and control-request parsers"
step "$current"
check tests/fuzz/run.sh

step "finished"
if ((${#failed[@]})); then
  printf 'FAILED: %s\n' "${failed[@]}"
  exit 1
fi
echo "every step passed"
