#!/usr/bin/env bash
# The request id travels into the ORM's log lines (issue 14): a request that
# fails in the database leaves an ORM error line carrying the same
# request_id as its access line and its X-Request-Id header, so the two are
# matched by id, not by timestamp. In JSON and in text. Runs per backend.
. "$(dirname "$0")/lib.sh"

LOG_FORMAT=json start_server
create_user alice Alice Liddell
id=$USER_ID
# Take the table away behind the service's back: the next read fails in
# the database (500), and the ORM logs the driver's message.
db_exec "DROP TABLE users" >/dev/null || bail "cannot drop the users table"

get "/users/$id" -H "X-Request-Id: e2e-orm-rid-1"
expect_problem 500 "GET after the table is gone"
expect_header X-Request-Id '^e2e-orm-rid-1$' "X-Request-Id echoed"
expect_body_not_contains "users" "the problem body names no table"
sleep 0.2
orm_lines=$(jq -c 'select(.component == "orm" and .level == "error")' "$SERVER_LOG" 2>/dev/null)
check "the ORM logged the failure" test -n "$orm_lines"
expect_eq "$(jq -r '.request_id' <<<"$orm_lines" | sort -u)" "e2e-orm-rid-1" \
    "every ORM error line of the request carries its request_id"
expect_eq "$(jq -r 'select(.path == "/users/'"$id"'" and .status == 500) | .request_id' \
             "$SERVER_LOG" | sort -u)" "e2e-orm-rid-1" "the access line carries the same id"

# A line written outside any request carries none.
expect_eq "$(jq -r 'select(.msg | test("starting")) | has("request_id")' "$SERVER_LOG" \
             | sort -u)" "false" "the startup line has no request_id"

# Text format: the id ends the ORM's line too.
stop_server
new_database
start_server
create_user bob
db_exec "DROP TABLE users" >/dev/null || bail "cannot drop the users table"
get "/users/$USER_ID" -H "X-Request-Id: e2e-orm-rid-2"
expect_problem 500 "GET after the table is gone (text log)"
sleep 0.2
check "the text ORM line ends with request_id=e2e-orm-rid-2" \
    grep -Eq ' ERROR orm .* request_id=e2e-orm-rid-2$' "$SERVER_LOG"
