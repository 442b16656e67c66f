#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Runs every libFuzzer harness of tests/fuzz/ for a bounded time.
#
#   tests/fuzz/run.sh [SECONDS] [FUZZER...]    # default: 60 s each, all three
#
# Builds first (tests/fuzz/build.sh; quick when nothing changed). Each
# fuzzer starts from a copy of its seed corpus, tests/fuzz/corpus/NAME/, in
# a temporary directory: the repository's corpus never grows. Prints one
# `ok`/`not ok` line per fuzzer and exits non-zero on any crash, leak,
# sanitizer report or timeout; the reproducer (crash-*, leak-*, timeout-*,
# oom-*) is copied to build-fuzz/artifacts/ and its replay command printed.
#
# Environment:
#   USERSVC_FUZZ_BUILD_DIR   build directory (default build-fuzz/ at the repo root)
#   USERSVC_FUZZ_JOBS        fuzzers run at once (default 1; each uses one core)
#   USERSVC_FUZZ_KEEP=1      keep the temporary directory (grown corpora, logs)
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${USERSVC_FUZZ_BUILD_DIR:-$ROOT/build-fuzz}
SECONDS_EACH=${1:-60}
shift $(($# > 0 ? 1 : 0))
FUZZERS=("$@")
[ ${#FUZZERS[@]} -gt 0 ] || FUZZERS=(fuzz_body fuzz_router fuzz_url fuzz_head fuzz_jwt fuzz_jsonw)
ARTIFACTS=$BUILD/artifacts

case "$SECONDS_EACH" in
    '' | *[!0-9]*) echo "usage: $0 [SECONDS] [FUZZER...]" >&2; exit 2 ;;
esac

USERSVC_FUZZ_BUILD_DIR=$BUILD "$ROOT/tests/fuzz/build.sh" || { echo "not ok - fuzz build"; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/usersvc-fuzz.XXXXXX") || exit 1
cleanup() {
    if [ "${USERSVC_FUZZ_KEEP:-}" = 1 ]; then
        echo "# kept $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

# Sanitizer reports are findings: stop at the first, with a stack. Leaks are
# checked after every input (-detect_leaks=1, libFuzzer's default with ASan).
export ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1:detect_leaks=1:allocator_may_return_null=1
export UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1

# Inputs as large as the service accepts (MAX_BODY_BYTES' default) for the
# body; tokens a little past their 8 KiB limit; router and URL inputs are
# short lines.
max_len() {
    case "$1" in
        fuzz_body) echo 65536 ;;
        fuzz_jwt) echo 12288 ;;   # tokens up to JWT_MAX_TOKEN (8 KiB) and beyond
        *) echo 4096 ;;
    esac
}

run_one() {
    local name=$1 dir=$WORK/$1 rc
    mkdir -p "$dir/corpus" "$dir/artifacts"
    cp "$ROOT/tests/fuzz/corpus/$name/"* "$dir/corpus/" 2>/dev/null
    (
        cd "$dir" || exit 1
        "$BUILD/$name" -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -timeout=10 \
            -max_len="$(max_len "$name")" -print_final_stats=1 \
            -artifact_prefix="$dir/artifacts/" corpus >"$dir/log" 2>&1
    )
    rc=$?
    echo "$rc" >"$dir/rc"
}

pids=()
jobs_max=${USERSVC_FUZZ_JOBS:-1}
for name in "${FUZZERS[@]}"; do
    [ -x "$BUILD/$name" ] || { echo "not ok - $name: not built"; exit 1; }
    run_one "$name" &
    pids+=($!)
    while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do
        wait -n
    done
done
wait

failed=0
passed=0
for name in "${FUZZERS[@]}"; do
    dir=$WORK/$name
    rc=$(cat "$dir/rc" 2>/dev/null || echo 99)
    runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$dir/log" | grep -Eo '[0-9]+$')
    cov=$(grep -Eo '^#[0-9]+[[:space:]]+DONE +cov: [0-9]+ ft: [0-9]+' "$dir/log" | tail -n 1 |
          sed 's/.*cov: //; s/ ft: / edges, /')
    found=$(ls "$dir/artifacts" 2>/dev/null)
    if [ "$rc" = 0 ] && [ -z "$found" ]; then
        passed=$((passed + 1))
        echo "ok - $name: ${runs:-?} runs in ${SECONDS_EACH}s, coverage ${cov:-?} features"
    else
        failed=$((failed + 1))
        echo "not ok - $name: exit $rc after ${runs:-?} runs"
        # The first report: what the harness or a sanitizer said, with its stack.
        grep -E -m 1 -A 30 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|check failed|password shown' \
            "$dir/log" | grep -Ev 'in fuzzer::|libc_start|in _start ' | sed 's/^/#   /' |
            head -n 40
        mkdir -p "$ARTIFACTS"
        for f in $found; do
            cp "$dir/artifacts/$f" "$ARTIFACTS/$name-$f"
            echo "#   reproducer: $BUILD/$name $ARTIFACTS/$name-$f"
        done
    fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" = 0 ]
