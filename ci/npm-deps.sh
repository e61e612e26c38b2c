#!/usr/bin/env bash
# Installs the npm test peers (s3rver, a real S3-compatible server) into a folder of the build,
# from the npm registry. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=build/npm
if [[ ! -x $prefix/node_modules/.bin/s3rver ]]; then
  echo "ci/npm-deps.sh: installing s3rver into $prefix"
  mkdir -p "$prefix"
  npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error s3rver@3 >/dev/null
fi
