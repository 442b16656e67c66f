#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Migrations that never stall traffic (issue 18), on PostgreSQL and, when
# USERSVC_TEST_MYSQL_URL is set, MariaDB.
#
# Two instances serve mixed load (POST, GET, PATCH, list, DELETE) while a
# long transaction has read `users` (it holds a shared lock on the table for
# LONG_TX_S) and a migration that needs `users` exclusively (the test-only
# 9003_users_nickname of usersvc-testapp: ALTER TABLE users ADD COLUMN) is
# applied. Without a lock timeout the ALTER would wait for the whole long
# transaction, and every request touching `users` would queue behind it.
# Here:
#   - no request waits longer than the migration lock timeout plus a margin
#     (far below LONG_TX_S), and none fails;
#   - `migrate` logs each wait (the statement, how long, the retry) and,
#     once the long transaction ends, applies the migration (exit 0);
#   - no acknowledged write is lost.
. "$(dirname "$0")/lib.sh"

LONG_TX_S=8
LOCK_MS=500             # --migration-lock-timeout-ms (MariaDB: rounded up to 1 s)
MARGIN_MS=3000          # a loaded 2-core machine: scheduling, curl start-up
WORKERS_PER=2
CURL_MAX_S=10
TESTAPP=${USERSVC_TESTAPP_BIN:-$(dirname "$USERSVC_BIN")/tests/resource/usersvc-testapp}

[ -x "$TESTAPP" ] || skip_all "no usersvc-testapp at $TESTAPP (build first)"
ha_pg_url

run_case() {
    local backend=$1 lock_ms=$2 i w=0 now0 rc long_pid total failed maxms bound waits res
    BACKEND=$backend
    DB_URL=
    new_database
    "$USERSVC_BIN" migrate --database "$DB_URL" >"$TMP/migrate0.$backend" 2>&1 \
        || { diag_file migrate "$TMP/migrate0.$backend"; bail "$backend: migrate"; }
    for i in 1 2; do
        inst_start "$backend$i" serve --database "$DB_URL" --host 127.0.0.1 --port 0 \
            || bail "$backend: instance $i starts"
    done
    rm -f "$STOP_FILE" "$TMP"/load.*
    now
    now0=$NOW_MS
    for i in 1 2; do
        for _ in $(seq 1 "$WORKERS_PER"); do
            w=$((w + 1))
            LOAD_MIX=1 load_worker "$w" "http://127.0.0.1:$(inst_port "$backend$i")" 100000 \
                $((now0 + (LONG_TX_S + 20) * 1000)) "$CURL_MAX_S" &
            HA_WORKERS+=($!)
        done
    done
    sleep 1
    # The long transaction: a read of users, then nothing for LONG_TX_S.
    if [ "$backend" = postgres ]; then
        db_exec "BEGIN; SELECT count(*) FROM users; SELECT pg_sleep($LONG_TX_S); COMMIT;" \
            >"$TMP/longtx.$backend" 2>&1 &
    else
        db_exec "START TRANSACTION; SELECT COUNT(*) FROM users; SELECT SLEEP($LONG_TX_S); COMMIT;" \
            >"$TMP/longtx.$backend" 2>&1 &
    fi
    long_pid=$!
    # The migration starts only once the transaction holds users (bounded).
    held=0
    for _ in $(seq 1 100); do
        if [ "$backend" = postgres ]; then
            held=$(db_exec "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%pg_sleep($LONG_TX_S)%' AND pid <> pg_backend_pid()")
        else
            held=$(db_exec "SELECT COUNT(*) FROM information_schema.processlist WHERE info LIKE 'SELECT SLEEP($LONG_TX_S)%'")
        fi
        [ "${held:-0}" -ge 1 ] && break
        sleep 0.1
    done
    check "$backend: the long transaction holds users before the migration starts" \
        [ "${held:-0}" -ge 1 ]
    timeout 90 "$TESTAPP" migrate --database "$DB_URL" --migration-lock-timeout-ms "$LOCK_MS" \
        --migration-retries 10 >"$TMP/migrate.$backend" 2>&1
    rc=$?
    wait "$long_pid"
    sleep 1
    load_stop 30
    expect_eq "$rc" 0 "$backend: the migration waits out the long transaction and is applied"
    [ "$rc" = 0 ] || diag_file migrate "$TMP/migrate.$backend"
    waits=$(grep -c 'waited .* ms for a lock another transaction holds and gave up' \
        "$TMP/migrate.$backend")
    check "$backend: migrate logged each wait and retry ($waits)" [ "$waits" -ge 1 ]
    grep -m1 'gave up' "$TMP/migrate.$backend" | sed 's/^/# /' | cut -c1-400
    check "$backend: 9003_users_nickname applied" grep -q 'applied 9003_users_nickname' \
        "$TMP/migrate.$backend"
    if [ "$backend" = postgres ]; then
        col=$(db_exec "SELECT count(*) FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'nickname'")
    else
        col=$(db_exec "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'users' AND column_name = 'nickname'")
    fi
    expect_eq "$col" 1 "$backend: users has the new column"
    total=$(wc -l <"$TMP/load.all")
    failed=$(awk '$3 !~ /^2[0-9][0-9]$/' "$TMP/load.all" | wc -l)
    maxms=$(awk '{ d = $2 - $1; if (d > m) m = d } END { print m + 0 }' "$TMP/load.all")
    # MariaDB's lock_wait_timeout counts whole seconds.
    if [ "$backend" = postgres ]; then
        bound=$((lock_ms + MARGIN_MS))
    else
        bound=$(( (lock_ms + 999) / 1000 * 1000 + MARGIN_MS ))
    fi
    echo "# $backend: $total requests during a ${LONG_TX_S} s transaction and the migration;" \
        "statuses: $(status_counts); slowest $maxms ms; $waits wait(s) of the migration"
    check "$backend: the load ran (at least 50 requests)" [ "$total" -ge 50 ]
    check "$backend: the bound is below the stall it prevents ($bound < $((LONG_TX_S * 1000)) ms)" \
        [ "$bound" -lt $((LONG_TX_S * 1000)) ]
    expect_eq "$failed" 0 "$backend: no request failed while the migration waited"
    [ "$failed" -gt 0 ] && diag "$(awk '$3 !~ /^2[0-9][0-9]$/' "$TMP/load.all" | head -n 10)"
    check "$backend: no request waited beyond the lock timeout plus a margin ($maxms <= $bound ms; the transaction held users $((LONG_TX_S * 1000)) ms)" \
        [ "$maxms" -le "$bound" ]
    res=$(check_acknowledged)
    expect_eq "$?" 0 "$backend: no acknowledged write lost: $res"
    for i in 1 2; do
        inst_term "$backend$i"
        inst_wait_exit "$backend$i" 15
    done
}

run_case postgres "$LOCK_MS"
if [ -n "${USERSVC_TEST_MYSQL_URL:-}" ]; then
    run_case mysql "$LOCK_MS"
else
    echo "# USERSVC_TEST_MYSQL_URL not set: MariaDB case skipped"
fi
