# shellcheck shell=bash disable=SC2034  # the lists are used by the sourcing scripts
# scripts/lib/packages.sh - the Debian (bookworm) packages stepflow needs, in
# one place, and install_missing to install the ones that are missing.
# Sourced by scripts/build, scripts/run, scripts/test, scripts/bench,
# scripts/scale-test and deploy/Dockerfile
# (whose runtime stage installs RUNTIME_PACKAGES).  Bash only (arrays).

# Compiling: a C toolchain, cmake, pkg-config and the -dev packages of every
# library the top CMakeLists.txt looks up with pkg_check_modules.
BUILD_PACKAGES=(build-essential cmake pkg-config
                libhiredis-dev libevent-dev libmsgpack-dev libcurl4-openssl-dev
                libssl-dev libjansson-dev libjemalloc-dev)

# Running the binaries: the packages of the shared libraries they link
# (readelf -d: NEEDED; dpkg -S maps each to its package).  libc6 and
# libstdc++6/libgcc-s1 (through libjemalloc2) come with every Debian system.
# tests/deploy/dockerfile.test.mjs checks this list against ldd.
RUNTIME_PACKAGES=(libhiredis0.14      # libhiredis.so.0.14
                  libevent-2.1-7      # libevent-2.1.so.7
                  libmsgpackc2        # libmsgpackc.so.2
                  libcurl4            # libcurl.so.4 (OpenSSL flavour)
                  libjansson4         # libjansson.so.4
                  libssl3             # libcrypto.so.3
                  libjemalloc2)       # libjemalloc.so.2

# scripts/run: a local Redis, curl for the readiness wait, openssl for the
# token, Node.js for the example workflow app it suggests.
RUN_PACKAGES=(redis-server curl openssl nodejs npm)

# scripts/bench and scripts/scale-test: Redis, the nginx sink, Node.js for
# the drivers, curl.
BENCH_PACKAGES=(redis-server nginx-light nodejs npm curl)

# scripts/test: Redis and Node.js for the suites, chromium for the
# dashboard's browser test, prometheus for promtool, kubectl (Debian's
# kubernetes-client) for the deploy suite's kustomize renders.
TEST_PACKAGES=(redis-server curl openssl nodejs npm chromium prometheus
               kubernetes-client)

# A package counts as present when dpkg has it installed, or, for these,
# when the command it provides is already on PATH from elsewhere (nodesource,
# nvm, an upstream kubectl package that would conflict with Debian's).
declare -A SF_PACKAGE_COMMAND=([nodejs]=node [npm]=npm [kubernetes-client]=kubectl)

# install_missing PACKAGE...: apt-get install the packages that are not
# installed (sudo when not root; non-interactive; no recommends).  Prints
# what it does on stderr.
install_missing() {
    local missing=() p cmd seen=" "
    for p in "$@"; do
        [[ $seen == *" $p "* ]] && continue
        seen+="$p "
        cmd="${SF_PACKAGE_COMMAND[$p]:-}"
        if [[ -n $cmd ]] && command -v "$cmd" >/dev/null 2>&1; then continue; fi
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$p")
    done
    if ((${#missing[@]} == 0)); then
        printf '==> system packages: all present\n' >&2
        return 0
    fi
    printf '==> installing: %s\n' "${missing[*]}" >&2
    local sudo=()
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null 2>&1 ||
            { printf 'install_missing: not root and no sudo; install: %s\n' "${missing[*]}" >&2; return 1; }
        sudo=(sudo)
    fi
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends "${missing[@]}"
}
