#!/usr/bin/env bash
# Uses molt as a user's project would, from the build in BUILD_DIR (configured by ci/test.sh):
#   1. `cmake --install` into a prefix holds the public headers only, the CMake package, the
#      pkg-config files and the molt command;
#   2. `cpack -G DEB` makes a package with the same files and its Debian dependencies;
#   3. this folder's program is built with find_package(molt) against the prefix, with
#      FetchContent of the tree (with GTest, CLI11 and Python made unfindable: a user needs none
#      of them; nlohmann_json's header is needed, by the GitHub source), and with pkg-config
#      against the unpacked package;
#   4. each of the three builds serves, and upgrades once from a file drop (upgrade_once.py).
# Usage: tests/consumer/run.sh BUILD_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "$1" && pwd)
work=$(mktemp -d /tmp/molt-consumer.XXXXXX)
trap 'rm -rf "$work"' EXIT
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fail() { echo "consumer: $*" >&2; exit 1; }

echo "-- cmake --install"
cmake --install "$build" --prefix "$work/prefix" >/dev/null
(cd "$work/prefix" && find . -type f | sed 's|^\./||' | sort) >"$work/installed"
expected_headers=$( (cd "$root/src" && ls molt/*.hpp; echo molt/version.hpp) | sed 's|^|include/|' | sort)
installed_headers=$(grep '^include/' "$work/installed" || true)
[[ "$installed_headers" == "$expected_headers" ]] ||
  fail "installed headers are not the public ones: $(diff <(echo "$expected_headers") <(echo "$installed_headers") | tr '\n' ' ')"
for f in lib/cmake/molt/moltConfig.cmake lib/cmake/molt/moltConfigVersion.cmake \
  lib/pkgconfig/molt.pc lib/pkgconfig/molt-httplib.pc lib/libmolt.a lib/libmolt_httplib.a bin/molt; do
  grep -qx "$f" "$work/installed" || fail "the install has no $f"
done
"$work/prefix/bin/molt" --version
# What a user's include path holds is molt/ alone: a private header cannot be reached.
export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig"
echo '#include <molt/molt.hpp>' | g++ -fsyntax-only -x c++ - $(pkg-config --cflags molt) ||
  fail "molt/molt.hpp does not compile with pkg-config --cflags molt"
for private in check.hpp sys.hpp transfer.hpp; do
  if echo "#include <$private>" | g++ -fsyntax-only -x c++ - $(pkg-config --cflags molt) 2>/dev/null; then
    fail "a user's program can include molt's private $private"
  fi
done

echo "-- cpack -G DEB"
(cd "$work" && cpack -G DEB --config "$build/CPackConfig.cmake" -B "$work/deb" >/dev/null)
deb=$(ls "$work"/deb/molt_*.deb)
dpkg-deb -c "$deb" | awk '$1 !~ /^d/ {print $6}' | sed 's|^\./usr/||' | sort >"$work/packaged"
diff "$work/installed" "$work/packaged" || fail "$deb does not hold what cmake --install installs"
depends=$(dpkg-deb -f "$deb" Depends)
for dep in libspdlog-dev libssl-dev libcpp-httplib-dev libcurl4 libc6; do
  [[ "$depends" == *"$dep"* ]] || fail "$deb does not depend on $dep: $depends"
done
echo "$(basename "$deb"): $(wc -l <"$work/packaged") files; Depends: $depends"
dpkg-deb -x "$deb" "$work/unpacked"

echo "-- find_package(molt)"
cmake -S "$here" -B "$work/package" -G Ninja -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" \
  -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/package" >/dev/null
"$here/upgrade_once.py" "$work/package/app_v1" "$work/package/app_v2" "$build/molt"

echo "-- FetchContent"
cmake -S "$here" -B "$work/fetch" -G Ninja -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" \
  --no-warn-unused-cli -DMOLT_SOURCE_DIR="$root" -DCMAKE_DISABLE_FIND_PACKAGE_GTest=ON \
  -DCMAKE_DISABLE_FIND_PACKAGE_CLI11=ON -DCMAKE_DISABLE_FIND_PACKAGE_Python3=ON >/dev/null
cmake --build "$work/fetch" >/dev/null
"$here/upgrade_once.py" "$work/fetch/app_v1" "$work/fetch/app_v2" "$build/molt"

echo "-- pkg-config molt-httplib (the unpacked package)"
export PKG_CONFIG_PATH="$work/unpacked/usr/lib/pkgconfig"
for v in v1 v2; do
  # shellcheck disable=SC2046 # pkg-config's output is a list of words
  g++ -O2 -DMOLT_BUILD_ID="\"$v\"" "$here/main.cpp" -o "$work/pc_app_$v" \
    $(pkg-config --cflags --libs molt-httplib)
done
"$here/upgrade_once.py" "$work/pc_app_v1" "$work/pc_app_v2" "$build/molt"
echo "consumer: every way of using molt builds, runs and upgrades"
