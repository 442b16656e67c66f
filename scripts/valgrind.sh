#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Valgrind memcheck of the real binary and of every unit test.
#
#   scripts/valgrind.sh
#
# 1. configures (once) and compiles build-valgrind/ (a plain debug build:
#    valgrind and sanitizers do not mix);
# 2. runs each unit test binary (`meson test --suite unit`) under valgrind;
# 3. runs a few CLI commands under valgrind (migrate up/status/down, --help,
#    a bad flag, an unsupported DATABASE_URL), then `usersvc serve` on a
#    temporary SQLite database, sends it ~45 requests of every kind with curl
#    (create, read, conditional read, list, patch, delete, 400, 404, 405,
#    409, 412, 413, 415, 422, chunked bodies, deep nesting, Idempotency-Key
#    creates and replays, a concurrent burst), and stops it with SIGTERM.
# A run fails when valgrind reports an error (invalid read/write, use of
# uninitialised memory, bad free...) or a definite or indirect leak
# (--errors-for-leak-kinds=definite,indirect --error-exitcode=99), or when
# the program itself ends unexpectedly. "Possibly lost" and "still
# reachable" blocks are not errors (libraries keep caches until exit).
# Last line: "valgrind: N passed, N failed"; exit status 0 iff nothing failed.
#
# Environment:
#   USERSVC_VALGRIND_KEEP=1   keep the temporary directory (valgrind logs)
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$ROOT/build-valgrind
VG=(valgrind --quiet --leak-check=full '--show-leak-kinds=definite,indirect'
    '--errors-for-leak-kinds=definite,indirect' --error-exitcode=99 --num-callers=30
    --track-fds=no)

PASSED=0
FAILED=0
SERVER_PID=

log() { printf '\n=== %s\n' "$*"; }
ok() { PASSED=$((PASSED + 1)); echo "ok - $*"; }
not_ok() { FAILED=$((FAILED + 1)); echo "not ok - $*"; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/usersvc-valgrind.XXXXXX") || exit 1
finish() {
    trap - EXIT INT TERM
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -KILL "$SERVER_PID" 2>/dev/null
        wait "$SERVER_PID" 2>/dev/null
    fi
    if [ "${USERSVC_VALGRIND_KEEP:-}" = 1 ]; then
        echo "# kept $WORK"
    else
        rm -rf "$WORK"
    fi
    echo "valgrind: $PASSED passed, $FAILED failed"
    # An explicit status: a bare `exit` in an EXIT trap keeps the script's own.
    [ "$FAILED" = 0 ] && exit 0
    exit 1
}
trap finish EXIT
trap 'not_ok "interrupted"; exit 130' INT TERM

command -v valgrind >/dev/null || { not_ok "valgrind is not installed (apt-get install valgrind)"; exit 1; }
command -v curl >/dev/null || { not_ok "curl is not installed"; exit 1; }

# ---------------------------------------------------------------------------
# Build

if [ ! -f "$BUILD/build.ninja" ]; then
    log "configure $BUILD"
    meson setup "$BUILD" "$ROOT" -Dbuildtype=debug >"$WORK/setup.log" 2>&1 \
        || { cat "$WORK/setup.log"; not_ok "meson setup $BUILD"; exit 1; }
fi
log "compile $BUILD"
ninja -C "$BUILD" >"$WORK/build.log" 2>&1 \
    || { tail -n 40 "$WORK/build.log"; not_ok "compile $BUILD"; exit 1; }
BIN=$BUILD/usersvc

# vg_clean NAME LOGFILE...: true when the valgrind logs hold no error;
# otherwise prints the first report.
vg_clean() {
    local name=$1 f bad=0
    shift
    for f in "$@"; do
        [ -f "$f" ] || continue
        if grep -Eq 'ERROR SUMMARY: [1-9]|definitely lost|indirectly lost|Invalid (read|write|free)|uninitialised|Mismatched free|Syscall param' "$f"; then
            bad=1
            echo "#   $name: valgrind says ($f):"
            grep -Ev '^==[0-9]+== *$' "$f" | head -n 40 | sed 's/^/#     /'
            break
        fi
    done
    [ "$bad" = 0 ]
}

# ---------------------------------------------------------------------------
# Unit tests

log "unit tests under valgrind"
rm -f "$BUILD"/meson-logs/valgrind-unit*.json
meson test -C "$BUILD" --suite unit --no-rebuild --logbase valgrind-unit \
    --timeout-multiplier 4 \
    --wrapper "${VG[*]} --log-file=$WORK/unit.%p.log" 2>&1 |
    grep -E '^ *[0-9]+/[0-9]+ ' | sed 's/^/  /'
# meson names the log after the logbase and the wrapper: valgrind-unit-valgrind.json.
python3 - "$BUILD"/meson-logs/valgrind-unit*.json >"$WORK/unit.results" <<'EOF'
import json, sys
if len(sys.argv) != 2:
    print("ERROR meson-wrote-no-test-log -")
    sys.exit()
for line in open(sys.argv[1]):
    t = json.loads(line)
    print(t["result"], t["name"].split(" / ")[-1], t.get("returncode", ""))
EOF
while read -r result name rc; do
    case "$result" in
        OK) ok "unit $name: no valgrind errors" ;;
        SKIP) echo "ok - unit $name # SKIP" ;;
        *)
            not_ok "unit $name: $result (exit $rc; 99 = valgrind errors)"
            # The logs of that binary are the ones naming it.
            grep -l "test_$name" "$WORK"/unit.*.log 2>/dev/null | while read -r f; do
                vg_clean "unit $name" "$f" || break
            done
            ;;
    esac
done <"$WORK/unit.results"

# ---------------------------------------------------------------------------
# The command line

# cli NAME EXPECTED_EXIT ARGS...: one usersvc run under valgrind.
cli() {
    local name=$1 want=$2 rc
    shift 2
    timeout -k 5 120 "${VG[@]}" --log-file="$WORK/cli-$name.log" "$BIN" "$@" \
        >"$WORK/cli-$name.out" 2>&1 </dev/null
    rc=$?
    if [ "$rc" = 99 ] || ! vg_clean "cli $name" "$WORK/cli-$name.log"; then
        not_ok "usersvc $* (valgrind errors)"
    elif [ "$rc" != "$want" ]; then
        not_ok "usersvc $*: exit $rc, expected $want"
        sed 's/^/#   /' "$WORK/cli-$name.out" | head -n 10
    else
        ok "usersvc $*: exit $rc, no valgrind errors"
    fi
}

DB=sqlite:$WORK/users.db
log "command line under valgrind"
# Only what the runs below say counts, not the caller's environment.
unset DATABASE_URL HOST PORT DB_POOL_SIZE DB_POOL_TIMEOUT_MS MAX_BODY_BYTES LOG_LEVEL \
    DB_IDLE_CHECK_MS MAX_CONNECTIONS MAX_CONNECTIONS_PER_IP CONNECTION_TIMEOUT_S \
    MAX_HEADER_BYTES THREAD_STACK_KB SHUTDOWN_TIMEOUT_MS LOG_FORMAT
cli help 0 serve --help
cli bad-flag 2 serve --no-such-flag
cli bad-url 2 migrate --database 'nosuchdb://u:pw@h/x'
cli migrate-up 0 migrate --database "$DB"
cli migrate-down 0 migrate down --database "$DB"
cli migrate-status-behind 1 migrate status --database "$DB"
cli migrate-up-again 0 migrate up --database "$DB"
cli migrate-status 0 migrate status --database "$DB"

# ---------------------------------------------------------------------------
# The server

log "usersvc serve under valgrind"
SERVER_LOG=$WORK/serve.stderr
"${VG[@]}" --log-file="$WORK/serve.vg.log" "$BIN" serve --database "$DB" --host 127.0.0.1 \
    --port 0 --pool-size 4 >"$WORK/serve.stdout" 2>"$SERVER_LOG" </dev/null &
SERVER_PID=$!
PORT=
for _ in $(seq 1 300); do
    PORT=$(grep -Eo 'listening on http://127\.0\.0\.1:[0-9]+' "$SERVER_LOG" | head -n 1 |
           sed 's/.*://')
    [ -n "$PORT" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$PORT" ]; then
    not_ok "usersvc serve started under valgrind"
    tail -n 20 "$SERVER_LOG" "$WORK/serve.vg.log" | sed 's/^/#   /'
    exit 1
fi
BASE=http://127.0.0.1:$PORT

# req EXPECTED METHOD PATH [CURL ARGS...]: one request; checks the status
# (EXPECTED may be "413|000": a refused body may close the connection first).
req() {
    local want=$1 method=$2 path=$3 got
    shift 3
    got=$(curl -s -o "$WORK/resp.body" -D "$WORK/resp.headers" -w '%{http_code}' \
        --max-time 30 --path-as-is -X "$method" "$@" "$BASE$path" 2>/dev/null)
    [ -n "$got" ] || got=000
    if [[ $got =~ ^($want)$ ]]; then
        ok "$method $path -> $got"
    else
        not_ok "$method $path -> $got, expected $want"
        head -c 300 "$WORK/resp.body" | sed 's/^/#   /'
        echo
    fi
}
json() { req "$1" "$2" "$3" -H 'Content-Type: application/json' --data-binary "$4" "${@:5}"; }
header() { grep -i "^$1:" "$WORK/resp.headers" | head -n 1 | sed 's/^[^:]*: *//' | tr -d '\r'; }

python3 -c "print('{\"login\":\"deep\",\"first_name\":' + '['*3000 + ']'*3000 + '}', end='')" \
    >"$WORK/deep.json"
{ printf '{"login":"big"'; head -c 70000 /dev/zero | tr '\0' ' '; printf '}'; } >"$WORK/big.json"

req 200 GET /healthz
req 200 GET /readyz
req 200 GET /metrics
json 201 POST /users '{"login":"alice","first_name":"Alice","last_name":"Liddell"}'
json 201 POST /users '{"login":"bob","first_name":"Ça va 🙂","last_name":null}'
json 409 POST /users '{"login":"ALICE"}'
json 422 POST /users '{"login":"no spaces","firstname":"typo","id":3,"created_at":"x"}'
json 422 POST /users '{"login":"nul","first_name":"a\u0000b","last_name":"'"$(printf '%031d' 0)"'"}'
json 422 POST /users '{"login":42}'
json 400 POST /users '{"login":'
json 400 POST /users '{"login":"a","login":"b"}'
json 400 POST /users '{"login":"x","first_name":"\ud800"}'
json 400 POST /users '[{"login":"x"}]'
req '400|422' POST /users -H 'Content-Type: application/json' --data-binary "@$WORK/deep.json"
req 415 POST /users -H 'Content-Type: text/plain' --data-binary '{"login":"t"}'
req 415 POST /users -H 'Content-Type:' --data-binary '{"login":"t"}'
req '413|000' POST /users -H 'Content-Type: application/json' --data-binary "@$WORK/big.json"
req 413 POST /users -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' \
    --data-binary "@$WORK/big.json"
req 201 POST /users -H 'Content-Type: application/json; charset=utf-8' \
    -H 'Transfer-Encoding: chunked' --data-binary '{"login":"chunky"}'
req 200 GET /users/1
ETAG=$(header ETag)
req 200 GET /users/001
req 200 HEAD /users/1 -I
req 304 GET /users/1 -H "If-None-Match: $ETAG"
req 404 GET /users/1/
req 404 GET /users/abc
req 404 GET /users/99999999999999999999
req 404 GET /users/999
req 200 GET /users
req 200 GET '/users?limit=1'
req 200 GET '/users?limit=1&after=1'
req 200 GET '/users?login=ALICE'
req 400 GET '/users?bogus=1'
req 400 GET '/users?limit=0'
json 200 PATCH /users/2 '{"first_name":null}' -H 'Content-Type: application/merge-patch+json'
json 412 PATCH /users/2 '{"last_name":"X"}' -H 'If-Match: "nope"'
json 422 PATCH /users/2 '{"login":null}'
json 409 PATCH /users/2 '{"login":"alice"}'
json 404 PATCH /users/999 '{}'
req 204 DELETE /users/2
req 404 DELETE /users/2
req 405 PUT /users/1
req 404 GET /nope
# Idempotency-Key (issue 17): a keyed create, its replay, another body, a bad key.
json 201 POST /users '{"login":"keyed"}' -H 'Idempotency-Key: vg-1'
json 201 POST /users '{"login":"keyed"}' -H 'Idempotency-Key: vg-1'
json 422 POST /users '{"login":"keyed2"}' -H 'Idempotency-Key: vg-1'
json 409 POST /users '{"login":"ALICE"}' -H 'Idempotency-Key: vg-2'
json 400 POST /users '{"login":"keyed3"}' -H 'Idempotency-Key;'

# A burst of concurrent creates: several connection threads and pooled
# connections at once.
burst=()
for i in $(seq 1 8); do
    curl -s -o /dev/null -w '%{http_code}\n' --max-time 60 -X POST \
        -H 'Content-Type: application/json' --data-binary "{\"login\":\"burst$i\"}" \
        "$BASE/users" >"$WORK/burst.$i" 2>/dev/null &
    burst+=($!)
done
wait "${burst[@]}"
n201=$(cat "$WORK"/burst.* | grep -c '^201$')
if [ "$n201" = 8 ]; then ok "8 concurrent POSTs -> 201"; else not_ok "8 concurrent POSTs: $n201 x 201"; fi

kill -TERM "$SERVER_PID"
rc=
for _ in $(seq 1 600); do
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
done
if kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -KILL "$SERVER_PID"
    wait "$SERVER_PID"
    SERVER_PID=
    not_ok "usersvc serve stops within 60 s of SIGTERM under valgrind"
else
    wait "$SERVER_PID"
    rc=$?
    SERVER_PID=
    if [ "$rc" = 99 ] || ! vg_clean serve "$WORK/serve.vg.log"; then
        not_ok "usersvc serve: valgrind errors (exit $rc)"
    elif [ "$rc" != 0 ]; then
        not_ok "usersvc serve: exit $rc after SIGTERM, expected 0"
        tail -n 10 "$SERVER_LOG" | sed 's/^/#   /'
    else
        ok "usersvc serve: exit 0 after SIGTERM, no valgrind errors or leaks"
    fi
fi
