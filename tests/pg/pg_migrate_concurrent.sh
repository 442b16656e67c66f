#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Migrations on PostgreSQL: concurrent `usersvc migrate` runs on a fresh
# database are serialised by the advisory lock (all succeed, the migration
# is applied once), a run waits while another holds the lock, a failing
# migration leaves nothing behind (transactional DDL), and down/up round-trip.
. "$(dirname "$0")/lib_pg.sh"

RUNNERS=4
for round in 1 2 3; do
    new_database
    pids=()
    for i in $(seq 1 "$RUNNERS"); do
        timeout -k 5 60 "$USERSVC_BIN" migrate --database "$DB_URL" \
            >"$TMP/m.$round.$i.out" 2>"$TMP/m.$round.$i.err" </dev/null &
        pids+=($!)
    done
    codes=
    for p in "${pids[@]}"; do
        wait "$p"
        codes+="$? "
    done
    expect_eq "$codes" "$(printf '0 %.0s' $(seq 1 "$RUNNERS"))" \
        "round $round: $RUNNERS concurrent migrate runs all exit 0"
    applied=$(cat "$TMP"/m.$round.*.err "$TMP"/m.$round.*.out \
        | grep -c 'applied 0001_create_users')
    expect_eq "$applied" 1 "round $round: exactly one run applied 0001"
    expect_eq "$(db_exec 'SELECT count(*), count(DISTINCT version), min(version), max(version)
                          FROM schema_migrations')" "3|3|1|3" \
        "round $round: schema_migrations has one row per migration (0001, 0002, 0003)"
    expect_eq "$(db_exec "SELECT to_regclass('public.users') IS NOT NULL")" t \
        "round $round: the users table exists"
    if cat "$TMP"/m.$round.*.err | grep -Eqi 'error|warn'; then
        not_ok "round $round: no run logged an error"
        diag "$(cat "$TMP"/m.$round.*.err | grep -Ei 'error|warn' | head -n 5)"
    else
        ok "round $round: no run logged an error"
    fi
done

run_cli migrate status --database "$DB_URL"
expect_cli_rc 0 "migrate status: current"

# A run waits for the lock while someone else holds it, then proceeds.
# (pg_locks is cluster-wide: every count below is limited to this test's
# database, since tests running in parallel take advisory locks of their own.)
new_database
timeout 30 psql -X -q -w "$DB_URL" -c "SELECT pg_advisory_lock($PG_MIGRATION_LOCK_KEY)" \
    -c "SELECT pg_sleep(3)" >/dev/null 2>&1 &
HOLDER=$!
for _ in $(seq 1 50); do
    n=$(db_exec "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND granted")
    [ "$n" = 1 ] && break
    sleep 0.1
done
expect_eq "$n" 1 "another session holds the migration lock"
start=$(date +%s%N)
timeout -k 5 60 "$USERSVC_BIN" migrate --database "$DB_URL" >"$TMP/wait.out" 2>"$TMP/wait.err" \
    </dev/null &
RUNNER=$!
waiting=0
for _ in $(seq 1 30); do
    waiting=$(db_exec "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND NOT granted")
    [ "$waiting" = 1 ] && break
    sleep 0.1
done
expect_eq "$waiting" 1 "migrate queues for the lock"
expect_eq "$(db_exec "SELECT to_regclass('public.users') IS NULL")" t \
    "nothing applied while the lock is held"
wait "$RUNNER"
rc=$?
wait "$HOLDER"
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
expect_eq "$rc" 0 "migrate succeeds once the lock is released"
if [ "$elapsed_ms" -ge 1500 ]; then
    ok "migrate waited for the holder (${elapsed_ms} ms)"
else
    not_ok "migrate waited for the holder (${elapsed_ms} ms)"
fi
expect_eq "$(db_exec 'SELECT count(*), count(DISTINCT version) FROM schema_migrations')" "3|3" \
    "then each migration applied once"
expect_eq "$(db_exec "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")" 0 \
    "the lock is released afterwards"

# A failing migration leaves nothing: the table created by its first
# statement is rolled back with the failing second one.
new_database
db_exec 'CREATE TABLE squatter (x text); CREATE INDEX users_login_lower_key ON squatter (x)' \
    >/dev/null || bail "cannot prepare the failing database"
run_cli migrate --database "$DB_URL"
expect_cli_fails "migrate fails when its index name is taken"
expect_output 'users_login_lower_key|0001' "the failure names the migration or the object"
expect_eq "$(db_exec "SELECT to_regclass('public.users') IS NULL")" t \
    "no users table is left behind"
expect_eq "$(db_exec 'SELECT count(*) FROM schema_migrations')" 0 \
    "no schema_migrations row (not even a dirty one)"
expect_output_not_contains "usersvc-pw" "the password does not appear in the output"
db_exec 'DROP TABLE squatter' >/dev/null
run_cli migrate --database "$DB_URL"
expect_cli_rc 0 "after the repair migrate succeeds"

# down and up again (all three migrations)
run_cli migrate down 3 --database "$DB_URL"
expect_cli_rc 0 "migrate down 3"
expect_eq "$(db_exec "SELECT to_regclass('public.users') IS NULL")" t "down dropped users"
run_cli migrate status --database "$DB_URL"
expect_cli_fails "status is non-zero with 0001 pending"
run_cli migrate --database "$DB_URL"
expect_cli_rc 0 "migrate up again"
expect_eq "$(db_exec 'SELECT count(*) FROM schema_migrations')" 3 "recorded again"
