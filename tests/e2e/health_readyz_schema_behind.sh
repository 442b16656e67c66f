#!/usr/bin/env bash
# /readyz reports 503 with a problem body while the schema is behind the
# binary's migrations, and 200 again once migrated.
. "$(dirname "$0")/lib.sh"
start_server

get /readyz
expect_status 200 "readyz 200 before the downgrade"
create_user before
before_id=$USER_ID

# Two steps back (0003, the idempotency key table, then 0002's updated_at).
run_cli migrate down 2 --database "$DB_URL"
expect_cli_rc 0 "migrate down while the server runs"

get /readyz
expect_problem 503 "readyz with the schema two migrations behind"
expect_jq '.detail | test("migrat|schema"; "i")' "readyz detail says the schema/migrations are behind"
get /healthz
expect_status 200 "healthz stays 200 (no database touched)"

# A write against the old schema (0002's updated_at column is gone) fails
# without leaking SQL (audited).
post /users '{"login":"during"}'
check "POST while updated_at is gone is a 5xx ($RESP_STATUS)" test "${RESP_STATUS:-0}" -ge 500

run_cli migrate up --database "$DB_URL"
expect_cli_rc 0 "migrate up while the server runs"
get /readyz
expect_status 200 "readyz 200 again after migrate up"
post /users '{"login":"after"}'
expect_status 201 "POST works again after migrate up"
get "/users/$before_id"
expect_status 200 "the user created before the downgrade survived down and up"
expect_json .login before
