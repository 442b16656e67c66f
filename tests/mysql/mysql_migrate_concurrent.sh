#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Concurrent `usersvc migrate` runs on MySQL/MariaDB are serialised by
# GET_LOCK: four at once on a fresh database all exit 0, exactly one applies
# the migration, and it is recorded once. The lock is per database: a run
# waits while another session holds its database's lock, and a run on
# another database does not.
. "$(dirname "$0")/lib_mysql.sh"
new_database

pids=()
for i in 1 2 3 4; do
    timeout 60 "$USERSVC_BIN" migrate up --database "$DB_URL" >"$TMP/m$i.out" 2>&1 &
    pids+=($!)
done
rcs=
for p in "${pids[@]}"; do
    wait "$p"
    rcs+="$? "
done
expect_eq "$rcs" "0 0 0 0 " "four concurrent migrate runs all exit 0"
[ "$rcs" = "0 0 0 0 " ] || for i in 1 2 3 4; do diag_file "run $i" "$TMP/m$i.out"; done
expect_eq "$(grep -l 'applied 0001_create_users' "$TMP"/m?.out | wc -l)" 1 \
    "exactly one run applied 0001_create_users"
expect_eq "$(grep -l '^0 migration(s) applied' "$TMP"/m?.out | wc -l)" 3 \
    "the other three found nothing to do"
# Every migration (0001 and whatever followed it) applied by one run, once.
applied=$(grep -ho 'applied [0-9][0-9][0-9][0-9]_[a-z0-9_]*' "$TMP"/m?.out | sort)
expect_eq "$(printf '%s\n' "$applied" | uniq -d)" "" "no migration was applied twice"
N_APPLIED=$(printf '%s\n' "$applied" | grep -c .)
expect_eq "$(my_sql 'SELECT COUNT(*), SUM(dirty) FROM schema_migrations' 2>&1)" "$N_APPLIED	0" \
    "schema_migrations has one clean row per applied migration ($N_APPLIED)"
expect_eq "$(my_sql "SHOW TABLES LIKE 'users'" 2>&1)" users "the users table exists"
run_cli migrate status --database "$DB_URL"
expect_cli_rc 0 "migrate status: current"

# A session holding this database's migration lock makes a run wait.
new_database
HOLDER_DB=${DB_NAMES[-1]}
HOLDER_URL=$DB_URL
my_sql "SELECT GET_LOCK($USV_LOCK_NAME_SQL, 10), SLEEP(3)" >"$TMP/holder.out" 2>&1 &
holder=$!
for i in $(seq 1 50); do
    [ "$(my_admin "SELECT IS_USED_LOCK(CONCAT('usersvc_migrate_', SHA1('$HOLDER_DB')))
                   IS NOT NULL")" = 1 ] && break
    sleep 0.1
done
# ... while a run on another database goes straight through.
new_database
t0=$(now_ms)
run_cli migrate up --database "$DB_URL"
dt=$(($(now_ms) - t0))
expect_cli_rc 0 "migrate on another database while the first one's lock is held"
expect_fast "$dt" 2000 "it did not wait for the other database's lock"
t0=$(now_ms)
run_cli migrate up --database "$HOLDER_URL"
dt=$(($(now_ms) - t0))
expect_cli_rc 0 "migrate on the locked database succeeds once the lock is free"
if [ "$dt" -ge 1500 ]; then
    ok "it waited for the lock (${dt} ms)"
else
    not_ok "it waited for the lock (${dt} ms)"
fi
wait "$holder"
expect_eq "$(_mysql_client -D "$HOLDER_DB" -e 'SELECT COUNT(*) FROM schema_migrations' 2>&1)" \
    "$N_APPLIED" "and applied each migration once"
