#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Connections reset under a load of concurrent POSTs only (issue 19), so
# the resets land in the middle of batched inserts: PostgreSQL's pipeline,
# MariaDB's multi-row INSERT ... RETURNING. An insert whose outcome the
# reset made unknown is answered 503, never sent again: every answer is
# 201 or a clean 503 within the bound, every 201 is stored exactly once,
# no 409 for one's own row, and the inserts were batched.
. "$(dirname "$0")/lib.sh"
need_python
only_backends postgres mysql

POOL_MS=500 STMT_MS=1500 MARGIN_MS=700
BOUND=$((POOL_MS + STMT_MS + MARGIN_MS))
proxy_start
start_server --database "$PROXY_URL" --pool-timeout-ms $POOL_MS --statement-timeout-ms $STMT_MS
create_user batchfaults Fault Y
ID=$USER_ID
[ -n "$ID" ] && [ "$ID" != null ] || bail "a first user exists"

# post_worker PREFIX W: POST /users (login PREFIXwWiN) until the stop file,
# 300 requests or 60 s; lines as load_start's.
post_worker() {
    local prefix=$1 w=$2 i=0 t0 res login end
    now; end=$((NOW_MS + 60000))
    while [ ! -e "$STOP_FILE" ] && [ "$i" -lt 300 ]; do
        now
        [ "$NOW_MS" -lt "$end" ] || break
        t0=$NOW_MS
        i=$((i + 1))
        login="${prefix}w${w}i$i"
        res=$(hit POST /users "{\"login\":\"$login\"}" 5)
        now
        echo "$t0 $NOW_MS $res $login" >>"$TMP/$prefix.load.$w"
    done
}

batched_before=$(metric usersvc_db_batched_statements_total)
for w in $(seq 1 12); do
    spawn post_worker breset "$w"
done
for i in 1 2 3 4 5; do
    sleep 0.6
    proxy reset >/dev/null || bail "the proxy resets"
done
recovers_within 2000
sleep 0.5
load_stop
batched_after=$(metric usersvc_db_batched_statements_total)
check_bound breset $BOUND "201 503"
check_writes breset
n201=$(cat "$TMP"/breset.load.* | awk '{ split($3, f, "|"); if (f[1] == "201") n++ } END { print n + 0 }')
if [ "$n201" -gt 0 ]; then ok "some creates succeeded ($n201)"; else not_ok "some creates succeeded"; fi
if [ "${batched_after:-0}" -gt "${batched_before:-0}" ]; then
    ok "the creates were batched (batched statements $batched_before -> $batched_after)"
else
    not_ok "the creates were batched (batched statements $batched_before -> $batched_after)"
fi
