# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# Helpers for the fault-injection tests: sourced by tests/fault/*.sh.
#
# Everything generic (TAP output, a fresh database per test, starting and
# stopping usersvc, the audit of every response received through lib.sh's
# request helpers, cleanup by trap) comes from tests/e2e/lib.sh. This file
# adds what faults need:
#
#   - background workers that stop at a stop file, each bounded in requests
#     and in time, and are waited for (bounded) and killed by PID at exit;
#   - `hit`: one request that prints "STATUS|RETRY_AFTER|CONTENT_TYPE|MS"
#     without touching lib.sh's response files (safe in background workers);
#   - `raw_send`: raw bytes over a TCP connection through rawhttp.py;
#   - control of the database *server* for tests that stop it (dbsrv).
#
# Environment, besides lib.sh's (USERSVC_BIN, USERSVC_TEST_BACKEND,
# USERSVC_TEST_PG_URL, USERSVC_TEST_MYSQL_URL, USERSVC_TEST_KEEP):
#   USERSVC_TEST_STATE        state directory of the throwaway servers
#                             (tests/db/pg.sh, tests/db/mariadb.sh), as
#                             scripts/test.sh exports it. A test that stops the
#                             database stops that server, when its URL is the
#                             one in USERSVC_TEST_PG_URL / USERSVC_TEST_MYSQL_URL,
#                             and always starts it again before it exits.
#   USERSVC_FAULT_PRIVATE_DB=1  stop only a private throwaway server started for
#                             the test (also what happens when the state
#                             directory does not hold the server of the URL).
#   USERSVC_PYTHON            python3 interpreter (meson passes its own).

FAULT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../e2e/lib.sh
. "$FAULT_DIR/../e2e/lib.sh"

PYTHON=${USERSVC_PYTHON:-python3}
RAWHTTP=$FAULT_DIR/rawhttp.py
STOP_FILE=$TMP/workers.stop
FAULT_PIDS=()
DBSRV_SH=
DBSRV_STATE=
DBSRV_PRIVATE=0
DBSRV_HALTED=0

case "$BACKEND" in
    postgres|postgresql|pg) FAULT_BACKEND=postgres ;;
    mysql|mariadb) FAULT_BACKEND=mysql ;;
    *) FAULT_BACKEND=$BACKEND ;;
esac

# only_backends NAME...: skips the test (exit 77) on any other backend.
only_backends() {
    local b
    for b in "$@"; do
        [ "$b" = "$FAULT_BACKEND" ] && return 0
    done
    skip_all "not applicable to the $FAULT_BACKEND backend (only: $*)"
}

need_python() {
    "$PYTHON" -c 'import socket, sqlite3, json' >/dev/null 2>&1 \
        || skip_all "python3 (with the sqlite3 module) is needed"
}

# Milliseconds since the epoch, without forking: sets NOW_MS.
now() {
    local t=${EPOCHREALTIME//[.,]/}
    NOW_MS=$((t / 1000))
}

now_ms() {
    now
    echo "$NOW_MS"
}

# ---------------------------------------------------------------------------
# Background work

# spawn CMD...: runs CMD in the background and remembers its PID, which the
# exit trap waits for (bounded) and then kills. CMD should stop by itself at
# $STOP_FILE and be bounded in time.
spawn() {
    "$@" &
    FAULT_PIDS+=($!)
}

# stop_workers [SECONDS]: creates the stop file and waits up to SECONDS
# (default 15) for every spawned process; kills by PID those still running.
stop_workers() {
    local limit=${1:-15} pid i alive
    touch "$STOP_FILE"
    for i in $(seq 1 $((limit * 10))); do
        alive=0
        for pid in "${FAULT_PIDS[@]}"; do
            kill -0 "$pid" 2>/dev/null && alive=1
        done
        [ "$alive" = 0 ] && break
        sleep 0.1
    done
    for pid in "${FAULT_PIDS[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            echo "# warning: worker $pid still running after ${limit}s; killing it"
            kill -TERM "$pid" 2>/dev/null
        fi
        wait "$pid" 2>/dev/null
    done
    FAULT_PIDS=()
}

# hit METHOD PATH [BODY [MAX_TIME_S]]: one request with curl; prints
# "STATUS|RETRY_AFTER|CONTENT_TYPE|MS" (STATUS 000 when no response came,
# e.g. curl's --max-time expired). BODY "" means none; a body is sent as
# application/json.
hit() {
    local method=$1 path=$2 body=${3-} max=${4:-$CURL_MAX_TIME} out t0
    now; t0=$NOW_MS
    if [ -n "$body" ]; then
        out=$(curl -s -o /dev/null --max-time "$max" -X "$method" \
            -H 'Content-Type: application/json' --data-binary "$body" \
            -w '%{http_code}|%header{retry-after}|%{content_type}' "$BASE_URL$path" 2>/dev/null)
    else
        out=$(curl -s -o /dev/null --max-time "$max" -X "$method" \
            -w '%{http_code}|%header{retry-after}|%{content_type}' "$BASE_URL$path" 2>/dev/null)
    fi
    now
    [ -n "$out" ] || out='000||'
    echo "${out// /}|$((NOW_MS - t0))"
}

# status_counts FILE...: "200=12 503=4" from worker logs whose 3rd field is
# STATUS|... (as load workers write them).
status_counts() {
    cat "$@" 2>/dev/null | awk '{ split($3, f, "|"); n[f[1]]++ }
        END { s = ""; for (k in n) s = s k "=" n[k] " "; print s }' \
        | tr ' ' '\n' | sort | tr '\n' ' ' | sed 's/^ *//; s/ *$//'
}

# server_rss_kb / server_threads: of the running usersvc (0 when unknown).
server_rss_kb() {
    awk '/^VmRSS:/ { print $2; f = 1 } END { if (!f) print 0 }' "/proc/$SERVER_PID/status" \
        2>/dev/null || echo 0
}

server_threads() {
    awk '/^Threads:/ { print $2; f = 1 } END { if (!f) print 0 }' "/proc/$SERVER_PID/status" \
        2>/dev/null || echo 0
}

# wait_healthz [SECONDS]: polls GET /healthz until 200 (default 5 s).
wait_healthz() {
    local i limit=${1:-5}
    for i in $(seq 1 $((limit * 5))); do
        [ "$(hit GET /healthz "" 2 | cut -d'|' -f1)" = 200 ] && return 0
        sleep 0.2
    done
    return 1
}

# log_5xx: lines of the server log with a 5xx status other than 503.
log_5xx() {
    grep -h -E 'status=5[0-9][0-9]' "$TMP"/server.*.log 2>/dev/null | grep -v 'status=503' \
        | head -n 5
}

# ---------------------------------------------------------------------------
# Raw HTTP

# raw_send FORMAT [OPTIONS...]: sends printf-%b-expanded FORMAT ('\r\n' is
# CRLF, '\0' a NUL byte, '\xHH' a byte) on a fresh connection through
# rawhttp.py (OPTIONS: --wait S, --responses N, --half-close). Sets
# RAW_RESULT to "closed" or "open" (whether the server closed the
# connection) or "noconnect", RAW_STATUS to the first status (000 without
# one), RAW_STATUSES to all status codes in order, $RESP_HEADERS /
# $RESP_BODY to the first response, and RAW_FROM_MHD to 1 when that response
# is one of libmicrohttpd's own error pages (no X-Request-Id) rather than
# usersvc's (which get lib.sh's audit).
raw_send() {
    local data=$1
    shift
    printf '%b' "$data" >"$TMP/raw.req"
    raw_send_file "$TMP/raw.req" "$@"
}

raw_send_file() {
    local file=$1 rc len
    shift
    REQ_DESC="raw $(head -c 60 "$file" | head -n 1 | LC_ALL=C tr -d '\r\n' \
        | LC_ALL=C tr -c '[:print:]' '?')"
    "$PYTHON" "$RAWHTTP" send "$PORT_NUM" "$@" <"$file" >"$TMP/raw.out" 2>"$TMP/raw.err"
    rc=$?
    case "$rc" in
        0) RAW_RESULT=closed ;;
        3) RAW_RESULT=open ;;
        *) RAW_RESULT=noconnect ;;
    esac
    # First response: headers without CR, body cut to its Content-Length.
    sed -n '1,/^\r\{0,1\}$/p' "$TMP/raw.out" | tr -d '\r' >"$RESP_HEADERS"
    sed '1,/^\r\{0,1\}$/d' "$TMP/raw.out" >"$RESP_BODY"
    RAW_STATUS=$(head -n 1 "$RESP_HEADERS" | awk '/^HTTP\/1\.[01] [0-9][0-9][0-9]/ { print $2 }')
    [ -n "$RAW_STATUS" ] || RAW_STATUS=000
    RESP_STATUS=$RAW_STATUS
    len=$(header_value Content-Length)
    if [ -n "$len" ] && [ "$len" -ge 0 ] 2>/dev/null; then
        head -c "$len" "$RESP_BODY" >"$RESP_BODY.tmp" && mv "$RESP_BODY.tmp" "$RESP_BODY"
    fi
    RAW_STATUSES=$(grep -aoE '(^|[^0-9A-Za-z])HTTP/1\.[01] [0-9]{3} ' "$TMP/raw.out" \
        | awk '{ print $2 }' | tr '\n' ' ' | sed 's/ $//')
    # Responses the service made (they carry X-Request-Id) get lib.sh's
    # audit; libmicrohttpd's built-in error pages (RAW_FROM_MHD=1) are only
    # noted, by note_mhd_page.
    RAW_FROM_MHD=0
    if [ "$RAW_STATUS" != 000 ]; then
        if grep -qi '^X-Request-Id:' "$RESP_HEADERS"; then
            _audit
        else
            RAW_FROM_MHD=1
        fi
    fi
}

# note_mhd_page DESC: records that the last raw answer was one of
# libmicrohttpd's built-in error pages (listed at the end of the test).
note_mhd_page() {
    [ "${RAW_FROM_MHD:-0}" = 1 ] || return 0
    echo "$1 -> $RAW_STATUS, Content-Type '$(header_value Content-Type)'," \
        "body $(head -c 40 "$RESP_BODY" | LC_ALL=C tr -c '[:print:]' '?')..." >>"$TMP/mhd_pages.log"
}

# ---------------------------------------------------------------------------
# The database server (tests that stop it)

dbsrv() {
    USERSVC_TEST_STATE=$DBSRV_STATE timeout 120 "$DBSRV_SH" "$@"
}

# dbsrv_setup: chooses the server this test may stop and start: the shared
# throwaway server in $USERSVC_TEST_STATE when it is the one of the admin
# URL, otherwise (or with USERSVC_FAULT_PRIVATE_DB=1) a private one in a
# temporary state directory, whose URL then replaces the admin URL. Call it
# before start_server / new_database.
dbsrv_setup() {
    local url_var shared url
    case "$FAULT_BACKEND" in
        postgres) DBSRV_SH=$FAULT_DIR/../db/pg.sh; url_var=USERSVC_TEST_PG_URL ;;
        mysql) DBSRV_SH=$FAULT_DIR/../db/mariadb.sh; url_var=USERSVC_TEST_MYSQL_URL ;;
        *) bail "dbsrv_setup: no server to stop for $FAULT_BACKEND" ;;
    esac
    [ -x "$DBSRV_SH" ] || skip_all "no $DBSRV_SH"
    [ -n "${!url_var:-}" ] || skip_all "$url_var not set"
    shared=${USERSVC_TEST_STATE:-/tmp/usersvc-test-state}
    if [ "${USERSVC_FAULT_PRIVATE_DB:-}" != 1 ] \
            && url=$(USERSVC_TEST_STATE=$shared timeout 30 "$DBSRV_SH" url 2>/dev/null) \
            && [ "$url" = "${!url_var}" ] \
            && USERSVC_TEST_STATE=$shared timeout 30 "$DBSRV_SH" status; then
        DBSRV_STATE=$shared
        DBSRV_PRIVATE=0
        echo "# stopping and starting the shared $FAULT_BACKEND server ($shared)"
    else
        # Outside $TMP, which only we may enter: the server may run as another user.
        DBSRV_STATE=$(mktemp -d /tmp/usersvc-fault-db.XXXXXX) || bail "mktemp"
        chmod 755 "$DBSRV_STATE"
        DBSRV_PRIVATE=1
        echo "# starting a private $FAULT_BACKEND server ($DBSRV_STATE)"
        dbsrv start >"$TMP/dbsrv.start" 2>&1 \
            || { diag_file start "$TMP/dbsrv.start"; bail "private $FAULT_BACKEND server starts"; }
        url=$(dbsrv url) || bail "private server url"
        printf -v "$url_var" '%s' "$url"
        export "${url_var?}"
    fi
}

# dbsrv_halt / dbsrv_resume: stop the server keeping its data / start it
# again on the same port.
dbsrv_halt() {
    DBSRV_HALTED=1
    dbsrv halt >"$TMP/dbsrv.halt" 2>&1
}

dbsrv_resume() {
    dbsrv resume >"$TMP/dbsrv.resume" 2>&1 && DBSRV_HALTED=0
}

_dbsrv_cleanup() {
    [ -n "$DBSRV_STATE" ] || return 0
    if [ "$DBSRV_HALTED" = 1 ]; then
        dbsrv_resume || echo "# warning: could not start the $FAULT_BACKEND server again" \
            "($(tail -n 3 "$TMP/dbsrv.resume" 2>/dev/null))"
    fi
    if [ "$DBSRV_PRIVATE" = 1 ]; then
        # Databases go with the private server.
        [ "${USERSVC_TEST_KEEP:-}" = 1 ] || DB_NAMES=()
        [ "${USERSVC_TEST_KEEP:-}" = 1 ] || { dbsrv stop >/dev/null 2>&1; rm -rf "$DBSRV_STATE"; }
    fi
}

# ---------------------------------------------------------------------------
# End of test: a stopped database server first, then the workers, usersvc,
# the databases, a private server, and lib.sh's own checks.

# ---- locks and waiting (pool_exhaustion, batch_queue_timeout, slowloris) ----

# lock_users SECONDS: another session locks the users table for SECONDS
# (hold_lock, in the background); returns once the lock is held. Sets HOLDER
# (its PID) and T_LOCK (when the lock was taken, ms).
lock_users() {
    spawn hold_lock "$1" "$TMP/locked" >"$TMP/holder.out" 2>&1
    HOLDER=${FAULT_PIDS[-1]}
    wait_for_file "$TMP/locked" 10 \
        || { diag_file holder "$TMP/holder.out"; bail "the other session holds the lock"; }
    now; T_LOCK=$NOW_MS
    ok "another session holds a lock on users for $1 s ($FAULT_BACKEND)"
}

# wait_metric NAME VALUE TRIES: polls `metric NAME` every 50 ms, at most
# TRIES times, until it is VALUE; prints the last value read.
wait_metric() {
    local v= i
    for i in $(seq 1 "$3"); do
        v=$(metric "$1")
        [ "$v" = "$2" ] && break
        sleep 0.05
    done
    echo "$v"
}

# spawn_mixed N PREFIX MAX_S: N requests at once, the odd ones GET /users/$ID,
# the even ones POST /users with login PREFIXn; request n writes hit's line
# to $TMP/PREFIX.n. Their PIDs are the last N of FAULT_PIDS.
spawn_mixed() {
    local n=$1 prefix=$2 max=$3 p
    for p in $(seq 1 "$n"); do
        if [ $((p % 2)) = 1 ]; then
            ( hit GET "/users/$ID" "" "$max" >"$TMP/$prefix.$p" ) &
        else
            ( hit POST /users "{\"login\":\"$prefix$p\"}" "$max" >"$TMP/$prefix.$p" ) &
        fi
        FAULT_PIDS+=($!)
    done
}

# status_tally PREFIX: "200=5 201=5 " over the files spawn_mixed PREFIX wrote.
status_tally() {
    cat "$TMP/$1".* | cut -d'|' -f1 | sort | uniq -c | awk '{ printf "%s=%s ", $2, $1 }'
}

# metric NAME: the value of a metric of the primary pool from GET /metrics
# (NAME{pool="primary"}, or plain NAME).
metric() {
    curl -s --max-time 2 "$BASE_URL/metrics" 2>/dev/null \
        | awk -v m="$1" '$1 == m || $1 == m "{pool=\"primary\"}" { print $2; exit }'
}

# hold_lock SECONDS MARKER: locks the users table from another session for
# SECONDS; MARKER is created once the lock is held. Runs in the foreground.
hold_lock() {
    local secs=$1 marker=$2
    case "$FAULT_BACKEND" in
        postgres)
            timeout $((secs + 20)) psql -X -q -w -v ON_ERROR_STOP=1 "$DB_URL" -f - <<EOF
BEGIN;
LOCK TABLE users IN ACCESS EXCLUSIVE MODE;
\\! touch '$marker'
SELECT pg_sleep($secs);
COMMIT;
EOF
            ;;
        mysql)
            _mysql_client -D "${DB_NAMES[-1]}" <<EOF
LOCK TABLES users WRITE;
system touch '$marker'
SELECT SLEEP($secs);
UNLOCK TABLES;
EOF
            ;;
        sqlite)
            timeout $((secs + 20)) "$PYTHON" - "${DB_URL#sqlite:}" "$marker" "$secs" <<'EOF'
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
db.execute("BEGIN EXCLUSIVE")
open(sys.argv[2], "w").close()
time.sleep(float(sys.argv[3]))
db.execute("ROLLBACK")
db.close()
EOF
            ;;
    esac
}

# wait_for_file FILE SECONDS
wait_for_file() {
    local i
    for i in $(seq 1 $(($2 * 20))); do
        [ -e "$1" ] && return 0
        sleep 0.05
    done
    return 1
}

# wait_pids SECONDS PID...: waits for the PIDs, at most SECONDS in all.
wait_pids() {
    local limit=$1 i pid alive
    shift
    for i in $(seq 1 $((limit * 10))); do
        alive=0
        for pid in "$@"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [ "$alive" = 0 ] && return 0
        sleep 0.1
    done
    return 1
}

# ---------------------------------------------------------------------------
# The fault-injecting proxy (faultproxy.py): a TCP proxy between usersvc and
# the database whose behaviour the test switches at run time.

PROXY_PID=
PROXY_CTL=
PROXY_URL=

# proxy_start: starts a proxy in front of DB_URL's host:port (created first
# if need be; loopback only) and sets PROXY_URL to DB_URL through it. The
# proxy exits by itself after 240 s or when this shell dies.
proxy_start() {
    local hostport i
    [ -n "$DB_URL" ] || new_database
    hostport=$(printf '%s' "$DB_URL" | sed -E 's#^[a-z]+://([^@/]*@)?([^/?]+).*#\2#')
    case "$hostport" in
        127.0.0.1:*|localhost:*) ;;
        *) skip_all "the database is not on loopback with a port ($hostport)" ;;
    esac
    PROXY_CTL=$TMP/proxy.ctl
    rm -f "$TMP/proxy.port" "$PROXY_CTL"
    "$PYTHON" "$FAULT_DIR/faultproxy.py" --target "$hostport" --port-file "$TMP/proxy.port" \
        --control "$PROXY_CTL" --lifetime 240 >"$TMP/proxy.log" 2>&1 &
    PROXY_PID=$!
    for i in $(seq 1 50); do
        [ -s "$TMP/proxy.port" ] && [ -S "$PROXY_CTL" ] && break
        sleep 0.1
    done
    [ -s "$TMP/proxy.port" ] || bail "faultproxy.py listens within 5 s"
    PROXY_URL=$(printf '%s' "$DB_URL" \
        | sed -E "s#^([a-z]+://([^@/]*@)?)[^/?]+#\\1127.0.0.1:$(cat "$TMP/proxy.port")#")
}

# proxy MODE [ARG]: switches the proxy (pass, blackhole, latency MS, reset,
# reset_after N, silent, status); prints its answer, fails unless "ok".
proxy() {
    local out
    out=$("$PYTHON" - "$PROXY_CTL" "$*" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall((sys.argv[2] + "\n").encode())
print(s.makefile().readline().strip())
PY
    )
    echo "$out"
    case "$out" in ok*) return 0 ;; *) return 1 ;; esac
}

_proxy_stop() {
    [ -n "$PROXY_PID" ] || return 0
    kill "$PROXY_PID" 2>/dev/null
    wait "$PROXY_PID" 2>/dev/null
    PROXY_PID=
}

# load_start PREFIX WORKERS MAX_S: WORKERS background loops of GET /users/$ID
# and POST /users (login PREFIXwNiN), until the stop file, 400 requests or
# 60 s each; each line "START_MS END_MS STATUS|RETRY_AFTER|CT|MS LOGIN" in
# $TMP/PREFIX.load.W.
load_start() {
    local prefix=$1 workers=$2 max=$3 w
    for w in $(seq 1 "$workers"); do
        spawn _load_worker "$prefix" "$w" "$max"
    done
}

_load_worker() {
    local prefix=$1 w=$2 max=$3 i=0 t0 res login end
    now; end=$((NOW_MS + 60000))
    while [ ! -e "$STOP_FILE" ] && [ "$i" -lt 400 ]; do
        now
        [ "$NOW_MS" -lt "$end" ] || break
        t0=$NOW_MS
        i=$((i + 1))
        if [ $((i % 2)) = 1 ]; then
            login=-
            res=$(hit GET "/users/$ID" "" "$max")
        else
            login="${prefix}w${w}i$i"
            res=$(hit POST /users "{\"login\":\"$login\"}" "$max")
        fi
        now
        echo "$t0 $NOW_MS $res $login" >>"$TMP/$prefix.load.$w"
    done
}

# load_stop: stops the load workers (bounded) and clears the stop file.
load_stop() {
    stop_workers 15
    rm -f "$STOP_FILE"
}

# check_bound PREFIX LIMIT_MS OK_STATUSES: every answer of the load came in
# LIMIT_MS at most and had a status in OK_STATUSES ("200 201 503"); a 503
# carries Retry-After.
check_bound() {
    local prefix=$1 limit=$2 okst=" $3 " bad slow n
    n=$(cat "$TMP/$prefix".load.* 2>/dev/null | wc -l)
    bad=$(cat "$TMP/$prefix".load.* 2>/dev/null | awk -v ok="$okst" '{ split($3, f, "|");
        if (index(ok, " " f[1] " ") == 0 || (f[1] == "503" && f[2] == "")) print f[1] }' \
        | sort | uniq -c | tr '\n' ' ')
    slow=$(cat "$TMP/$prefix".load.* 2>/dev/null | awk -v l="$limit" '{ split($3, f, "|");
        if (f[4] + 0 > l) print f[4] }' | sort -n | tail -n 3 | tr '\n' ' ')
    expect_eq "$bad" "" "$prefix: all $n answers are among $3 (503 with Retry-After) [$(status_counts "$TMP/$prefix".load.*)]"
    expect_eq "$slow" "" "$prefix: every answer within $limit ms (max $(cat "$TMP/$prefix".load.* | awk '{ split($3, f, "|"); if (f[4] + 0 > m) m = f[4] + 0 } END { print m + 0 }') ms)"
}

# check_writes PREFIX: every POST of the load answered 201 is stored exactly
# once; none answered 4xx (a 409 would be a duplicate of one's own write);
# nothing is stored that was never sent.
check_writes() {
    local prefix=$1 acked stored lost sent extra
    acked=$(cat "$TMP/$prefix".load.* 2>/dev/null | awk '{ split($3, f, "|"); if (f[1] == "201") print $4 }' | sort)
    sent=$(cat "$TMP/$prefix".load.* 2>/dev/null | awk '$4 != "-" { print $4 }' | sort)
    stored=$(db_exec "SELECT login FROM users WHERE login LIKE '${prefix}w%'" | sort)
    lost=$(comm -23 <(printf '%s\n' "$acked" | sed '/^$/d') <(printf '%s\n' "$stored" | sed '/^$/d') | head -n 3 | tr '\n' ' ')
    extra=$(comm -23 <(printf '%s\n' "$stored" | sed '/^$/d') <(printf '%s\n' "$sent" | sed '/^$/d') | head -n 3 | tr '\n' ' ')
    expect_eq "$lost" "" "$prefix: every acknowledged write ($(printf '%s\n' "$acked" | sed '/^$/d' | wc -l)) is stored"
    expect_eq "$extra" "" "$prefix: nothing stored that was not sent"
    expect_eq "$(printf '%s\n' "$stored" | sed '/^$/d' | sort | uniq -d | head -n 3)" "" "$prefix: nothing stored twice"
    expect_eq "$(cat "$TMP/$prefix".load.* | awk '{ split($3, f, "|"); if (f[1] ~ /^4/) print }' | head -n 2)" "" "$prefix: no 4xx (no 409 for one's own row)"
}

# recovers_within MS: polls GET /users/$ID until 200, for at most MS; prints
# the time it took, fails if it did not.
recovers_within() {
    local limit=$1 t0 st
    now; t0=$NOW_MS
    while :; do
        st=$(hit GET "/users/$ID" "" 2 | cut -d'|' -f1)
        now
        if [ "$st" = 200 ]; then
            ok "requests succeed again $((NOW_MS - t0)) ms after the fault ended (<= $limit ms)"
            return 0
        fi
        if [ $((NOW_MS - t0)) -gt "$limit" ]; then
            not_ok "requests succeed again within $limit ms of the fault's end (last: $st)"
            return 1
        fi
        sleep 0.05
    done
}

_fault_finish() {
    local rc=$?
    trap - EXIT
    # A stopped database server comes back first, whatever else happens
    # (meson sends SIGTERM on a time-out and SIGKILL soon after).
    [ "$DBSRV_HALTED" = 1 ] && dbsrv_resume
    [ "${#FAULT_PIDS[@]}" -gt 0 ] && stop_workers 10
    _proxy_stop
    if [ -n "$DBSRV_STATE" ]; then
        # usersvc must be stopped while the database is there to drop.
        [ -z "$T_SKIP_ALL" ] && stop_server
        _drop_databases
        DB_NAMES=()
        _dbsrv_cleanup
    fi
    if [ -s "$TMP/mhd_pages.log" ]; then
        echo "# note: $(wc -l <"$TMP/mhd_pages.log") answers were libmicrohttpd's built-in error" \
            "pages, not JSON as API.md wants:"
        sed 's/^/#   /' "$TMP/mhd_pages.log"
    fi
    (exit "$rc")
    _finish
}
trap _fault_finish EXIT
