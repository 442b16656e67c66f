#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# MySQL DDL is not transactional, so a migration that fails halfway cannot
# be rolled back: the runner records it as dirty (never as applied), names
# the statement that failed, and every later run -- migrate, status, serve --
# refuses until someone repairs the schema by hand and deletes the record.
#
# A real failure is provoked by creating a conflicting `users` table before
# migrating (0001's CREATE TABLE then fails); a dirty record written by hand
# is treated the same way.
. "$(dirname "$0")/lib_mysql.sh"
MIG_RE='0001|create_users'

# --- a migration that really fails ----------------------------------------
new_database
my_sql "CREATE TABLE users (squatter INT)" >/dev/null 2>&1 || bail "CREATE TABLE users"
run_cli migrate up --database "$DB_URL"
expect_cli_fails "migrate up fails when 0001 cannot create its table"
expect_output "failed at statement 1" "the error names the failing statement"
expect_output 'CREATE TABLE users' "the error quotes the statement's first line"
expect_output '1050|already exists' "the error carries the server's reason (1050)"
expect_output_not_contains "$MY_PASS" "the output does not contain the password"
expect_eq "$(my_sql 'SELECT version, dirty FROM schema_migrations' 2>&1)" "1	1" \
    "the failed migration is recorded as dirty, not applied"

run_cli migrate status --database "$DB_URL"
expect_cli_fails "migrate status exits non-zero on a dirty migration"
expect_output 'dirty|failed' "migrate status reports the migration as failed/dirty"
expect_output "$MIG_RE" "migrate status names it"

run_cli migrate up --database "$DB_URL"
expect_cli_fails "migrate up refuses to go on past a dirty migration"
expect_output 'dirty' "and says it is dirty"
expect_output 'by hand' "and says it needs repairing by hand"
expect_eq "$(my_sql 'SELECT COUNT(*) FROM schema_migrations' 2>&1)" 1 \
    "the refused run recorded nothing more"

run_cli -t 10 serve --database "$DB_URL" --port 0
expect_cli_fails "serve refuses a dirty schema"
expect_output "$MIG_RE" "serve's refusal names the migration"
run_cli -t 10 serve --database "$DB_URL" --port 0 --migrate
expect_cli_fails "serve --migrate refuses a dirty schema too"

# The repair: undo by hand, delete the record, migrate.
my_sql "DROP TABLE users; DELETE FROM schema_migrations WHERE version = 1" >/dev/null 2>&1 \
    || bail "repair"
run_cli migrate up --database "$DB_URL"
expect_cli_rc 0 "after the repair, migrate up succeeds"
run_cli migrate status --database "$DB_URL"
expect_cli_rc 0 "and the schema is current"
expect_eq "$(my_sql 'SELECT MIN(version), SUM(dirty) FROM schema_migrations' 2>&1)" "1	0" \
    "recorded again, clean"

# --- a dirty record written by hand -------------------------------------------
new_database
run_cli migrate up --database "$DB_URL"
expect_cli_rc 0 "migrate up on a fresh database"
my_sql "UPDATE schema_migrations SET dirty = 1 WHERE version = 1" >/dev/null 2>&1 \
    || bail "UPDATE schema_migrations"
run_cli migrate status --database "$DB_URL"
expect_cli_fails "migrate status exits non-zero on a hand-marked dirty row"
expect_output 'dirty|failed' "and reports it as dirty"
run_cli -t 10 serve --database "$DB_URL" --port 0
expect_cli_fails "serve refuses it"

# A service started before the row went dirty reports it on /readyz.
my_sql "UPDATE schema_migrations SET dirty = 0 WHERE version = 1" >/dev/null 2>&1
start_server
my_sql "UPDATE schema_migrations SET dirty = 1 WHERE version = 1" >/dev/null 2>&1
get /readyz
expect_problem 503 "/readyz with a dirty migration"
