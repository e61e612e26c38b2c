#!/bin/sh
# The one test CA: makes, in DIR, a CA (ca.crt, ca.key) and a certificate for 127.0.0.1 and
# localhost signed by it (server.crt, server.key), P-256, valid 2 days. Used by the fetcher tests
# (C++), the e2e tests and bench. Prints nothing; on failure, openssl's output and exit 1.
# Usage: make_pki.sh DIR
set -eu
dir=$1
log=$dir/openssl.log
cat >"$dir/server.ext" <<'EXT'
subjectAltName=IP:127.0.0.1,DNS:localhost
basicConstraints=CA:FALSE
extendedKeyUsage=serverAuth
EXT
if ! {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$dir/ca.key" -out "$dir/ca.crt" -days 2 -subj "/CN=molt test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" &&
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
      -keyout "$dir/server.key" -out "$dir/server.csr" -subj "/CN=127.0.0.1" &&
    openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
      -CAcreateserial -days 2 -extfile "$dir/server.ext" -out "$dir/server.crt"
} >"$log" 2>&1; then
  cat "$log" >&2
  exit 1
fi
