#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Runs the unit tests, the SQLite end-to-end suite and the TLS suite under
# sanitizers.
#
#   scripts/sanitize.sh asan    # AddressSanitizer + UndefinedBehaviorSanitizer, build-asan/
#   scripts/sanitize.sh tsan    # ThreadSanitizer, build-tsan/
#
# Configures (once) and compiles a build directory of its own with
# -Db_sanitize=... -Db_lundef=false, then runs `meson test --suite unit`,
# `meson test --suite e2e` and `--suite tls` with USERSVC_TEST_BACKEND=sqlite. The usersvc
# processes the e2e tests start inherit the sanitizer options below, which
# make the first report fatal (the server dies, the test notices). On top of
# that, every test's output and every log the e2e tests kept (server stderr,
# CLI output) is searched for sanitizer reports: a test with one fails
# whatever its own verdict. Prints meson's summaries, each report found, and
# as its last line "sanitize-KIND: N passed, N failed". Exit status 0 iff
# nothing failed.
#
# Compilers: asan uses gcc (cc), tsan uses clang. gcc 12's libtsan keeps
# ~770 KiB of per-thread state in static TLS, which glibc carves out of each
# thread's stack; TSan then leaves a 256 KiB connection thread (the default
# THREAD_STACK_KB) only 128 KiB of stack, and jansson's recursive parser
# overflows it on a deeply nested body (users_create_deep_nesting dies with
# SIGSEGV). clang's TSan runtime needs 2 KiB of TLS.
#
# Environment:
#   USERSVC_SANITIZE_CC     compiler to use instead of the default above
#   USERSVC_TEST_JOBS       e2e tests run at once (default 4)
#   USERSVC_SANITIZE_KEEP=1 keep the e2e tests' temporary directories
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
KIND=${1:-}
JOBS=${USERSVC_TEST_JOBS:-4}

case "$KIND" in
    asan)
        BUILD=$ROOT/build-asan
        CC_WANT=${USERSVC_SANITIZE_CC:-gcc}
        SETUP=('-Db_sanitize=address,undefined' -Db_lundef=false)
        ;;
    tsan)
        BUILD=$ROOT/build-tsan
        CC_WANT=${USERSVC_SANITIZE_CC:-clang}
        SETUP=(-Db_sanitize=thread -Db_lundef=false)
        ;;
    *)
        echo "usage: $0 asan|tsan" >&2
        exit 2
        ;;
esac

# First report is fatal, with a stack. abort_on_error makes the process die
# by SIGABRT (a crash for meson and for the e2e scripts, not an exit code a
# test might expect). LeakSanitizer runs at every exit of an ASan process.
export ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1:detect_leaks=1
export UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1
# No suppressions: the run is clean without them. Should a third-party
# library's internals ever need one, add "suppressions=FILE" here and a
# comment per line in FILE saying why it is not our bug.
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1"
export USERSVC_TEST_BACKEND=sqlite
# The e2e tests keep their temporary directories (server logs) in ours.
export USERSVC_TEST_KEEP=1

WORK=$(mktemp -d "${TMPDIR:-/tmp}/usersvc-$KIND.XXXXXX") || exit 1
export TMPDIR=$WORK
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
    if [ "${USERSVC_SANITIZE_KEEP:-}" = 1 ]; then
        echo "# kept $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

PASSED=0
FAILED=0
SKIPPED=0

log() { printf '\n=== %s\n' "$*"; }

finish() {
    local extra=
    [ "$SKIPPED" -gt 0 ] && extra=", $SKIPPED skipped"
    echo "sanitize-$KIND: $PASSED passed, $FAILED failed$extra"
    # An explicit status: a bare `exit` in an EXIT trap keeps the script's own.
    [ "$FAILED" = 0 ] && exit 0
    exit 1
}

# ---------------------------------------------------------------------------
# Build

compiler_of() {
    grep -A1 '^rule c_COMPILER' "$1/build.ninja" 2>/dev/null | sed -n 's/^ *command = \([^ ]*\).*/\1/p'
}

if [ -f "$BUILD/build.ninja" ] && [ "$(compiler_of "$BUILD")" != "$CC_WANT" ]; then
    log "$BUILD was configured with $(compiler_of "$BUILD"), not $CC_WANT: configuring anew"
    rm -rf "$BUILD"
fi
if [ ! -f "$BUILD/build.ninja" ]; then
    log "configure $BUILD (CC=$CC_WANT ${SETUP[*]})"
    if ! CC=$CC_WANT meson setup "$BUILD" "$ROOT" "${SETUP[@]}" >"$WORK/setup.log" 2>&1; then
        cat "$WORK/setup.log"
        FAILED=$((FAILED + 1))
        finish
    fi
fi
log "compile $BUILD"
if ! ninja -C "$BUILD" >"$WORK/build.log" 2>&1; then
    tail -n 40 "$WORK/build.log"
    FAILED=$((FAILED + 1))
    finish
fi

# ---------------------------------------------------------------------------
# Tests

# Reads meson's testlog-NAME.json: every test's verdict, plus the sanitizer
# reports in its output and in the directory it kept ("# kept DIR").
# Prints "PASSED FAILED SKIPPED" on the last line, a line per finding before.
judge() {
    python3 - "$1" <<'EOF'
import json, os, re, sys

PATTERNS = re.compile(r"ERROR: AddressSanitizer|ERROR: LeakSanitizer|AddressSanitizer:DEADLYSIGNAL"
                      r"|runtime error:|WARNING: ThreadSanitizer|ThreadSanitizer:DEADLYSIGNAL"
                      r"|ERROR: ThreadSanitizer")
passed = failed = skipped = shown = 0
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    t = json.loads(line)
    out = (t.get("stdout") or "") + (t.get("stderr") or "")
    texts = []
    for kept in re.findall(r"^# kept (\S+)$", out, re.M):
        for dirpath, _, files in os.walk(kept):
            for f in files:
                if f.endswith((".log", ".out", ".err")):
                    p = os.path.join(dirpath, f)
                    with open(p, encoding="utf-8", errors="replace") as fh:
                        texts.append((p, fh.read()))
    texts.append(("the test's output", out))   # last: it may only quote a log
    reports = []
    for where, text in texts:
        lines = text.splitlines()
        for i, l in enumerate(lines):
            if PATTERNS.search(l):
                reports.append((where, lines[i:i + 25]))
                break
    name = t["name"]
    if reports:
        failed += 1
        where, excerpt = reports[0]
        print("not ok - %s: sanitizer report in %s (test verdict %s)" % (name, where, t["result"]))
        if shown < 3:   # the first few in full; the rest are usually the same
            shown += 1
            for l in excerpt[:20]:
                print("#     " + l)
    elif t["result"] in ("OK", "EXPECTEDFAIL"):
        passed += 1
    elif t["result"] == "SKIP":
        skipped += 1
    else:
        failed += 1
        print("not ok - %s: %s (no sanitizer report; see %s)" % (name, t["result"], sys.argv[1]))
print(passed, failed, skipped)
EOF
}

run_suite() {
    local suite=$1 logbase=sanitize-$KIND-$1 result p f s
    shift
    log "meson test --suite $suite ($KIND)"
    meson test -C "$BUILD" --suite "$suite" --logbase "$logbase" --no-rebuild \
        --timeout-multiplier 3 "$@" 2>&1 |
        grep -Ev '^(ninja: |$)|^>>> ' | sed 's/^/  /'
    if [ ! -f "$BUILD/meson-logs/$logbase.json" ]; then
        echo "not ok - $suite: meson wrote no test log"
        FAILED=$((FAILED + 1))
        return
    fi
    result=$(judge "$BUILD/meson-logs/$logbase.json")
    printf '%s\n' "$result" | sed '$d'
    read -r p f s <<<"$(printf '%s\n' "$result" | tail -n 1)"
    PASSED=$((PASSED + p))
    FAILED=$((FAILED + f))
    SKIPPED=$((SKIPPED + s))
}

run_suite unit
run_suite e2e --num-processes "$JOBS"
run_suite tls --num-processes "$JOBS"
log "summary ($KIND, $CC_WANT, ${SETUP[*]}; logs in $BUILD/meson-logs/sanitize-$KIND-*.txt)"
finish
