#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Fault: the connection pool runs dry (issue 5).
#
# usersvc runs with --pool-size 2 --pool-timeout-ms 500 --db-batches 0, so
# every request borrows a connection of its own (the batched path, where
# one-statement requests queue for a batch instead, is batch_queue_timeout.sh).
# Another session
# locks the users table (PostgreSQL: LOCK TABLE ... ACCESS EXCLUSIVE; MySQL:
# LOCK TABLES users WRITE; SQLite: BEGIN EXCLUSIVE from python3) for 3 s.
# Two POSTs then block inside the database, holding both pooled
# connections; further concurrent requests cannot get a connection and
# must answer 503 with Retry-After within the pool timeout + a margin,
# while /healthz (no database) still answers 200. Once the lock is gone the
# blocked POSTs complete and everything succeeds again; what was refused
# stored nothing. On SQLite a lock held longer than the busy timeout (5 s)
# turns a write into 503 as well.
. "$(dirname "$0")/lib.sh"
need_python

POOL_TIMEOUT_MS=500
MARGIN_MS=1500
HOLD_S=3
PROBES=6

start_server --pool-size 2 --pool-timeout-ms "$POOL_TIMEOUT_MS" --db-batches 0
create_user pooled Pool Ed
ID=$USER_ID
[ -n "$ID" ] && [ "$ID" != null ] || bail "a first user exists"

TIMEOUTS_BEFORE=$(metric usersvc_db_pool_acquire_timeouts_total)

# --- the lock, and two requests stuck behind it ---------------------------
lock_users "$HOLD_S"

blocker() {
    hit POST /users "{\"login\":\"blocker$1\"}" $((HOLD_S + 12)) >"$TMP/blocker.$1"
}
for b in 1 2; do
    spawn blocker "$b"
done
BLOCKERS=("${FAULT_PIDS[@]: -2}")

IN_USE=$(wait_metric usersvc_db_pool_in_use 2 30)
expect_eq "$IN_USE" 2 "both pooled connections are taken by requests waiting on the lock"

# --- requests that cannot get a connection ---------------------------------
spawn_mixed "$PROBES" probe 10
PROBE_PIDS=("${FAULT_PIDS[@]: -$PROBES}")
RES=$(hit GET /healthz "" 2)
expect_eq "$(cut -d'|' -f1 <<<"$RES")" 200 "GET /healthz answers 200 while the pool is exhausted"
RES=$(hit GET /readyz "" 5)
expect_eq "$(cut -d'|' -f1,2 <<<"$RES")" "503|1" "GET /readyz answers 503 + Retry-After while the pool is exhausted"
wait_pids 12 "${PROBE_PIDS[@]}" || not_ok "the concurrent requests finished within 12 s"
now
if [ "$((NOW_MS - T_LOCK))" -ge $((HOLD_S * 1000)) ]; then
    echo "# warning: the probes ended after the lock was released; timing too slow to judge"
fi
LIMIT=$((POOL_TIMEOUT_MS + MARGIN_MS))
for p in $(seq 1 "$PROBES"); do
    IFS='|' read -r st ra ct ms <"$TMP/probe.$p"
    what=$([ $((p % 2)) = 1 ] && echo "GET /users/$ID" || echo "POST /users")
    expect_eq "$st|$ra" "503|1" "$what without a free connection: 503 + Retry-After (${ms} ms)"
    if [ "${ms:-99999}" -le "$LIMIT" ]; then
        ok "$what: answered within the pool timeout + ${MARGIN_MS} ms (${ms} ms <= ${LIMIT} ms)"
    else
        not_ok "$what: answered within the pool timeout + ${MARGIN_MS} ms (${ms} ms > ${LIMIT} ms)"
    fi
    [[ $ct == application/problem+json* ]] || { not_ok "$what: 503 is problem+json (got '$ct')"; }
done
TIMEOUTS_AFTER=$(metric usersvc_db_pool_acquire_timeouts_total)
echo "# pool acquire timeouts: $TIMEOUTS_BEFORE before, $TIMEOUTS_AFTER after"
if [ $((TIMEOUTS_AFTER - TIMEOUTS_BEFORE)) -ge "$PROBES" ] 2>/dev/null; then
    ok "the 503s are pool time-outs (usersvc_db_pool_acquire_timeouts_total +$((TIMEOUTS_AFTER - TIMEOUTS_BEFORE)))"
else
    not_ok "the 503s are pool time-outs (usersvc_db_pool_acquire_timeouts_total $TIMEOUTS_BEFORE -> $TIMEOUTS_AFTER)"
fi

# --- the lock goes away -----------------------------------------------------
wait_pids $((HOLD_S + 20)) "$HOLDER" || not_ok "the lock holder finished"
wait "$HOLDER"
expect_eq "$?" 0 "the lock holder ran to its end"
wait_pids 15 "${BLOCKERS[@]}" || not_ok "the blocked POSTs finished within 15 s of the release"
for b in 1 2; do
    IFS='|' read -r st ra ct ms <"$TMP/blocker.$b"
    expect_eq "$st" 201 "POST blocked by the lock completes once it is released (${ms} ms)"
done

spawn_mixed 10 after 5
wait_pids 10 "${FAULT_PIDS[@]: -10}" || not_ok "requests after the release finished within 10 s"
expect_eq "$(status_tally after)" "200=5 201=5 " "after the release, 10 concurrent requests all succeed"
get /readyz
expect_status 200 "GET /readyz after the release -> 200"

STORED=$(db_exec "SELECT login FROM users ORDER BY login" | tr '\n' ' ')
for p in $(seq 2 2 "$PROBES"); do
    [[ " $STORED " == *" probe$p "* ]] && not_ok "POST answered 503 stored nothing (probe$p is there)"
done
expect_match "$STORED" 'blocker1 blocker2' "both blocked POSTs are stored"
expect_eq "$(grep -o 'probe[0-9]*' <<<"$STORED" | wc -l)" 0 "POSTs answered 503 stored nothing"

# --- SQLite: a lock held longer than busy_timeout ---------------------------
if [ "$FAULT_BACKEND" = sqlite ]; then
    spawn hold_lock 7 "$TMP/locked2" >"$TMP/holder2.out" 2>&1
    HOLDER=${FAULT_PIDS[-1]}
    wait_for_file "$TMP/locked2" 10 || bail "the other session holds the lock again"
    RES=$(hit POST /users '{"login":"busy"}' 12)
    IFS='|' read -r st ra ct ms <<<"$RES"
    expect_eq "$st|$ra" "503|1" "SQLite: a write waiting longer than busy_timeout gets 503 + Retry-After"
    if [ "$ms" -ge 4500 ] && [ "$ms" -le $((5000 + LIMIT)) ]; then
        ok "SQLite: ... after the 5 s busy timeout (${ms} ms)"
    else
        not_ok "SQLite: ... after the 5 s busy timeout (${ms} ms, expected 4500-$((5000 + LIMIT)))"
    fi
    RES=$(hit GET "/users/$ID" "" 3)
    expect_eq "$(cut -d'|' -f1 <<<"$RES")" 200 "SQLite: reads go on during the write lock (WAL)"
    wait_pids 12 "$HOLDER" || not_ok "the second lock holder finished"
    post /users '{"login":"busy"}'
    expect_status 201 "SQLite: the refused write can be repeated once the lock is gone"
fi

expect_eq "$(log_5xx)" "" "the access log has no 5xx but 503"
if server_alive; then ok "usersvc is still running"; else not_ok "usersvc is still running"; fi
