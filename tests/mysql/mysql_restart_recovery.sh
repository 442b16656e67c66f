#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# usersvc survives MariaDB going away and coming back, without a restart of
# its own: while the server is down every request gets 503 with Retry-After,
# promptly (never 500, never a hang); once it is back requests succeed within
# seconds. Stale pooled connections are replaced before their next
# transaction (no MYSQL_OPT_RECONNECT), so recovery costs no extra errors.
#
# The server restarted here is a throwaway one of this test's own
# (tests/db/mariadb.sh in a private state directory), so no other test sees
# the outage. USERSVC_TEST_MYSQL_URL only has to be set, as for every
# MySQL test.
. "$(dirname "$0")/lib_mysql.sh"

MARIADB_SH=$MYSQL_TEST_DIR/../db/mariadb.sh
[ -x "$MARIADB_SH" ] || skip_all "no tests/db/mariadb.sh to run a private server"
command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] || command -v mysqld >/dev/null \
    || [ -x /usr/sbin/mysqld ] || skip_all "no mariadbd (apt-get install mariadb-server)"
# Outside $TMP, which only we may enter: the server may run as another user.
PRIV_STATE=$(mktemp -d /tmp/usersvc-my-restart.XXXXXX) || bail "mktemp"
chmod 755 "$PRIV_STATE"

my_ctl_private() {
    USERSVC_TEST_STATE=$PRIV_STATE timeout 90 "$MARIADB_SH" "$@"
}

LOAD_PIDS=()
cleanup() {
    local st=$?
    touch "$TMP/load.stop"
    [ ${#LOAD_PIDS[@]} -gt 0 ] && wait "${LOAD_PIDS[@]}" 2>/dev/null
    stop_server
    _drop_databases
    DB_NAMES=()
    my_ctl_private stop >/dev/null 2>&1
    rm -rf "$PRIV_STATE"
    (exit "$st")
    _finish
}
trap cleanup EXIT

my_ctl_private start >"$TMP/my.start" 2>&1 || { cat "$TMP/my.start"; bail "private server start"; }
USERSVC_TEST_MYSQL_URL=$(my_ctl_private url)
export USERSVC_TEST_MYSQL_URL

start_server --pool-size 4 --pool-timeout-ms 1000
SERVER_PID_AT_START=$SERVER_PID
create_user survivor Sur Vivor
ID=$USER_ID

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

start_load() {
    rm -f "$TMP"/load.* "$TMP/load.stop"
    LOAD_PIDS=()
    for w in 1 2 3; do load_worker "$w" & LOAD_PIDS+=($!); done
}

stop_load() {
    touch "$TMP/load.stop"
    wait "${LOAD_PIDS[@]}" 2>/dev/null
    LOAD_PIDS=()
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

# Several pooled connections exist before the outage.
pids=()
for i in $(seq 1 8); do http_code GET "/users/$ID" >/dev/null & pids+=($!); done
wait "${pids[@]}"

# --- Phase 1: a server restart under load ----------------------------------
start_load
sleep 1
my_ctl_private restart >"$TMP/my.restart" 2>&1 || bail "restart: $(cat "$TMP/my.restart")"
back_at=$(now_ms)
if took=$(wait_for_200 10); then
    ok "restart: GET succeeds again ${took} ms after the server is back"
else
    not_ok "restart: GET succeeds again within 10 s"
fi
recovered=$(now_ms)
sleep 2
stop_load
check_load restart "$recovered"
expect_eq "$(awk -v s="$back_at" '$1 > s + 3000' "$TMP"/load.* | awk '$3 == 503' | wc -l)" 0 \
    "restart: no 503 more than 3 s after the server is back"

# --- Phase 2: an outage of a few seconds ------------------------------------
my_ctl_private halt >"$TMP/my.halt" 2>&1 || bail "halt: $(cat "$TMP/my.halt")"
worst=0
codes=
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

my_ctl_private resume >"$TMP/my.resume" 2>&1 || bail "resume: $(cat "$TMP/my.resume")"
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

# --- Phase 3: a restart while idle: stale connections cost no request -------
pids=()
for i in $(seq 1 8); do http_code GET "/users/$ID" >/dev/null & pids+=($!); done
wait "${pids[@]}"
my_ctl_private restart >"$TMP/my.restart2" 2>&1 || bail "restart: $(cat "$TMP/my.restart2")"
expect_eq "$(status_counts 12 "/users/$ID")" " 12 200" \
    "idle restart: the first 12 GETs afterwards are all 200"

# The very same usersvc process did all of this.
if server_alive && [ "$SERVER_PID" = "$SERVER_PID_AT_START" ]; then
    ok "usersvc kept running throughout"
else
    not_ok "usersvc kept running throughout"
fi
bad=$(grep -E 'status=5[0-9][0-9]' "$SERVER_LOG" | grep -v 'status=503' | head -n 3)
expect_eq "$bad" "" "the access log shows no 5xx but 503"
