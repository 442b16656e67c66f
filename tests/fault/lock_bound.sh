#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Fault: another session holds a lock on the users table for 5 s, more than
# three times the bound (issue 16), with DB_POOL_TIMEOUT_MS=500 and
# DB_STATEMENT_TIMEOUT_MS=1500, under a small load of GETs and POSTs
# (PostgreSQL LOCK TABLE ... ACCESS EXCLUSIVE, MariaDB LOCK TABLES ... WRITE,
# SQLite BEGIN EXCLUSIVE):
#   - every request is answered within pool + statement timeout + 700 ms:
#     200/201, or 503 with Retry-After (never after the lock's 5 s);
#   - /readyz says 503 while the database cannot answer within the bound
#     (PostgreSQL, MariaDB; SQLite reads go on under WAL);
#   - requests succeed within 2 s of the release; every 201 is stored,
#     nothing twice, no 409 for one's own write;
#   - the timeouts are counted in /metrics.
. "$(dirname "$0")/lib.sh"
need_python

POOL_MS=500 STMT_MS=1500 MARGIN_MS=700
start_server --pool-timeout-ms $POOL_MS --statement-timeout-ms $STMT_MS
create_user locked Lock Ed
ID=$USER_ID
[ -n "$ID" ] && [ "$ID" != null ] || bail "a first user exists"

lock_users 5
load_start locked 4 5
sleep 2
if [ "$FAULT_BACKEND" != sqlite ]; then
    expect_eq "$(hit GET /readyz "" 5 | cut -d'|' -f1)" 503 "/readyz says 503 while the table is locked"
fi
wait_pids 30 "$HOLDER" || not_ok "the lock holder finished"
recovers_within 2000
sleep 0.5
load_stop
check_bound locked $((POOL_MS + STMT_MS + MARGIN_MS)) "200 201 503"
check_writes locked
expect_match "$(status_counts "$TMP"/locked.load.*)" '503=' "the lock cost 503s, not waits"
T=$(metric usersvc_db_statement_timeouts_total)
P=$(metric usersvc_db_pool_acquire_timeouts_total)
if [ $((${T:-0} + ${P:-0})) -gt 0 ]; then ok "the timeouts are counted (statement $T, pool $P)"
else not_ok "the timeouts are counted (statement '$T', pool '$P')"; fi
