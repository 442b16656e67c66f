#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Runs the end-to-end suite (every test meson registers in suite 'e2e') outside
# `meson test`, so that the caller can replace the binary the tests start:
# the e2e tests' own meson env sets USERSVC_BIN, and meson gives a test's env
# precedence over the caller's. Used by tests/container/run.sh (USERSVC_BIN =
# a wrapper that runs the binary inside the container image) and by
# tests/openapi/run.sh (recording every response).
#
#   run_e2e.sh LABEL
#
# Environment:
#   USERSVC_BUILD_DIR   the meson build directory (required)
#   E2E_BIN             replaces each test's USERSVC_BIN (default: keep meson's)
#   E2E_JOBS            tests at once (default 4; they mostly wait on the network)
#   E2E_LOG_DIR         where each test's output goes (default: a temp dir)
#   anything else (USERSVC_TEST_BACKEND, USERSVC_TEST_PG_URL, TMPDIR, ...) is
#   passed to the tests as it is.
#
# Prints one TAP line per e2e test ("ok N - LABEL/NAME", skips as "# SKIP"),
# the tail of a failed test's output as diagnostics, then
# "# LABEL: P passed, F failed, S skipped in T s". Exits 0 iff none failed.
set -uo pipefail

label=${1:-e2e}
BUILD=${USERSVC_BUILD_DIR:?USERSVC_BUILD_DIR must name the meson build directory}
JOBS=${E2E_JOBS:-4}
LOG_DIR=${E2E_LOG_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/usersvc-e2e-logs.XXXXXX")}
mkdir -p "$LOG_DIR"

list=$LOG_DIR/tests.json
meson introspect --tests "$BUILD" \
    | jq -c '[.[] | select(any(.suite[]; . == "e2e" or endswith(":e2e")))
              | {name, cmd, env, timeout}] | .[]' >"$list" \
    || { echo "not ok 1 - $label: meson introspect --tests $BUILD"; exit 1; }
total=$(wc -l <"$list")
if [ "$total" -eq 0 ]; then
    echo "not ok 1 - $label: no e2e tests registered in $BUILD"
    exit 1
fi

# run_one JSON: runs one test (its cmd, env and timeout as meson has them),
# output to LOG_DIR/NAME.log, status to LOG_DIR/NAME.rc.
run_one() {
    local t=$1 name timeout rc
    local -a cmd envs
    name=$(jq -r .name <<<"$t")
    timeout=$(jq -r '.timeout // 180' <<<"$t")
    mapfile -t cmd < <(jq -r '.cmd[]' <<<"$t")
    mapfile -t envs < <(jq -r '.env // {} | to_entries[] | "\(.key)=\(.value)"' <<<"$t")
    if [ -n "${E2E_BIN:-}" ]; then
        envs+=("USERSVC_BIN=$E2E_BIN")
    fi
    (cd "$BUILD" && env "${envs[@]}" timeout -k 10 "$timeout" "${cmd[@]}") \
        >"$LOG_DIR/$name.log" 2>&1 </dev/null
    rc=$?
    echo "$rc" >"$LOG_DIR/$name.rc"
}
export -f run_one
export BUILD LOG_DIR E2E_BIN

start=$(date +%s)
tr '\n' '\0' <"$list" | xargs -0 -n 1 -P "$JOBS" bash -c 'run_one "$1"' _

n=0 passed=0 failed=0 skipped=0
while IFS= read -r t; do
    name=$(jq -r .name <<<"$t")
    rc=$(cat "$LOG_DIR/$name.rc" 2>/dev/null || echo 99)
    n=$((n + 1))
    case "$rc" in
        0)
            passed=$((passed + 1))
            echo "ok - $label/$name"
            ;;
        77)
            skipped=$((skipped + 1))
            echo "ok - $label/$name # SKIP $(grep -m1 -o 'SKIP.*' "$LOG_DIR/$name.log" \
                | sed 's/^SKIP *//')"
            ;;
        *)
            failed=$((failed + 1))
            echo "not ok - $label/$name (exit $rc; log $LOG_DIR/$name.log)"
            { grep -E '^not ok|^Bail out' "$LOG_DIR/$name.log" | head -n 15
              echo "[...]"
              tail -n 25 "$LOG_DIR/$name.log"; } | sed 's/^/#   /'
            ;;
    esac
done <"$list"
echo "# $label: $passed passed, $failed failed, $skipped skipped in $(( $(date +%s) - start )) s"
[ "$failed" -eq 0 ]
