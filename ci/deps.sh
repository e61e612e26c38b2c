#!/usr/bin/env bash
# Installs what a fresh Debian 12 needs to build molt and run its tests.
# Idempotent and quiet when everything is already there.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates ccache dpkg-dev file
  libcurl4-openssl-dev libssl-dev libcpp-httplib-dev libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev libcli11-dev nlohmann-json3-dev zlib1g-dev libbrotli-dev libzstd-dev
  clang clang-format libclang-rt-14-dev
  golang-go zstd minisign nginx-light python3 python3-botocore python3-prometheus-client openssl curl procps systemd util-linux
  $(command -v npm >/dev/null || echo nodejs npm)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "ci/deps.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
