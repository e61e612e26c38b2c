# molt: build and test the tree on Debian 12, then ship the example `hello` server in a slim image.
#
#   docker build -t molt-hello .
#   docker run -p 8080:8080 \
#     -v /srv/hello/molt.pub:/opt/hello/molt.pub:ro \
#     -v /srv/hello/drop:/opt/hello/drop:ro \
#     molt-hello
#
# Offline (no registry), ci/docker-check.sh builds this with podman from a debootstrapped base:
# it passes BASE_IMAGE and RUNTIME_IMAGE=localhost/debian:bookworm.
ARG BASE_IMAGE=debian:bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

# ---- stage 1: build and test ---------------------------------------------------------------
FROM ${BASE_IMAGE} AS build
WORKDIR /src
# The dependencies first, in their own layers, rebuilt only when these scripts change: Debian
# packages, then the npm test peers (s3rver, into build/npm, which .dockerignore keeps the
# COPY below from touching).
COPY ci/deps.sh ci/
RUN ci/deps.sh && rm -rf /var/lib/apt/lists/*
COPY ci/npm-deps.sh ci/
RUN ci/npm-deps.sh && rm -rf /root/.npm
COPY . .
# More -D options, after (so overriding) the fixed ones: --build-arg CMAKE_EXTRA_ARGS=...
ARG CMAKE_EXTRA_ARGS=""
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DMOLT_WERROR=ON ${CMAKE_EXTRA_ARGS} \
 && cmake --build build
# Every test runs here, end-to-end ones included: they start local processes and servers
# (python, nginx, s3rver) on loopback ports, which a container allows, so none is excluded.
# A failing test fails the image build.
RUN ctest --test-dir build --output-on-failure
RUN install -D -m 0755 build/examples/hello /out/opt/hello/hello \
 && install -D -m 0755 build/molt /out/usr/local/bin/molt

# ---- stage 2: runtime ----------------------------------------------------------------------
FROM ${RUNTIME_IMAGE}
# Only the shared libraries hello and molt load (ldd), plus CA certificates for https:// and
# s3:// sources. libstdc++6 and libgcc-s1 are already in the base. libcurl4 and libssl3 are not
# in ldd's list but must stay: the check helper loads libcurl.so.4 with dlopen on its first
# transfer, and libcrypto.so.3 (libssl3) on its first signature check, so without them every
# http(s):// and s3:// check fails ("cannot load libcurl.so.4: ...") and no build is verified.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libcurl4 libssl3 libcpp-httplib0.11 libspdlog1.10 libfmt9 zlib1g libbrotli1 ca-certificates \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/ /
# Fail the build here, not at the first start (or the first check), if a library is missing from
# the list above; ldd of libcurl.so.4 itself covers the libraries only it needs.
RUN curl_so=$(ldconfig -p | awk '$1 == "libcurl.so.4" {print $NF; exit}') \
 && test -n "$curl_so" \
 && if ldd /opt/hello/hello /usr/local/bin/molt "$curl_so" | grep 'not found'; then exit 1; fi \
 && useradd --system --uid 10001 --home-dir /opt/hello --shell /usr/sbin/nologin hello \
 && mkdir -p /opt/hello/drop \
 && chown hello:hello /opt/hello
# The master swaps a verified new build into /opt/hello/hello in place and keeps its state
# (the anti-downgrade high-water mark) in /opt/hello/hello.molt, so hello owns /opt/hello.
USER hello
WORKDIR /opt/hello
EXPOSE 8080
# The operator mounts, readable by uid 10001:
#   /opt/hello/molt.pub  the minisign public key that signs the builds (molt keygen);
#   /opt/hello/drop/     the folder where a new signed build appears as `hello` + `hello.minisig`
#                        (molt sign); hello polls it and upgrades itself with no dropped connection.
# To keep the high-water mark across container re-creation, add `--state-dir` on a volume.
# SIGTERM (docker stop) drains the child and exits.
ENTRYPOINT ["/opt/hello/hello"]
CMD ["--listen", "0.0.0.0:8080", "--source", "/opt/hello/drop/hello", "--pubkey", "/opt/hello/molt.pub"]
