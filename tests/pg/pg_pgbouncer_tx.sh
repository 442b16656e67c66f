#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# usersvc behind PgBouncer in transaction mode (API.md "Poolers", issue 18).
# With DB_PREPARED_STATEMENTS=off a bounded concurrent mixed load (POST,
# GET, PATCH, list, DELETE from several clients at once, so PgBouncer moves
# the sessions between its server connections) gets no 5xx at all, and the
# service stays ready. With the default (on) the same load fails for real:
# the server connections do not have, or already have, the named
# statements; usersvc warns at start that a pooler is in the way, names
# the option in the log, and replaces the connections instead of answering
# 500 for ever. The schema is migrated directly, not through the pooler.
. "$(dirname "$0")/lib_pg.sh"
# shellcheck source=../lib/pgbouncer.sh
. "$PG_TEST_DIR/../lib/pgbouncer.sh"

pgbouncer_available || skip_all "pgbouncer not installed (scripts/install-deps.sh test)"
new_database
DB=${DB_NAMES[-1]}
run_cli migrate --database "$DB_URL"
expect_cli_rc 0 "schema migrated directly"

pgbouncer_start transaction 2>"$TMP/pgbouncer.err" \
    || bail "PgBouncer started ($(cat "$TMP/pgbouncer.err"))"
trap 'st=$?; pgbouncer_stop; (exit "$st"); _finish' EXIT
BOUNCER_URL=$(pgbouncer_url "$DB")
WORKERS=6
LOAD_S=4

# mixed_worker N: until $TMP/load.stop, one user's life per round (POST,
# GET, PATCH, list, DELETE); one line per request: "METHOD STATUS".
mixed_worker() {
    local i=0 code id out=$TMP/mix.$1 body=$TMP/mix.$1.body
    while [ ! -e "$TMP/load.stop" ] && [ "$i" -lt 2000 ]; do
        i=$((i + 1))
        code=$(curl -sS --max-time 10 -o "$body" -w '%{http_code}' -X POST \
            -H 'Content-Type: application/json' --data-binary "{\"login\":\"m$1_$i\"}" \
            "$BASE_URL/users" 2>/dev/null)
        echo "POST $code" >>"$out"
        [ "$code" = 201 ] || continue
        id=$(jq -r .id "$body" 2>/dev/null)
        code=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' \
            "$BASE_URL/users/$id" 2>/dev/null)
        echo "GET $code" >>"$out"
        code=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' -X PATCH \
            -H 'Content-Type: application/merge-patch+json' \
            --data-binary '{"first_name":"Pat"}' "$BASE_URL/users/$id" 2>/dev/null)
        echo "PATCH $code" >>"$out"
        code=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' \
            "$BASE_URL/users?limit=5" 2>/dev/null)
        echo "LIST $code" >>"$out"
        code=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' -X DELETE \
            "$BASE_URL/users/$id" 2>/dev/null)
        echo "DELETE $code" >>"$out"
    done
}

# run_load: WORKERS mixed workers for LOAD_S seconds; prints the tally.
run_load() {
    local pids=() w p
    rm -f "$TMP"/mix.* "$TMP/load.stop"
    for w in $(seq 1 "$WORKERS"); do
        mixed_worker "$w" &
        pids+=($!)
    done
    sleep "$LOAD_S"
    touch "$TMP/load.stop"
    for p in "${pids[@]}"; do wait "$p"; done
    cat "$TMP"/mix.[0-9] "$TMP"/mix.[0-9][0-9] 2>/dev/null
}

# ---- DB_PREPARED_STATEMENTS=off: works ---------------------------------------
DB_PREPARED_STATEMENTS=off launch_server serve --database "$BOUNCER_URL" --host 127.0.0.1 \
    --port 0 --pool-size 8
results=$(run_load)
tally=$(printf '%s\n' "$results" | awk '{ n[$1 " " $2]++ } END { for (k in n) print n[k], k }' \
    | sort -k2 | tr '\n' ',')
diag "off: $tally"
for m in POST GET PATCH LIST DELETE; do
    n=$(printf '%s\n' "$results" | awk -v m="$m" '$1 == m && $2 ~ /^2/' | wc -l)
    if [ "$n" -ge 3 ]; then ok "off: $m answered 2xx under load ($n)"
    else not_ok "off: $m answered 2xx under load ($n)"; fi
done
bad=$(printf '%s\n' "$results" | awk '$2 !~ /^2/' | sort | uniq -c | tr -s ' ')
expect_eq "$bad" "" "off: no request but 2xx through PgBouncer transaction mode"
# Concurrent one-statement requests share pipelines: the unnamed statements
# of several Syncs go through the pooler in one send. A burst of GETs makes
# sure some do.
post /users '{"login":"burst"}'
BURST_ID=$(json_get .id)
expect_eq "$(concurrent_gets 3 16 "/users/$BURST_ID")" "200 " "off: 48 concurrent GETs answered 200"
batched=$(curl -sS --max-time 5 "$BASE_URL/metrics" 2>/dev/null \
    | awk '$1 == "usersvc_db_batched_statements_total{pool=\"primary\"}" { print $2 }')
batches=$(curl -sS --max-time 5 "$BASE_URL/metrics" 2>/dev/null \
    | awk '$1 == "usersvc_db_batches_total{pool=\"primary\"}" { print $2 }')
diag "off: $batched statements in $batches batches"
if [ "${batched:-0}" -gt "${batches:-0}" ] 2>/dev/null; then
    ok "off: pipelines of several statements ran through the pooler"
else
    not_ok "off: pipelines of several statements ran through the pooler"
fi
get /readyz
expect_status 200 "off: ready after the load"
post /users '{"login":"after_off"}'
expect_status 201 "off: a POST after the load"
expect_eq "$(grep -c 'connection pooler sits between' "$SERVER_LOG")" 0 \
    "off: no pooler warning (nothing to warn about)"
stop_server

# ---- on (the default): the failure is real, and said --------------------------
launch_server serve --database "$BOUNCER_URL" --host 127.0.0.1 --port 0 --pool-size 8
LOAD_S=3
results=$(run_load)
tally=$(printf '%s\n' "$results" | awk '{ n[$1 " " $2]++ } END { for (k in n) print n[k], k }' \
    | sort -k2 | tr '\n' ',')
diag "on: $tally"
n5=$(printf '%s\n' "$results" | awk '$2 ~ /^5/' | wc -l)
if [ "$n5" -gt 0 ]; then ok "on: named statements fail through transaction mode ($n5 5xx)"
else not_ok "on: named statements fail through transaction mode (no 5xx)"; fi
n500=$(printf '%s\n' "$results" | awk '$2 == 500' | wc -l)
expect_eq "$n500" 0 "on: a statement the pooler lost is 503 (connection replaced), never 500"
expect_match "$(cat "$SERVER_LOG")" "connection pooler sits between usersvc and PostgreSQL" \
    "on: the start-up log warns that a pooler is in the way"
expect_match "$(cat "$SERVER_LOG")" "set DB_PREPARED_STATEMENTS=off" \
    "on: the failures' log lines name the option"
stop_server

# ---- a bad value: exit 2 ------------------------------------------------------
run_cli serve --database "$BOUNCER_URL" --db-prepared-statements maybe
expect_cli_rc 2 "--db-prepared-statements maybe: exit 2"
expect_output "DB_PREPARED_STATEMENTS" "the message names the option"
