#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Builds the libFuzzer harnesses of tests/fuzz/ into build-fuzz/.
#
#   tests/fuzz/build.sh            # then: tests/fuzz/run.sh [SECONDS]
#
# build-fuzz/ is a separate meson build with clang, ASan+UBSan and
# -fsanitize=fuzzer-no-link on every library, so that libFuzzer is guided by
# the coverage of the code under test, not only of the harness. When the
# project has a `fuzz` meson option, meson builds the harnesses
# (tests/fuzz/meson.build); until then this script compiles each harness
# with `clang -fsanitize=fuzzer,address,undefined` and links the static
# libraries meson built (libservice.a, libhandlers.a, libhttp.a, liborm.a,
# libbase.a)
# and their pkg-config libraries.
#
# Needs clang and libFuzzer's runtime: Debian's clang and libclang-rt-14-dev
# (installed here with apt-get when missing and we are root).
#
# Environment:
#   USERSVC_FUZZ_BUILD_DIR   build directory (default build-fuzz/ at the repo root)
#   CC                       the clang to use (default: clang)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${USERSVC_FUZZ_BUILD_DIR:-$ROOT/build-fuzz}
CLANG=${CC:-clang}
FUZZERS=(fuzz_body fuzz_router fuzz_url fuzz_head fuzz_jwt fuzz_jsonw)
# Sanitizers of the harness link; the libraries get the same from b_sanitize.
SAN=-fsanitize=address,undefined
# libFuzzer must see a UBSan finding as a crash, whatever UBSAN_OPTIONS says.
NO_RECOVER=-fno-sanitize-recover=undefined

say() { printf 'fuzz-build: %s\n' "$*"; }

# libFuzzer's runtime (libclang_rt.fuzzer) comes with libclang-rt-14-dev.
have_libfuzzer() {
    command -v "$CLANG" >/dev/null 2>&1 || return 1
    echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }' |
        "$CLANG" -x c -fsanitize=fuzzer - -o /dev/null >/dev/null 2>&1
}

if ! have_libfuzzer; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        say "installing clang and libclang-rt-14-dev (libFuzzer)"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >/dev/null
        apt-get install -y -qq --no-install-recommends clang libclang-rt-14-dev >/dev/null
    fi
    have_libfuzzer || { say "needs clang with libFuzzer (apt-get install clang libclang-rt-14-dev)"; exit 2; }
fi

has_fuzz_option() {
    grep -Eq "^[[:space:]]*option\([[:space:]]*'fuzz'" "$ROOT/meson_options.txt"
}

LIB_ARGS="['-fsanitize=fuzzer-no-link', '$NO_RECOVER']"
if [ ! -f "$BUILD/build.ninja" ]; then
    say "configuring $BUILD"
    opts=('-Db_sanitize=address,undefined' -Db_lundef=false -Dtests=false
          -Dbuildtype=debugoptimized "-Dc_args=$LIB_ARGS")
    has_fuzz_option && opts+=(-Dfuzz=true)
    setup_log=$(mktemp)
    CC=$CLANG meson setup "$BUILD" "$ROOT" "${opts[@]}" >"$setup_log" 2>&1 \
        || { cat "$setup_log"; rm -f "$setup_log"; exit 1; }
    rm -f "$setup_log"
elif has_fuzz_option && ! meson configure "$BUILD" 2>/dev/null | grep -Eq '^ *fuzz +true'; then
    meson configure "$BUILD" -Dfuzz=true >/dev/null
fi
# The C compiler rule names the compiler meson was configured with.
grep -A1 '^rule c_COMPILER' "$BUILD/build.ninja" | grep -q clang \
    || { say "$BUILD was not configured with clang; remove it and run again"; exit 1; }

say "compiling $BUILD"
ninja -C "$BUILD" >/dev/null || ninja -C "$BUILD"

if has_fuzz_option && [ -x "$BUILD/tests/fuzz/fuzz_body" ]; then
    for f in "${FUZZERS[@]}"; do
        ln -sf "tests/fuzz/$f" "$BUILD/$f"
    done
    say "built ${FUZZERS[*]} (meson) in $BUILD"
    exit 0
fi

# The static libraries, in link order: service (config, /metrics) needs the
# handlers, the handlers need http (http_req_*) and orm, everything needs
# base. A group resolves any cycle.
libs=()
for name in service/libservice.a handlers/libhandlers.a http/libhttp.a orm/liborm.a auth/libauth.a \
            base/libbase.a; do
    [ -f "$BUILD/$name" ] || { say "missing $BUILD/$name"; exit 1; }
    libs+=("$BUILD/$name")
done
pkgs=()
for p in jansson sqlite3 libpq libmariadb libmicrohttpd gnutls; do
    pkg-config --exists "$p" && pkgs+=("$p")
done
# shellcheck disable=SC2207
cflags=($(pkg-config --cflags "${pkgs[@]}"))
# shellcheck disable=SC2207
ldlibs=($(pkg-config --libs "${pkgs[@]}"))

# The project's warnings (meson.build), so both build paths agree.
WARN=(-Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wmissing-declarations
      -Wpointer-arith -Wcast-qual -Wformat=2 -Wundef -Wvla -Wno-unused-parameter)
for f in "${FUZZERS[@]}"; do
    src=$ROOT/tests/fuzz/$f.c
    out=$BUILD/$f
    # Rebuild when the harness or any library is newer than the binary.
    if [ -x "$out" ] && [ "$out" -nt "$src" ] &&
        ! find "${libs[@]}" -newer "$out" | grep -q .; then
        continue
    fi
    "$CLANG" -std=c11 -D_POSIX_C_SOURCE=200809L -g -O1 "${WARN[@]}" \
        -fsanitize=fuzzer $SAN $NO_RECOVER -I"$ROOT" "${cflags[@]}" \
        "$src" -o "$out" \
        -Wl,--start-group "${libs[@]}" -Wl,--end-group "${ldlibs[@]}" -lpthread
done
say "built ${FUZZERS[*]} in $BUILD"
