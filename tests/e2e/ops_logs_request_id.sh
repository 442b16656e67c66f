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

# The id is the request's only while it runs: the thread-local is cleared
# when the request completes. On one keep-alive connection, a good request
# then a request line libmicrohttpd itself refuses (HTTP/2.0, 505): its
# own warning about the second is not filed under the first's id.
stop_server
LOG_FORMAT=json start_server
raw_request 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: e2e-done-rid-3\r\n\r\nGET /healthz HTTP/2.0\r\nHost: x\r\n\r\n' 3
sleep 0.2
expect_eq "$(jq -r 'select(.request_id == "e2e-done-rid-3") | .path // .component' \
             "$SERVER_LOG" | sort -u)" "/healthz" \
    "only the first request's own line carries its request_id"
check "MHD's line about the second request was logged" \
    test -n "$(jq -c 'select(.component == "mhd")' "$SERVER_LOG")"
