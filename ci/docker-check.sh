#!/usr/bin/env bash
# Builds the top-level Dockerfile with no Docker engine and no container registry, then runs the
# runtime image's binaries to prove the slim stage works. Exits non-zero on any failure.
#
#   1. tools: debootstrap, podman and buildah from Debian (apt-get, only if missing);
#   2. base:  a Debian 12 minbase rootfs from the mirror apt already uses, made like
#             debian:bookworm-slim, plus this host's local CA certificates, imported as
#             localhost/debian:bookworm (the tarball and the image are cached);
#   3. build: `podman build --isolation chroot` of the Dockerfile (build, tests, runtime stage);
#   4. run:   `buildah run --isolation chroot` of molt --version, molt build-id and hello --help
#             in the runtime image.
#
# Everything lives under $MOLT_DOCKER_DIR (default /var/tmp/molt-docker), including podman's own
# storage (--root/--runroot), so the host's containers are not touched and a rerun is fast.
# Needs root. MOLT_DOCKER_VERBOSE=1 streams the build output instead of logging it to a file.
# Arguments go to `podman build`, e.g. --build-arg CMAKE_EXTRA_ARGS=-DMOLT_WERROR=OFF.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=${MOLT_DOCKER_DIR:-/var/tmp/molt-docker}
base=localhost/debian:bookworm
image=localhost/molt-hello:check
store=(--root "$dir/storage" --runroot "$dir/run" --storage-driver overlay)

say() { echo "docker-check: $*"; }
die() { say "FAILED: $*" >&2; exit 1; }

[[ $(id -u) == 0 ]] || die "run as root (debootstrap and podman's own storage need it)"
mkdir -p "$dir"
# One run at a time: they share the storage and the cached rootfs.
exec 9>"$dir/lock"
flock -n 9 || { say "waiting for another docker-check run"; flock 9; }

step_name=""
step_start=0
start() { step_name=$1; step_start=$(date +%s); }
done_() { say "$step_name: ${1:-ok} ($(($(date +%s) - step_start)) s)"; }
total_start=$(date +%s)

# ---- 1. tools -------------------------------------------------------------------------------
start tools
missing=()
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v podman >/dev/null || missing+=(podman)
command -v buildah >/dev/null || missing+=(buildah)
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
    "${missing[@]}" >"$dir/apt.log" 2>&1 || { tail -20 "$dir/apt.log" >&2; die "apt-get install ${missing[*]}"; }
  done_ "installed ${missing[*]}"
else
  done_ "debootstrap, podman, buildah present"
fi

# ---- 2. base image --------------------------------------------------------------------------
# The Debian mirror apt uses here (deb822 .sources first, then one-line lists).
mirror() {
  local uri
  uri=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' \
        | grep -E '/debian/?$' | head -n1 || true)
  [[ -n $uri ]] || uri=$(grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
        | grep -v '\[.*\]' | awk '{print $2}' | grep -E '/debian/?$' | head -n1 || true)
  echo "${MOLT_DEBIAN_MIRROR:-${uri:-http://deb.debian.org/debian}}"
}

# Makes a debootstrapped rootfs like the official debian:bookworm-slim: no docs, man pages or
# translations (dpkg path-exclude, and those already unpacked removed), apt caches cleaned.
slim_rootfs() {
  local r=$1
  cat >"$r/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/info/*
path-exclude /usr/share/man/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/*
EOF
  find "$r/usr/share/doc" -mindepth 1 -not -type d -not -name copyright -delete
  find "$r/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$r"/usr/share/{info,man,locale,groff,linda,lintian}/*
  cat >"$r/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  echo 'Acquire::Languages "none";' >"$r/etc/apt/apt.conf.d/docker-no-languages"
  # The mirror may be a dated snapshot whose Release files are past Valid-Until.
  echo 'Acquire::Check-Valid-Until "false";' >"$r/etc/apt/apt.conf.d/99molt-check"
  rm -rf "$r"/var/cache/apt/archives/*.deb "$r"/var/cache/apt/*.bin "$r"/var/lib/apt/lists/*
}

# This host's own CA certificates (/usr/local/share/ca-certificates, e.g. those of a TLS-
# intercepting egress proxy), so that https inside the build (npm) works as it does here. They
# go into a thin layer over the imported rootfs: the ca-certificates package, once the build
# installs it, adds them to the system store, and NODE_EXTRA_CA_CERTS gives them to node/npm.
host_cas() { cat /usr/local/share/ca-certificates/*.crt 2>/dev/null || true; }

start base
# Bump the name when slim_rootfs changes: the next run then makes a new tarball and image.
tarball=$dir/bookworm-minbase-slim.v1.tar
base_key="$tarball $(host_cas | sha256sum | cut -c1-16)"
if podman "${store[@]}" image exists "$base" && [[ $(cat "$dir/base-from" 2>/dev/null) == "$base_key" ]]; then
  done_ "$base cached"
else
  if [[ ! -s $tarball ]]; then
    url=$(mirror)
    rm -rf "$dir/rootfs"
    debootstrap --variant=minbase bookworm "$dir/rootfs" "$url" >"$dir/debootstrap.log" 2>&1 \
      || { tail -20 "$dir/debootstrap.log" >&2; die "debootstrap from $url"; }
    slim_rootfs "$dir/rootfs"
    tar -C "$dir/rootfs" -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf "$dir/rootfs"
    how="debootstrapped from $url and imported"
  else
    how="imported from cached $tarball"
  fi
  rm -rf "$dir/cas" && mkdir -p "$dir/cas/local" "$dir/cas/node"
  cp /usr/local/share/ca-certificates/*.crt "$dir/cas/local/" 2>/dev/null || true
  host_cas >"$dir/cas/node/host-cas.pem"
  ncas=$(grep -c 'BEGIN CERTIFICATE' "$dir/cas/node/host-cas.pem" || true)
  podman "${store[@]}" import -q "$tarball" "$base-rootfs" >/dev/null
  ctr=$(buildah "${store[@]}" from --pull-never "$base-rootfs")
  buildah "${store[@]}" copy "$ctr" "$dir/cas/local/" /usr/local/share/ca-certificates/ >/dev/null
  buildah "${store[@]}" copy "$ctr" "$dir/cas/node/" /etc/molt-check/ >/dev/null
  buildah "${store[@]}" config --env NODE_EXTRA_CA_CERTS=/etc/molt-check/host-cas.pem "$ctr"
  buildah "${store[@]}" commit -q --rm "$ctr" "$base" >/dev/null
  echo "$base_key" >"$dir/base-from"
  done_ "$base $how, plus $ncas local CA certificate(s) of this host"
fi

# ---- 3. build -------------------------------------------------------------------------------
start build
log=$dir/build.log
build=(podman "${store[@]}" build --isolation chroot --pull=never --layers
       --build-arg BASE_IMAGE="$base" --build-arg RUNTIME_IMAGE="$base"
       "$@" -t "$image" -f "$repo/Dockerfile" "$repo")
# Each line of the log starts with the time it was written (seconds since the epoch).
stamp() { local line; while IFS= read -r line; do printf '%(%s)T %s\n' -1 "$line"; done; }
# How long each Dockerfile step took (those of 3 s or more), from the stamped log.
step_times() {
  awk 'function flush() { if (step != "" && now - t >= 3) printf "docker-check:   %5d s  %s\n", now - t, step }
       { now = $1 }
       / STEP [0-9]+\/[0-9]+: / { flush(); t = now; step = substr(substr($0, index($0, $2)), 1, 80) }
       END { flush() }' "$log"
}
if [[ ${MOLT_DOCKER_VERBOSE:-0} == 1 ]]; then
  "${build[@]}" 2>&1 | stamp | tee "$log" | cut -d' ' -f2- || { step_times; die "podman build (log: $log)"; }
else
  "${build[@]}" 2>&1 | stamp >"$log" \
    || { tail -60 "$log" | cut -d' ' -f2- >&2; step_times; die "podman build (full log: $log)"; }
fi
step_times
# Drop the images earlier runs left untagged; the layer cache of this one stays.
podman "${store[@]}" image prune -f >/dev/null || true
tests=$(grep -Eo '[0-9]+% tests passed, [0-9]+ tests failed out of [0-9]+' "$log" | tail -n1 || true)
if [[ -n $tests ]]; then done_ "$image built; ctest: $tests"; else done_ "$image built (tests: cached layer)"; fi

# ---- 4. run the runtime image ---------------------------------------------------------------
start run
ctr=$(buildah "${store[@]}" from --pull-never "$image")
trap 'buildah "${store[@]}" rm "$ctr" >/dev/null 2>&1 || true' EXIT
run() { buildah "${store[@]}" run --isolation chroot "$ctr" -- "$@"; }
version=$(run /usr/local/bin/molt --version) || die "molt --version in $image"
build_id=$(run /usr/local/bin/molt build-id /opt/hello/hello) || die "molt build-id in $image"
run /opt/hello/hello --help >"$dir/hello-help.txt" || die "hello --help in $image"
grep -q -- '--listen' "$dir/hello-help.txt" || die "hello --help printed no --listen option"
entrypoint=$(podman "${store[@]}" image inspect --format '{{json .Config.Entrypoint}} {{json .Config.Cmd}} user={{.Config.User}}' "$image")
done_ "$version; hello build-id $build_id; hello --help ok"
say "entrypoint: $entrypoint"

size=$(podman "${store[@]}" image inspect --format '{{.Size}}' "$image")
say "image $image: $((size / 1000000)) MB"
say "passed in $(($(date +%s) - total_start)) s"
