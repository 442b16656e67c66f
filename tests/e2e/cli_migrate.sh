#!/usr/bin/env bash
# usersvc migrate [up|status|down [N]] and `serve` refusing a schema that is behind.
# Three migrations are embedded: 0001_create_users, 0002_add_updated_at and
# 0003_create_idempotency_keys.
. "$(dirname "$0")/lib.sh"
new_database
MIG_RE='0001|create_users'
MIG2_RE='0002|add_updated_at'
MIG3_RE='0003|create_idempotency_keys'
N_MIGRATIONS=3

# status_line VERSION: the line of `migrate status` (stdout) naming VERSION.
status_line() {
    grep -E "^$1" "$CLI_OUT" | head -n 1
}

run_cli migrate status --database "$DB_URL"
expect_cli_fails "migrate status on a fresh database: non-zero (pending)"
expect_output "$MIG_RE" "migrate status names the pending migration"
expect_output "$MIG2_RE" "migrate status names the pending second migration"
expect_match "$(status_line 0001)" 'pending' "fresh: 0001 is pending"
expect_match "$(status_line 0002)" 'pending' "fresh: 0002 is pending"

run_cli -t 10 serve --database "$DB_URL" --port 0
expect_cli_fails "serve without --migrate refuses a fresh database"
expect_output "$MIG_RE" "serve's refusal names the pending migration"
expect_output 'migrat' "serve's refusal talks about migrations"

run_cli migrate --database "$DB_URL"
expect_cli_rc 0 "migrate (no subcommand) applies the pending migrations"
run_cli migrate status --database "$DB_URL"
expect_cli_rc 0 "migrate status after migrate: 0 (current)"
expect_output "$MIG_RE" "migrate status lists the applied migration"
expect_match "$(status_line 0001)" 'applied' "after migrate: 0001 is applied"
expect_match "$(status_line 0002)" 'applied' "after migrate: 0002 is applied"
run_cli migrate up --database "$DB_URL"
expect_cli_rc 0 "migrate up again is a no-op, exit 0"

# Data survives `serve --migrate` on a current schema.
start_server
create_user keeper
keeper_id=$USER_ID
start_server
get "/users/$keeper_id"
expect_status 200 "data kept by serve --migrate on a current schema"
stop_server

run_cli migrate down --database "$DB_URL"
expect_cli_rc 0 "migrate down"
run_cli migrate status --database "$DB_URL"
expect_cli_fails "migrate status after down: non-zero"
expect_output "$MIG3_RE" "status after down names the pending migration (0003)"
expect_match "$(status_line 0001)" 'applied' "down (default 1) keeps 0001 applied"
expect_match "$(status_line 0002)" 'applied' "down (default 1) keeps 0002 applied"
expect_match "$(status_line 0003)" 'pending' "down (default 1) reverts 0003 only"
run_cli -t 10 serve --database "$DB_URL" --port 0
expect_cli_fails "serve refuses after migrate down"
expect_output "$MIG3_RE" "serve's refusal names 0003"

run_cli migrate up --database "$DB_URL"
expect_cli_rc 0 "migrate up after down"
run_cli migrate down 1 --database "$DB_URL"
expect_cli_rc 0 "migrate down 1"
run_cli migrate status --database "$DB_URL"
expect_cli_fails "status after down 1: non-zero"
expect_match "$(status_line 0002)" 'applied' "down 1: 0002 still applied"
expect_match "$(status_line 0003)" 'pending' "down 1: 0003 pending"
run_cli migrate up --database "$DB_URL"
expect_cli_rc 0 "migrate up"

# down 2 reverts the last two: 0001 stays.
run_cli migrate down 2 --database "$DB_URL"
expect_cli_rc 0 "migrate down 2"
run_cli migrate status --database "$DB_URL"
expect_cli_fails "status after down 2: non-zero"
expect_match "$(status_line 0001)" 'applied' "down 2: 0001 still applied"
expect_match "$(status_line 0002)" 'pending' "down 2: 0002 pending"
expect_match "$(status_line 0003)" 'pending' "down 2: 0003 pending"
run_cli migrate up --database "$DB_URL"
expect_cli_rc 0 "migrate up after down 2"

# down 3 reverts them all: nothing applied, the users table is gone.
run_cli migrate down 3 --database "$DB_URL"
expect_cli_rc 0 "migrate down 3"
run_cli migrate status --database "$DB_URL"
expect_cli_fails "status after down 3: non-zero"
expect_match "$(status_line 0001)" 'pending' "down 3: 0001 pending"
expect_match "$(status_line 0002)" 'pending' "down 3: 0002 pending"
expect_match "$(status_line 0003)" 'pending' "down 3: 0003 pending"
expect_eq "$(db_exec 'SELECT COUNT(*) FROM schema_migrations' 2>&1 | tr -d ' ')" 0 \
    "down 3 leaves no applied migration recorded"
run_cli migrate up --database "$DB_URL"
expect_cli_rc 0 "migrate up after down 3"
expect_eq "$(db_exec 'SELECT COUNT(*) FROM schema_migrations' 2>&1 | tr -d ' ')" \
    "$N_MIGRATIONS" "all $N_MIGRATIONS migrations recorded again"

# serve without --migrate starts on a current schema.
launch_server serve --database "$DB_URL" --port 0 --host 127.0.0.1
get /readyz
expect_status 200 "serve without --migrate on a current schema"
create_user fresh
stop_server

# The checksum of an applied migration is verified.
if db_exec "UPDATE schema_migrations SET checksum = 'tampered'" >/dev/null 2>"$TMP/db.err"; then
    run_cli migrate status --database "$DB_URL"
    expect_cli_fails "migrate status with a changed checksum: non-zero"
    expect_output 'checksum' "the checksum mismatch is reported"
    run_cli -t 10 serve --database "$DB_URL" --port 0
    expect_cli_fails "serve refuses a database whose applied migration changed"
else
    not_ok "schema_migrations has a checksum column that can be updated"
    diag_file error "$TMP/db.err"
fi

# Two concurrent `migrate` runs on a fresh database: both succeed, one applies.
new_database
timeout 60 "$USERSVC_BIN" migrate up --database "$DB_URL" >"$TMP/m1.out" 2>&1 &
m1=$!
timeout 60 "$USERSVC_BIN" migrate up --database "$DB_URL" >"$TMP/m2.out" 2>&1 &
m2=$!
wait $m1; r1=$?
wait $m2; r2=$?
expect_eq "$r1 $r2" "0 0" "two concurrent migrate runs both exit 0"
[ "$r1 $r2" = "0 0" ] || { diag_file m1 "$TMP/m1.out"; diag_file m2 "$TMP/m2.out"; }
expect_eq "$(db_exec 'SELECT COUNT(*) FROM schema_migrations' 2>&1 | tr -d ' ')" \
    "$N_MIGRATIONS" "each of the $N_MIGRATIONS migrations was recorded once"
expect_eq "$(db_exec 'SELECT COUNT(DISTINCT version) FROM schema_migrations' 2>&1 | tr -d ' ')" \
    "$N_MIGRATIONS" "no migration was recorded twice"
run_cli migrate status --database "$DB_URL"
expect_cli_rc 0 "status is current after the concurrent runs"
