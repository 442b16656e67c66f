#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Faults between usersvc and its database, through tests/fault/faultproxy.py
# (issue 16), with DB_POOL_TIMEOUT_MS=500 and DB_STATEMENT_TIMEOUT_MS=1500,
# each under a small load of GETs and POSTs:
#   - resets: every open connection is reset three times; answers are
#     200/201 or a clean 503, and requests succeed again right after;
#   - a server that accepts and never answers the start-up: new
#     connections hang in the proxy while the open ones are reset; every
#     request is answered within the bound (the connection attempt is cut
#     at the pool timeout), and requests succeed once it answers again;
# Every scenario: every 201 stored, nothing twice, no 409 for one's own row.
. "$(dirname "$0")/lib.sh"
need_python
only_backends postgres mysql

POOL_MS=500 STMT_MS=1500 MARGIN_MS=700
BOUND=$((POOL_MS + STMT_MS + MARGIN_MS))
proxy_start
start_server --database "$PROXY_URL" --pool-timeout-ms $POOL_MS --statement-timeout-ms $STMT_MS
create_user faults Fault Y
ID=$USER_ID
[ -n "$ID" ] && [ "$ID" != null ] || bail "a first user exists"

# --- resets ------------------------------------------------------------------
load_start reset 4 5
for i in 1 2 3; do
    sleep 0.7
    proxy reset >/dev/null || bail "the proxy resets"
done
recovers_within 2000
sleep 0.5
load_stop
check_bound reset $BOUND "200 201 503"
check_writes reset

# --- accepts, never answers ----------------------------------------------------
proxy silent >/dev/null || bail "the proxy stops answering new connections"
proxy reset >/dev/null
load_start silent 4 5
sleep 3
expect_eq "$(hit GET /readyz "" 5 | cut -d'|' -f1)" 503 "/readyz says 503 while the database does not answer"
proxy pass >/dev/null
recovers_within 2000
load_stop
check_bound silent $BOUND "200 201 503"
check_writes silent
CT=$(metric usersvc_db_connect_timeouts_total)
if [ "${CT:-0}" -gt 0 ]; then ok "connect timeouts are counted ($CT)"; else not_ok "connect timeouts are counted (got '$CT')"; fi
