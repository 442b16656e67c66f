#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Fault: a network partition between usersvc and its database (issue 16).
#
# usersvc reaches the database through tests/fault/faultproxy.py, with
# DB_POOL_TIMEOUT_MS=500 and DB_STATEMENT_TIMEOUT_MS=1500. Under a small
# load the proxy black-holes every connection (sockets open, no FIN, no RST)
# for 6 s, four times the bound, then forwards again:
#   - every request is answered within pool + statement timeout + 700 ms,
#     200/201 or 503 with Retry-After;
#   - /readyz says 503 during the partition;
#   - requests succeed again within 2 s of its end;
#   - every 201 is stored, nothing twice, no 409 for one's own write;
#   - the statement timeouts are counted in /metrics.
. "$(dirname "$0")/lib.sh"
need_python
only_backends postgres mysql

POOL_MS=500 STMT_MS=1500 MARGIN_MS=700
proxy_start
start_server --database "$PROXY_URL" --pool-timeout-ms $POOL_MS --statement-timeout-ms $STMT_MS
create_user part Part Ition
ID=$USER_ID
[ -n "$ID" ] && [ "$ID" != null ] || bail "a first user exists"

load_start part 4 5
sleep 1
proxy blackhole >/dev/null || bail "the proxy black-holes"
sleep 2
expect_eq "$(hit GET /readyz "" 5 | cut -d'|' -f1)" 503 "/readyz says 503 during the partition"
sleep 4
proxy pass >/dev/null || bail "the proxy forwards again"
recovers_within 2000
sleep 1
load_stop
check_bound part $((POOL_MS + STMT_MS + MARGIN_MS)) "200 201 503"
check_writes part
T=$(metric usersvc_db_statement_timeouts_total)
if [ "${T:-0}" -gt 0 ]; then ok "statement timeouts are counted ($T)"; else not_ok "statement timeouts are counted (got '$T')"; fi
expect_eq "$(hit GET /readyz "" 5 | cut -d'|' -f1)" 200 "/readyz says 200 again"
