#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Many instances through PgBouncer (issue 18).
#
#  1. Transaction mode (tests/lib/pgbouncer.sh: default_pool_size 20): two
#     `usersvc migrate` at once through the pooler both succeed, each
#     migration recorded once, and no advisory lock is left on any server
#     connection (the lock is per transaction).
#  2. 8 instances at the default pool size (16 each: 128 client connections
#     on 20 server connections) with DB_PREPARED_STATEMENTS=off, mixed load
#     (POST, GET, PATCH, list, DELETE) on all of them: zero errors, every
#     acknowledged write found.
#  3. During that load a migration that needs `users` exclusively
#     (usersvc-testapp's 9003) is applied through the pooler; afterwards no
#     advisory lock is held, and five more `migrate` runs return at once.
#  4. Session mode with every server connection taken: a request that needs
#     a new connection (PgBouncer lets it log in, then queues its first
#     statement) is answered within DB_POOL_TIMEOUT_MS plus a margin, 2xx
#     or 503 with Retry-After, never held for PgBouncer's query_wait_timeout.
#  5. Statement mode: `serve` and `migrate` refuse to start (exit 2) with a
#     message naming the fix, instead of answering 503 for ever.
. "$(dirname "$0")/lib.sh"
# shellcheck source=../lib/pgbouncer.sh
. "$HA_DIR/../lib/pgbouncer.sh"

N=8
WORKERS_PER=2
LOAD_S=10
CURL_MAX_S=10
TESTAPP=${USERSVC_TESTAPP_BIN:-$(dirname "$USERSVC_BIN")/tests/resource/usersvc-testapp}

pgbouncer_available || skip_all "pgbouncer not installed (scripts/install-deps.sh test)"
ha_pg_url
new_database
DB=${DB_NAMES[-1]}
HA_CLEANUP_HOOKS+=(pgbouncer_stop)
pgbouncer_start transaction 2>"$TMP/pgbouncer.err" \
    || bail "PgBouncer starts ($(cat "$TMP/pgbouncer.err"))"
BOUNCER_URL=$(pgbouncer_url "$DB")

advisory_locks() {
    db_exec "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
}

# --- 1. concurrent migrate runs through the pooler -------------------------
"$USERSVC_BIN" migrate --database "$BOUNCER_URL" --db-prepared-statements off \
    >"$TMP/m1.out" 2>&1 &
p1=$!
"$USERSVC_BIN" migrate --database "$BOUNCER_URL" --db-prepared-statements off \
    >"$TMP/m2.out" 2>&1 &
p2=$!
wait "$p1"; rc1=$?
wait "$p2"; rc2=$?
expect_eq "$rc1 $rc2" "0 0" "two migrate runs at once through PgBouncer (transaction mode) succeed"
dup=$(db_exec "SELECT count(*) - count(DISTINCT version) FROM schema_migrations")
expect_eq "$dup" 0 "each migration recorded once"
expect_eq "$(advisory_locks)" 0 "no advisory lock left on the server connections"

# --- 2. 8 instances at the default pool size, mixed load -------------------
up=0
for i in $(seq 1 "$N"); do
    inst_start "b$i" serve --database "$BOUNCER_URL" --host 127.0.0.1 --port 0 \
        --db-prepared-statements off && up=$((up + 1))
done
expect_eq "$up" "$N" "$N instances (default pool size 16) start behind PgBouncer"
[ "$up" = "$N" ] || bail "instances up"
rm -f "$STOP_FILE" "$TMP"/load.*
now
deadline=$((NOW_MS + LOAD_S * 1000))
w=0
for i in $(seq 1 "$N"); do
    for _ in $(seq 1 "$WORKERS_PER"); do
        w=$((w + 1))
        LOAD_MIX=1 load_worker "$w" "http://127.0.0.1:$(inst_port "b$i")" 100000 "$deadline" \
            "$CURL_MAX_S" &
        HA_WORKERS+=($!)
    done
done

# --- 3. a migration through the pooler during the load ---------------------
sleep 2
if [ -x "$TESTAPP" ]; then
    timeout 60 "$TESTAPP" migrate --database "$BOUNCER_URL" --db-prepared-statements off \
        --migration-lock-timeout-ms 500 >"$TMP/m3.out" 2>&1
    rc=$?
    expect_eq "$rc" 0 "a migration that needs users exclusively is applied through the pooler under load"
    [ "$rc" = 0 ] || diag_file migrate "$TMP/m3.out"
else
    echo "# no usersvc-testapp: migration under load skipped"
fi
now
[ "$NOW_MS" -lt "$deadline" ] && sleep $(( (deadline - NOW_MS) / 1000 + 1 ))
load_stop 30

total=$(wc -l <"$TMP/load.all")
failed=$(awk '$3 !~ /^2[0-9][0-9]$/' "$TMP/load.all" | wc -l)
maxms=$(awk '{ d = $2 - $1; if (d > m) m = d } END { print m + 0 }' "$TMP/load.all")
echo "# $N instances x pool 16 through PgBouncer (transaction mode, 20 server connections)," \
    "$((N * WORKERS_PER)) clients for $LOAD_S s: $total requests; statuses: $(status_counts);" \
    "slowest $maxms ms"
check "the load ran (at least 200 requests)" [ "$total" -ge 200 ]
expect_eq "$failed" 0 "zero errors under mixed load through PgBouncer"
[ "$failed" -gt 0 ] && diag "$(awk '$3 !~ /^2[0-9][0-9]$/' "$TMP/load.all" | head -n 10)"
res=$(check_acknowledged)
expect_eq "$?" 0 "no acknowledged write lost: $res"
ready=0
for i in $(seq 1 "$N"); do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
        "http://127.0.0.1:$(inst_port "b$i")/readyz")
    [ "$code" = 200 ] && ready=$((ready + 1))
done
expect_eq "$ready" "$N" "every instance is ready after the load"
expect_eq "$(advisory_locks)" 0 "no advisory lock held after the migration"
slow=0
for i in 1 2 3 4 5; do
    now; t0=$NOW_MS
    timeout 30 "$USERSVC_BIN" migrate --database "$BOUNCER_URL" --db-prepared-statements off \
        >"$TMP/m4.$i.out" 2>&1 || slow=$((slow + 100))
    now
    [ $((NOW_MS - t0)) -lt 5000 ] || slow=$((slow + 1))
done
expect_eq "$slow" 0 "five more migrate runs through the pooler each succeed at once"
for i in $(seq 1 "$N"); do
    inst_term "b$i"
done
for i in $(seq 1 "$N"); do
    inst_wait_exit "b$i" 15
done
pgbouncer_stop

# --- 4. session mode, every server connection taken -------------------------
pgbouncer_start session 2>"$TMP/pgbouncer.err" \
    || bail "PgBouncer (session mode) starts ($(cat "$TMP/pgbouncer.err"))"
SESSION_URL=$(pgbouncer_url "$DB")
# No idle connection kept (min idle 0, closed after 200 ms), so the PATCHes
# below certainly need new connections, which PgBouncer can only queue.
inst_start s1 serve --database "$SESSION_URL" --host 127.0.0.1 --port 0 --pool-timeout-ms 1000 \
    --pool-min-idle 0 --pool-idle-timeout-ms 200 \
    || bail "an instance starts behind PgBouncer in session mode"
SBASE=http://127.0.0.1:$(inst_port s1)
ids=()
for n in 1 2 3 4; do
    id=$(curl -s --max-time 5 -X POST -H 'Content-Type: application/json' \
        --data-binary "{\"login\":\"sess$n\"}" "$SBASE/users" | jq -r .id)
    ids+=("$id")
done
# The instance gives its connections back (idle timeout); then 20
# sessions take all 20 server connections, seen on the server itself.
sleep 1
HOLDERS=()
for n in $(seq 1 20); do
    timeout 40 psql -X -q -w "$SESSION_URL" -c "SELECT pg_sleep(20)" >/dev/null 2>&1 &
    HOLDERS+=($!)
done
held=0
for _ in $(seq 1 100); do
    held=$(db_exec "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(20)%' AND state = 'active'")
    [ "${held:-0}" -ge 20 ] && break
    sleep 0.1
done
expect_eq "$held" 20 "20 sessions hold every server connection of PgBouncer"
for n in 1 2 3 4; do
    ( curl -s -o /dev/null --max-time 15 -X PATCH -H 'Content-Type: application/merge-patch+json' \
        --data-binary '{"first_name":"Q"}' -w '%{http_code} %{time_total} %header{retry-after}\n' \
        "$SBASE/users/${ids[$((n - 1))]}" >"$TMP/sess.$n" ) &
done
wait "${!}" 2>/dev/null
sleep 4
cat "$TMP"/sess.* >"$TMP/sess.all"
slow=$(awk '$1 == "000" || $2 > 3.0' "$TMP/sess.all" | wc -l)
bad=$(awk '$1 !~ /^2/ && !($1 == 503 && $3 ~ /^[0-9]+$/)' "$TMP/sess.all" | wc -l)
echo "# 4 PATCHes needing new connections while PgBouncer's 20 are taken: $(tr '\n' ';' <"$TMP/sess.all")"
expect_eq "$slow" 0 "none waits for PgBouncer's queue: each answered within the pool timeout + 2 s"
expect_eq "$bad" 0 "each is 2xx or 503 with Retry-After"
cut=$(curl -s --max-time 5 "$SBASE/metrics" \
    | awk '$1 == "usersvc_db_connect_timeouts_total{pool=\"primary\"}" { print $2 }')
check "the queued connection attempts were cut and counted ($cut)" [ "${cut:-0}" -gt 0 ]
for pid in "${HOLDERS[@]}"; do
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
done
inst_term s1
inst_wait_exit s1 15
pgbouncer_stop

# --- 5. statement mode is refused at start ----------------------------------
pgbouncer_start statement 2>"$TMP/pgbouncer.err" \
    || bail "PgBouncer (statement mode) starts ($(cat "$TMP/pgbouncer.err"))"
STMT_URL=$(pgbouncer_url "$DB")
timeout 30 "$USERSVC_BIN" serve --database "$STMT_URL" --port 0 --db-prepared-statements off \
    >"$TMP/s.out" 2>"$TMP/s.log"
expect_eq "$?" 2 "serve through PgBouncer in statement mode exits 2 at start"
check "and says why and what to do" grep -q 'refuses transactions.*pool_mode = transaction' \
    "$TMP/s.log"
timeout 30 "$USERSVC_BIN" migrate --database "$STMT_URL" --db-prepared-statements off \
    >"$TMP/sm.out" 2>"$TMP/sm.log"
expect_eq "$?" 2 "migrate through PgBouncer in statement mode exits 2"
