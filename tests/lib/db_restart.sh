# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# Shared by the PostgreSQL and MariaDB tests (tests/pg/lib_pg.sh and
# tests/mysql/lib_mysql.sh source it, after tests/e2e/lib.sh):
#   http_code, now_ms, status_counts, expect_fast   probes that leave lib.sh's
#                                                   response files alone
#   restart_recovery_*                              the restart-recovery test,
#                                                   written once for both servers
#
# The restart-recovery test (tests/pg/pg_restart_recovery.sh,
# tests/mysql/mysql_restart_recovery.sh): usersvc survives its database going
# away and coming back, without a restart of its own. While the server is
# down every request gets 503 with Retry-After, promptly (never 500, never a
# hang); once it is back requests succeed within seconds, on connections the
# pool revives in place or replaces. The server restarted is a throwaway one
# of the test's own (tests/db/pg.sh or tests/db/mariadb.sh in a private
# state directory), so no other test sees the outage.

# http_code METHOD PATH [BODY]: prints "STATUS RETRY_AFTER" for one request
# (000 when there was no response), without touching the lib.sh response files.
http_code() {
    local out
    if [ $# -ge 3 ]; then
        out=$(curl -sS --max-time "$CURL_MAX_TIME" -o /dev/null -D - -w '\n%{http_code}' \
            -X "$1" -H 'Content-Type: application/json' --data-binary "$3" \
            "$BASE_URL$2" 2>/dev/null)
    else
        out=$(curl -sS --max-time "$CURL_MAX_TIME" -o /dev/null -D - -w '\n%{http_code}' \
            -X "$1" "$BASE_URL$2" 2>/dev/null)
    fi
    printf '%s %s\n' "$(printf '%s\n' "$out" | tail -n 1 | tr -d '\r')" \
        "$(printf '%s\n' "$out" | awk 'tolower($1) == "retry-after:" { v = $2 } END { print v }' \
           | tr -d '\r')"
}

now_ms() { date +%s%3N; }

# status_counts N PATH: GETs PATH N times in a row; prints "uniq -c" of the statuses.
status_counts() {
    local i
    for i in $(seq 1 "$1"); do
        http_code GET "$2" | cut -d' ' -f1
    done | sort | uniq -c | tr -s ' '
}

# expect_fast MS LIMIT DESC: passes when MS < LIMIT.
expect_fast() {
    if [ "$1" -lt "$2" ]; then ok "$3 (${1} ms)"; else not_ok "$3 (${1} ms)"; fi
}

# ---- the restart-recovery test ---------------------------------------------

RR_LOAD_PIDS=()

# restart_recovery_start CTL_SCRIPT URL_VARIABLE: runs a private server with
# CTL_SCRIPT (tests/db/pg.sh or mariadb.sh) in its own state directory,
# points URL_VARIABLE (USERSVC_TEST_PG_URL...) at it, starts usersvc on it
# and creates the user the load reads (ID). db_ctl ARGS drives the server.
restart_recovery_start() {
    RR_CTL=$1
    [ -x "$RR_CTL" ] || skip_all "no $RR_CTL to run a private server"
    # Outside $TMP, which only we may enter: the server may run as another user.
    RR_STATE=$(mktemp -d /tmp/usersvc-restart.XXXXXX) || bail "mktemp"
    chmod 755 "$RR_STATE"
    trap _restart_recovery_cleanup EXIT
    db_ctl start >"$TMP/db.start" 2>&1 \
        || { diag_file "$(basename "$RR_CTL")" "$TMP/db.start"; bail "private server start"; }
    printf -v "$2" '%s' "$(db_ctl url)"
    export "${2?}"
    start_server --pool-size 4 --pool-timeout-ms 1000
    SERVER_PID_AT_START=$SERVER_PID
    create_user survivor Sur Vivor
    ID=$USER_ID
}

db_ctl() {
    USERSVC_TEST_STATE=$RR_STATE timeout 90 "$RR_CTL" "$@"
}

_restart_recovery_cleanup() {
    local st=$?
    touch "$TMP/load.stop"
    [ ${#RR_LOAD_PIDS[@]} -gt 0 ] && wait "${RR_LOAD_PIDS[@]}" 2>/dev/null
    stop_server
    _drop_databases
    DB_NAMES=()
    db_ctl stop >/dev/null 2>&1
    rm -rf "$RR_STATE"
    (exit "$st")
    _finish
}

# load_worker N: requests until $TMP/load.stop exists (at most 3000), one line
# per request: "start_ms end_ms status retry_after".
load_worker() {
    local i=0 t0 res
    while [ ! -e "$TMP/load.stop" ] && [ "$i" -lt 3000 ]; do
        i=$((i + 1))
        t0=$(now_ms)
        if [ $((i % 4)) = 0 ]; then
            res=$(http_code POST /users "{\"login\":\"w$1_$i\"}")
        else
            res=$(http_code GET "/users/$ID")
        fi
        echo "$t0 $(now_ms) $res" >>"$TMP/load.$1"
    done
}

# wait_for_200 LIMIT_S: polls GET until 200; prints the ms it took, or fails.
wait_for_200() {
    local t0 i
    t0=$(now_ms)
    for i in $(seq 1 $(($1 * 10))); do
        if [ "$(http_code GET "/users/$ID" | cut -d' ' -f1)" = 200 ]; then
            echo $(($(now_ms) - t0))
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# check_load PHASE SINCE_MS: all answers in {200,201,503}, 503s with
# Retry-After, no request slower than 6 s, and none started after SINCE_MS
# (recovery) answered anything but success.
check_load() {
    local phase=$1 since=$2 all bad slow late
    all=$(cat "$TMP"/load.* 2>/dev/null)
    [ -n "$all" ] || { not_ok "$phase: the load ran"; return; }
    ok "$phase: the load ran ($(printf '%s\n' "$all" | wc -l) requests:" \
        "$(printf '%s\n' "$all" | awk '{ print $3 }' | sort | uniq -c | tr -s ' ' | tr '\n' ',')" \
        ")"
    bad=$(printf '%s\n' "$all" | awk '$3 != 200 && $3 != 201 && $3 != 503' | head -n 3)
    expect_eq "$bad" "" "$phase: only 200, 201 or 503 (no 500, no dropped request)"
    bad=$(printf '%s\n' "$all" | awk '$3 == 503 && $4 == ""' | head -n 3)
    expect_eq "$bad" "" "$phase: every 503 carries Retry-After"
    slow=$(printf '%s\n' "$all" | awk '$2 - $1 > 6000' | head -n 3)
    expect_eq "$slow" "" "$phase: no request took more than 6 s"
    late=$(printf '%s\n' "$all" | awk -v s="$since" '$1 > s && $3 != 200 && $3 != 201' | head -n 3)
    expect_eq "$late" "" "$phase: after recovery, every request succeeds"
}

# Several pooled connections exist (8 concurrent GETs).
_warm_pool() {
    local pids=() i
    for i in $(seq 1 8); do http_code GET "/users/$ID" >/dev/null & pids+=($!); done
    wait "${pids[@]}"
}

# A restart while idle: every pooled connection is now dead, and the first
# requests after the restart must not pay for that with a 503 (connections
# reconnect in place before their next statement).
restart_recovery_idle_restart() {
    _warm_pool
    db_ctl restart >"$TMP/db.restart" 2>&1 || bail "restart: $(cat "$TMP/db.restart")"
    expect_eq "$(status_counts 12 "/users/$ID")" " 12 200" \
        "idle restart: the first 12 GETs afterwards are all 200"
}

# A restart (fast shutdown) under load.
restart_recovery_restart_under_load() {
    local back_at took recovered w
    _warm_pool
    rm -f "$TMP"/load.* "$TMP/load.stop"
    RR_LOAD_PIDS=()
    for w in 1 2 3; do load_worker "$w" & RR_LOAD_PIDS+=($!); done
    sleep 1
    db_ctl restart >"$TMP/db.restart" 2>&1 || bail "restart: $(cat "$TMP/db.restart")"
    back_at=$(now_ms)
    if took=$(wait_for_200 10); then
        ok "restart: GET succeeds again ${took} ms after the server is back"
    else
        not_ok "restart: GET succeeds again within 10 s"
    fi
    recovered=$(now_ms)
    sleep 2
    touch "$TMP/load.stop"
    wait "${RR_LOAD_PIDS[@]}" 2>/dev/null
    RR_LOAD_PIDS=()
    check_load restart "$recovered"
    expect_eq "$(awk -v s="$back_at" '$1 > s + 3000' "$TMP"/load.* | awk '$3 == 503' | wc -l)" 0 \
        "restart: no 503 more than 3 s after the server is back"
}

# An outage of a few seconds: 503 promptly, nothing written, then back.
restart_recovery_outage() {
    local worst=0 codes= i t0 res dt took
    db_ctl halt >"$TMP/db.halt" 2>&1 || bail "halt: $(cat "$TMP/db.halt")"
    for i in $(seq 1 6); do
        t0=$(now_ms)
        if [ $((i % 2)) = 0 ]; then
            res=$(http_code POST /users "{\"login\":\"outage$i\"}")
        else
            res=$(http_code GET "/users/$ID")
        fi
        dt=$(($(now_ms) - t0))
        [ "$dt" -gt "$worst" ] && worst=$dt
        codes+="${res// /:} "
        sleep 0.3
    done
    expect_eq "$codes" "503:1 503:1 503:1 503:1 503:1 503:1 " \
        "outage: GET and POST answer 503 with Retry-After: 1"
    expect_fast "$worst" 3000 "outage: answered promptly (slowest request)"
    expect_eq "$(http_code GET /readyz | cut -d' ' -f1)" 503 "outage: /readyz is 503"
    expect_eq "$(http_code GET /healthz | cut -d' ' -f1)" 200 "outage: /healthz is still 200"

    db_ctl resume >"$TMP/db.resume" 2>&1 || bail "resume: $(cat "$TMP/db.resume")"
    if took=$(wait_for_200 10); then
        ok "outage over: GET succeeds ${took} ms after the server is back"
    else
        not_ok "outage over: GET succeeds within 10 s"
    fi
    expect_eq "$(status_counts 20 "/users/$ID")" " 20 200" "outage over: 20 GETs in a row are 200"
    post /users '{"login":"after_outage"}'
    expect_status 201 "outage over: POST creates"
    expect_eq "$(http_code GET /readyz | cut -d' ' -f1)" 200 "outage over: /readyz is 200"
    expect_eq "$(db_exec "SELECT COUNT(*) FROM users WHERE login LIKE 'outage%'")" 0 \
        "outage: nothing was written"
}

# The very same usersvc process did all of this, and never answered 5xx but 503.
restart_recovery_finish() {
    local bad
    if server_alive && [ "$SERVER_PID" = "$SERVER_PID_AT_START" ]; then
        ok "usersvc kept running throughout"
    else
        not_ok "usersvc kept running throughout"
    fi
    bad=$(grep -E 'status=5[0-9][0-9]' "$SERVER_LOG" | grep -v 'status=503' | head -n 3)
    expect_eq "$bad" "" "the access log shows no 5xx but 503"
}
