#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Runs every test: the one command of the README and of CI.
#
#   scripts/test.sh
#
# 1. installs missing test dependencies (scripts/install-deps.sh test),
# 2. configures and compiles build/ (meson),
# 3. starts throwaway PostgreSQL and MariaDB servers (tests/db/*.sh), stopped
#    again by a trap whatever happens,
# 4. runs each suite: unit once, e2e once per backend (sqlite, postgres, mysql),
#    then every other meson suite once (e.g. postgres-specific tests),
# 5. prints a per-run summary and, as its very last line, "N passed, N failed".
#    Exit status 0 iff nothing failed.
#
# Environment:
#   USERSVC_BACKENDS     backends for the e2e suite (default "sqlite postgres mysql")
#   USERSVC_SUITES       suites to run (default "unit e2e fault others release
#                        bench sanitize fuzz"); each is a
#                        suite_NAME function; "others" runs every further meson suite
#   USERSVC_BUILD_DIR    build directory (default build/ at the repo root)
#   USERSVC_MESON_ARGS   extra `meson setup` arguments (default -Dwerror=true: CI's
#                        build must be warning-free; set it empty to build without,
#                        or add -Dbuildtype=release to run everything with NDEBUG)
#   USERSVC_TEST_JOBS    tests run at once per meson test run (default 4: e2e
#                        tests mostly wait on the network)
#   USERSVC_SKIP_DEPS=1  do not run install-deps.sh
#
# While the suites run, USERSVC_TEST_PG_URL and USERSVC_TEST_MYSQL_URL hold
# admin URLs of the throwaway servers (unit tests may use them too).
#
# A new meson suite runs by itself (suite_others). For special handling,
# write a suite_NAME function that calls run_meson_suite once per run, add NAME
# to USERSVC_SUITES' default and to SKIP_OTHERS.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${USERSVC_BUILD_DIR:-$ROOT/build}
# Warnings are bugs: CI (.ci/run runs this script) builds with -Werror.
USERSVC_MESON_ARGS=${USERSVC_MESON_ARGS--Dwerror=true}
BACKENDS=${USERSVC_BACKENDS:-sqlite postgres mysql}
SUITES=${USERSVC_SUITES:-unit e2e fault others release bench sanitize fuzz}
JOBS=${USERSVC_TEST_JOBS:-4}

TOTAL_PASSED=0
TOTAL_FAILED=0
SUMMARY=()
STATE_DIR=
PG_STARTED=0
MYSQL_STARTED=0

log() { printf '\n=== %s\n' "$*"; }

finish() {
    local rc=$?
    trap - EXIT INT TERM
    stop_databases
    log "summary"
    local line
    for line in "${SUMMARY[@]}"; do
        printf '  %s\n' "$line"
    done
    # The very last line, read by CI.
    echo "$TOTAL_PASSED passed, $TOTAL_FAILED failed"
    if [ "$TOTAL_FAILED" -gt 0 ]; then
        exit 1
    fi
    [ "$rc" -eq 0 ] || exit "$rc"
    exit 0
}
trap finish EXIT
trap 'echo "interrupted" >&2; TOTAL_FAILED=$((TOTAL_FAILED + 1)); exit 130' INT TERM

# record NAME PASSED FAILED SKIPPED [NOTE]: adds one run to the totals.
record() {
    TOTAL_PASSED=$((TOTAL_PASSED + $2))
    TOTAL_FAILED=$((TOTAL_FAILED + $3))
    SUMMARY+=("$(printf '%-16s %4d passed %4d failed %4d skipped  %s' "$1" "$2" "$3" "$4" "${5:-}")")
}

# ---------------------------------------------------------------------------
# Build

build() {
    if [ "${USERSVC_SKIP_DEPS:-}" != 1 ]; then
        log "dependencies"
        "$ROOT/scripts/install-deps.sh" test || { record deps 0 1 0 "install-deps.sh failed"; return 1; }
    fi
    log "configure $BUILD"
    # shellcheck disable=SC2086
    if [ -f "$BUILD/meson-private/coredata.dat" ]; then
        meson setup --reconfigure "$BUILD" "$ROOT" ${USERSVC_MESON_ARGS:-} \
            || meson setup --wipe "$BUILD" "$ROOT" ${USERSVC_MESON_ARGS:-} \
            || { record configure 0 1 0 "meson setup failed"; return 1; }
    else
        meson setup "$BUILD" "$ROOT" ${USERSVC_MESON_ARGS:-} \
            || { record configure 0 1 0 "meson setup failed"; return 1; }
    fi
    log "compile"
    meson compile -C "$BUILD" || { record compile 0 1 0 "meson compile failed"; return 1; }
}

# ---------------------------------------------------------------------------
# Databases

needs_backend() {
    case " $BACKENDS " in *" $1 "*) return 0 ;; esac
    return 1
}

start_databases() {
    STATE_DIR=$(mktemp -d "${TMPDIR:-/tmp}/usersvc-test-state.XXXXXX")
    chmod 755 "$STATE_DIR"
    export USERSVC_TEST_STATE=$STATE_DIR
    if needs_backend postgres; then
        log "start PostgreSQL"
        if "$ROOT/tests/db/pg.sh" start; then
            PG_STARTED=1
            USERSVC_TEST_PG_URL=$("$ROOT/tests/db/pg.sh" url)
            export USERSVC_TEST_PG_URL
        else
            record e2e/postgres 0 1 0 "PostgreSQL did not start"
        fi
    fi
    if needs_backend mysql; then
        log "start MariaDB"
        if "$ROOT/tests/db/mariadb.sh" start; then
            MYSQL_STARTED=1
            USERSVC_TEST_MYSQL_URL=$("$ROOT/tests/db/mariadb.sh" url)
            export USERSVC_TEST_MYSQL_URL
        else
            record e2e/mysql 0 1 0 "MariaDB did not start"
        fi
    fi
}

stop_databases() {
    [ -n "$STATE_DIR" ] || return 0
    export USERSVC_TEST_STATE=$STATE_DIR
    [ "$PG_STARTED" = 1 ] && { "$ROOT/tests/db/pg.sh" stop || true; }
    [ "$MYSQL_STARTED" = 1 ] && { "$ROOT/tests/db/mariadb.sh" stop || true; }
    PG_STARTED=0
    MYSQL_STARTED=0
    rm -rf "$STATE_DIR"
    STATE_DIR=
}

# ---------------------------------------------------------------------------
# Running meson suites

# Shows what failed in a meson test run (from its testlog JSON): a short
# output whole, a long one as its `not ok` lines with their diagnostics plus
# its last lines.
show_failures() {
    local json=$1 sel n i out
    [ -f "$json" ] || return 0
    sel='[.[] | select(.result == "FAIL" or .result == "TIMEOUT" or .result == "INTERRUPT"
                      or .result == "UNEXPECTEDPASS" or .result == "ERROR")]'
    n=$(jq -s "$sel | length" "$json" 2>/dev/null) || return 0
    out=$(mktemp)
    for ((i = 0; i < n; i++)); do
        jq -s -r --argjson i "$i" "$sel[\$i] | \"--- \\(.name): \\(.result)\"" "$json"
        jq -s -r --argjson i "$i" "$sel[\$i] | (.stdout // \"\") + (.stderr // \"\")" "$json" >"$out"
        if [ "$(wc -l <"$out")" -le 60 ]; then
            sed 's/^/    /' "$out"
        else
            # TAP `not ok` with its diagnostics; cmocka's FAILED/ERROR/LINE lines.
            awk '/^not ok/ { p = 10 }
                 /^\[  (FAILED|ERROR) *\]|^\[   LINE   \]/ { p = p > 1 ? p : 1 }
                 p > 0 { print "    " $0; p-- }' "$out" | head -n 60
            echo "    [...]"
            tail -n 8 "$out" | sed 's/^/    /'
        fi
    done
    rm -f "$out"
}

# run_meson_suite RUN_NAME SUITE LOGBASE [VAR=VALUE...]: runs one meson test
# run and records its counts. Fail, Timeout and Unexpected Pass count as failed.
run_meson_suite() {
    local name=$1 suite=$2 logbase=$3 out rc ok fail xfail xpass skip tmo
    shift 3
    log "$name: meson test --suite $suite"
    out=$(mktemp)
    rm -f "$BUILD/meson-logs/$logbase.json"
    env "$@" meson test -C "$BUILD" --no-rebuild --suite "$suite" --logbase "$logbase" \
        --num-processes "$JOBS" 2>&1 | tee "$out"
    rc=${PIPESTATUS[0]}
    count() { awk -v k="$1" 'index($0, k) == 1 { n = $NF } END { print n + 0 }' "$out"; }
    ok=$(count 'Ok:')
    xfail=$(count 'Expected Fail:')
    fail=$(count 'Fail:')
    xpass=$(count 'Unexpected Pass:')
    skip=$(count 'Skipped:')
    tmo=$(count 'Timeout:')
    rm -f "$out"
    fail=$((fail + xpass + tmo))
    if [ "$ok" -eq 0 ] && [ "$fail" -eq 0 ] && [ "$skip" -eq 0 ] && [ "$xfail" -eq 0 ]; then
        if [ "$rc" -ne 0 ]; then
            record "$name" 0 1 0 "meson test exited $rc without a summary"
            return
        fi
        record "$name" 0 0 0 "no tests in suite '$suite'"
        return
    fi
    if [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then
        fail=1
    fi
    if [ "$fail" -gt 0 ]; then
        log "$name: failed tests (full log: $BUILD/meson-logs/$logbase.txt)"
        show_failures "$BUILD/meson-logs/$logbase.json"
    fi
    record "$name" "$((ok + xfail))" "$fail" "$skip"
    # Ctrl-C reaches meson (which stops its tests) rather than this script:
    # stop here too instead of going on with the next run.
    if jq -e -s 'any(.[]; .result == "INTERRUPT")' "$BUILD/meson-logs/$logbase.json" \
            >/dev/null 2>&1; then
        echo "interrupted" >&2
        exit 130
    fi
}

suite_unit() {
    run_meson_suite unit unit unit
}

# per_backend SUITE: one meson run of SUITE per backend in $BACKENDS whose
# server is up, with USERSVC_TEST_BACKEND set (each script skips what does
# not apply to its backend).
per_backend() {
    local suite=$1 b
    for b in $BACKENDS; do
        case "$b" in
            sqlite) ;;
            postgres) [ "$PG_STARTED" = 1 ] || continue ;;
            mysql) [ "$MYSQL_STARTED" = 1 ] || continue ;;
            *) record "$suite/$b" 0 1 0 "unknown backend '$b'"; continue ;;
        esac
        run_meson_suite "$suite/$b" "$suite" "$suite-$b" USERSVC_TEST_BACKEND="$b"
    done
}

suite_e2e() {
    per_backend e2e
}

# The fault-injection suite, once per backend like e2e.
suite_fault() {
    per_backend fault
}

# run_script NAME CMD...: runs a script whose last line is
# "[word:] N passed, N failed" and adds those counts.
run_script() {
    local name=$1 out rc line passed failed
    shift
    log "$name: $*"
    out=$(mktemp)
    "$@" 2>&1 | tee "$out"
    rc=${PIPESTATUS[0]}
    line=$(grep -E '([A-Za-z0-9_-]+: )?[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
    rm -f "$out"
    if [ -z "$line" ]; then
        record "$name" 0 1 0 "no 'N passed, N failed' line (exit $rc)"
        return
    fi
    passed=$(sed -E 's/^(.*[^0-9])?([0-9]+) passed, ([0-9]+) failed.*/\2/' <<<"$line")
    failed=$(sed -E 's/^(.*[^0-9])?([0-9]+) passed, ([0-9]+) failed.*/\3/' <<<"$line")
    if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
        failed=1
    fi
    record "$name" "$passed" "$failed" 0
}

# Sanitizer builds (ASan+UBSan, TSan) of the unit and SQLite e2e suites, a
# valgrind run, and each fuzzer for a bounded time (USERSVC_FUZZ_SECONDS).
suite_sanitize() {
    run_script sanitize/asan "$ROOT/scripts/sanitize.sh" asan
    run_script sanitize/tsan "$ROOT/scripts/sanitize.sh" tsan
    run_script valgrind "$ROOT/scripts/valgrind.sh"
}

# The benchmark's smoke mode (bench/run.sh --short): short load steps on every
# backend against the servers already running; fails only on errors (non-2xx,
# crashes), never on timings.
suite_bench() {
    if "$ROOT/bench/run.sh" --short --binary "$BUILD/usersvc" --backends "$BACKENDS" \
            ${USERSVC_TEST_PG_URL:+--pg-url "$USERSVC_TEST_PG_URL"} \
            ${USERSVC_TEST_MYSQL_URL:+--mysql-url "$USERSVC_TEST_MYSQL_URL"}; then
        record bench/smoke 1 0 0
    else
        record bench/smoke 0 1 0 "bench/run.sh --short found errors (see above)"
    fi
}

# A release build (NDEBUG, -O2 -Dwerror) of the tests that push a model's
# limits: the many- and wide-model ORM tests on every backend and the second
# resource served by the same handlers (suites "models", "models-e2e"), so no
# assert() can stand in for a check a user can reach.
suite_release() {
    local BUILD="$BUILD-release" b
    log "release: meson setup $BUILD --buildtype=release"
    if ! { [ -f "$BUILD/build.ninja" ] ||
           meson setup "$BUILD" "$ROOT" -Dwerror=true -Dbuildtype=release >/dev/null; } ||
       ! meson compile -C "$BUILD" test_orm_models usersvc-testapp >/dev/null; then
        record release 0 1 0 "the release build failed"
        return
    fi
    run_meson_suite release/models models release-models
    for b in $BACKENDS; do
        case "$b" in
            postgres) [ "$PG_STARTED" = 1 ] || continue ;;
            mysql) [ "$MYSQL_STARTED" = 1 ] || continue ;;
        esac
        run_meson_suite "release/resource/$b" models-e2e "release-resource-$b" \
            USERSVC_TEST_BACKEND="$b"
    done
}

suite_fuzz() {
    run_script fuzz "$ROOT/tests/fuzz/run.sh" "${USERSVC_FUZZ_SECONDS:-30}"
}

# Every other suite the build defines (e.g. backend-specific tests), once
# each, with both database URLs in the environment. A suite that needs
# something else gets its own suite_NAME function and is listed in SKIP_OTHERS.
SKIP_OTHERS="unit e2e fault models models-e2e"
suite_others() {
    local s
    for s in $(meson introspect --tests "$BUILD" 2>/dev/null \
               | jq -r '[.[].suite[] | sub("^[^:]*:"; "")] | unique | .[]'); do
        case " $SKIP_OTHERS " in *" $s "*) continue ;; esac
        run_meson_suite "$s" "$s" "suite-$s"
    done
}

# ---------------------------------------------------------------------------

cd "$ROOT" || exit 1
build || exit 1
start_databases
for s in $SUITES; do
    if declare -F "suite_$s" >/dev/null; then
        "suite_$s"
    else
        record "$s" 0 1 0 "no function suite_$s in scripts/test.sh"
    fi
done
