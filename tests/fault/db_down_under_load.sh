#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Fault: the database server stops under load, and comes back (issue 5).
#
# Four background workers send GET /users/{id} and POST /users (unique
# logins) in a loop. The database server is stopped (tests/db/*.sh halt)
# for about four seconds and started again (resume), usersvc is not touched.
#   - every answer is 200/201 or 503 with Retry-After and a problem body:
#     never a 500, never a dropped connection, never slower than the pool
#     timeout + 2 s (curl's --max-time; running out counts as a failure);
#   - while the server is down, every request gets 503;
#   - once it is back, requests succeed within 10 s, on the same process;
#   - every POST that was answered 201 is in the database afterwards.
# PostgreSQL and MySQL/MariaDB only (SQLite has no server to stop).
. "$(dirname "$0")/lib.sh"
only_backends postgres mysql
dbsrv_setup

POOL_TIMEOUT_MS=1000
MAX_S=$((POOL_TIMEOUT_MS / 1000 + 2))   # curl --max-time: pool timeout + 2 s
WORKERS=4

start_server --pool-timeout-ms "$POOL_TIMEOUT_MS"
PID_AT_START=$SERVER_PID
create_user steady Steady State
ID=$USER_ID
[ -n "$ID" ] && [ "$ID" != null ] || bail "a first user exists"

now
DEADLINE=$((NOW_MS + 45000))   # the workers' hard limit, whatever happens

# worker W: until the stop file, 1500 requests or the deadline; one line per
# request: "START_MS END_MS STATUS|RETRY_AFTER|CONTENT_TYPE|MS LOGIN".
worker() {
    local w=$1 i=0 t0 res login
    while [ ! -e "$STOP_FILE" ] && [ "$i" -lt 1500 ]; do
        now
        [ "$NOW_MS" -lt "$DEADLINE" ] || break
        t0=$NOW_MS
        i=$((i + 1))
        if [ $((i % 2)) = 1 ]; then
            login=-
            res=$(hit GET "/users/$ID" "" "$MAX_S")
        else
            login="dd${w}n$i"
            res=$(hit POST /users "{\"login\":\"$login\"}" "$MAX_S")
        fi
        now
        echo "$t0 $NOW_MS $res $login" >>"$TMP/load.$w"
    done
}

for w in $(seq 1 "$WORKERS"); do
    spawn worker "$w"
done
sleep 2

# --- the outage ------------------------------------------------------------
now; T_HALT0=$NOW_MS
dbsrv_halt || { diag_file halt "$TMP/dbsrv.halt"; bail "the $FAULT_BACKEND server stops"; }
now; T_HALT1=$NOW_MS
ok "the $FAULT_BACKEND server stopped under load (took $((T_HALT1 - T_HALT0)) ms)"

sleep 0.5
get "/users/$ID"
expect_problem 503 "GET /users/$ID while the database is down"
expect_header Retry-After '^[0-9]+$' "GET while the database is down: Retry-After"
post /users '{"login":"during_outage"}'
expect_problem 503 "POST /users while the database is down"
expect_header Retry-After '^[0-9]+$' "POST while the database is down: Retry-After"
get /readyz
expect_status 503 "GET /readyz while the database is down -> 503"
get /healthz
expect_status 200 "GET /healthz while the database is down -> 200"
sleep 3

now; T_RES0=$NOW_MS
dbsrv_resume || { diag_file resume "$TMP/dbsrv.resume"; bail "the $FAULT_BACKEND server starts again"; }
now; T_RES1=$NOW_MS
ok "the $FAULT_BACKEND server is back (start took $((T_RES1 - T_RES0)) ms)"

# --- recovery --------------------------------------------------------------
T_OK=
for i in $(seq 1 100); do
    if [ "$(hit GET "/users/$ID" "" "$MAX_S" | cut -d'|' -f1)" = 200 ]; then
        now; T_OK=$NOW_MS
        break
    fi
    sleep 0.1
done
if [ -n "$T_OK" ]; then
    ok "requests succeed again $((T_OK - T_RES1)) ms after the server is back (limit 10 s)"
else
    not_ok "requests succeed again within 10 s of the server being back"
    T_OK=$DEADLINE
fi
sleep 2.5
stop_workers 15

# --- what the workers saw ----------------------------------------------------
cat "$TMP"/load.* >"$TMP/load.all" 2>/dev/null
TOTAL=$(wc -l <"$TMP/load.all")
echo "# $TOTAL requests from $WORKERS workers; statuses: $(status_counts "$TMP/load.all")"
if [ "$TOTAL" -ge 40 ]; then ok "the load ran ($TOTAL requests)"; else not_ok "the load ran ($TOTAL requests)"; fi

# awk program over "START END STATUS|RA|CT|MS LOGIN" lines.
load_awk() {
    awk -v h0="$T_HALT0" -v h1="$T_HALT1" -v r0="$T_RES0" -v ok_at="$T_OK" \
        -v max_ms="$((MAX_S * 1000))" "{ split(\$3, f, \"|\"); st = f[1]; ra = f[2]; ct = f[3] }
        $1" "$TMP/load.all"
}

bad=$(load_awk 'st != 200 && st != 201 && st != 503 {
    printf "%s %s at %+d ms from the stop (%d ms)\n", (st == "000" ? "no answer" : st), $4 == "-" ? "GET" : "POST", $1 - h0, $2 - $1 }' | head -n 5)
expect_eq "$bad" "" "only 200, 201 or 503: no 500, no dropped connection, no time-out"
bad=$(load_awk 'st == 503 && ra !~ /^[0-9]+$/ { print "503 without Retry-After at " $1 - h0 " ms" }' | head -n 3)
expect_eq "$bad" "" "every 503 carries Retry-After"
bad=$(load_awk 'st == 503 && ct !~ /^application\/problem\+json/ { print "503 with Content-Type " ct }' | head -n 3)
expect_eq "$bad" "" "every 503 is application/problem+json"
SLOWEST=$(load_awk '{ d = $2 - $1; if (d > m) m = d } END { print m + 0 }')
if [ "$SLOWEST" -le $((MAX_S * 1000)) ]; then
    ok "no request took longer than the pool timeout + 2 s (slowest ${SLOWEST} ms)"
else
    not_ok "no request took longer than the pool timeout + 2 s (slowest ${SLOWEST} ms)"
fi
DOWN=$(load_awk '$1 >= h1 && $2 <= r0' | wc -l)
DOWN_503=$(load_awk '$1 >= h1 && $2 <= r0 && st == 503' | wc -l)
echo "# while the server was down: $DOWN requests, $DOWN_503 answered 503"
if [ "$DOWN" -gt 0 ]; then
    ok "requests ran while the server was down ($DOWN)"
else
    not_ok "requests ran while the server was down"
fi
expect_eq "$DOWN_503" "$DOWN" "while the server was down, every request got 503"
EARLY=$(load_awk '(st == 200 || st == 201) && $2 >= h0 && $1 < h1' | wc -l)
echo "# successes of requests in flight while the server was stopping: $EARLY"
LATE=$(load_awk '$1 >= ok_at + 1000' | wc -l)
bad=$(load_awk '$1 >= ok_at + 1000 && st != 200 && st != 201 {
    print st " " ($4 == "-" ? "GET" : "POST") " at +" $1 - ok_at " ms after recovery" }' | head -n 3)
expect_eq "$bad" "" "from 1 s after recovery on, every request succeeds ($LATE requests)"

# --- nothing acknowledged is lost; the process is the same ------------------
load_awk 'st == 201 { print $4 }' | sort >"$TMP/acked"
db_exec "SELECT login FROM users" 2>"$TMP/db.err" | sort >"$TMP/stored" \
    || diag_file "reading the users table" "$TMP/db.err"
ACKED=$(wc -l <"$TMP/acked")
FOUND=$(comm -12 "$TMP/acked" "$TMP/stored" | wc -l)
echo "# acknowledged $ACKED, found $FOUND, lost $((ACKED - FOUND))"
expect_eq "$((ACKED - FOUND))" 0 "every POST answered 201 is stored (acknowledged $ACKED, found $FOUND)"
load_awk 'st == 503 && $4 != "-" { print $4 }' | sort >"$TMP/refused"
echo "# POSTs answered 503 that were stored anyway (commit raced the stop): $(comm -12 "$TMP/refused" "$TMP/stored" | wc -l)"
expect_eq "$(grep -c '^during_outage$' "$TMP/stored")" 0 \
    "the POST sent while the database was down stored nothing"

get /readyz
expect_status 200 "GET /readyz after recovery -> 200"
post /users '{"login":"after_outage"}'
expect_status 201 "POST after recovery creates"
if server_alive && [ "$SERVER_PID" = "$PID_AT_START" ]; then
    ok "the same usersvc process served throughout (no restart, no crash)"
else
    not_ok "the same usersvc process served throughout (no restart, no crash)"
fi
expect_eq "$(log_5xx)" "" "the access log has no 5xx but 503"
