#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Installs the Debian packages usersvc needs, only those that are missing.
#
#   scripts/install-deps.sh build   compiler, meson, the libraries' -dev packages
#   scripts/install-deps.sh test    build + what the tests use (cmocka, curl, jq,
#                                   sqlite3, PostgreSQL and MariaDB servers/clients)
#
# Uses apt-get (through sudo when not root). Safe to run repeatedly: when
# everything is installed it does not touch apt at all.
set -euo pipefail

mode=${1:-build}

# libgnutls28-dev: the headers of GnuTLS, libmicrohttpd's TLS engine (http/tls.c).
build_pkgs=(meson ninja-build pkg-config gcc libc6-dev libmicrohttpd-dev libjansson-dev
            libsqlite3-dev libpq-dev libmariadb-dev libgnutls28-dev python3)
# The e2e scripts use bash, curl, jq, coreutils (timeout, od, sha256sum),
# util-linux (runuser) and passwd (useradd) for the throwaway PostgreSQL user.
# libgnutls28-dev: JWT signatures and token hashes (auth/), also MHD's TLS.
test_pkgs=(libcmocka-dev curl jq sqlite3 postgresql postgresql-client mariadb-server
           mariadb-client util-linux passwd procps haproxy postgresql-15-auto-failover
           buildah debootstrap nodejs $(command -v npm >/dev/null || echo npm)  # container, openapi
           python3-jwt python3-cryptography  # independent JWT minting (tests/auth/mint.py)
           openssl testssl.sh  # tls: certificates, s_client, the testssl.sh scanner
           pgbouncer  # tests/lib/pgbouncer.sh: usersvc behind a pooler (pg, ha suites)
           galera-4 rsync  # tests/lib/galera.sh: a MariaDB Galera cluster, SST by rsync (ha)
           wrk sysbench time gnuplot-nox)  # bench suite: load, MariaDB limit, CPU time, the plot

case "$mode" in
    build) want=("${build_pkgs[@]}") ;;
    test|all) want=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
    *) echo "usage: $0 build|test" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all ${#want[@]} packages for '$mode' are installed"
    exit 0
fi

SUDO=
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "install-deps: need root or sudo for: ${missing[*]}" >&2; exit 1; }
    SUDO=sudo
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
