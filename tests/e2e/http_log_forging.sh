#!/usr/bin/env bash
# Issue 15: a request target cannot forge access-log fields. The text log
# quotes any value with a space, '"', '=' or '\' and escapes '"' and '\'
# inside, so `/users/1%20status=200%20request_id=forged` is logged as one
# path value and the line keeps exactly one status and one request_id. The
# JSON log is checked too: the path is one string member.
. "$(dirname "$0")/lib.sh"

# fields LINE: the key=value fields of a text log line, one per line, read as
# a logfmt parser would (a quoted value may hold spaces and \" escapes).
fields() {
    grep -oE '[a-z_]+=("([^"\\]|\\.)*"|[^ "]*)' <<<"$1"
}

start_server
get '/users/1%20status=200%20request_id=forged'
expect_status 404 "the forging path is just an unknown user"
rid=$(header_value X-Request-Id)
get '/users/2%22%20status=201%20x=%5C'
rid2=$(header_value X-Request-Id)
sleep 0.2
line=$(grep -F "request_id=$rid" "$SERVER_LOG")
check "the request has its access-log line" test -n "$line"
expect_eq "$(fields "$line" | grep -c '^status=')" 1 "exactly one status field"
expect_eq "$(fields "$line" | grep -c '^request_id=')" 1 "exactly one request_id field"
expect_eq "$(fields "$line" | grep '^status=')" "status=404" "the status is the real one"
expect_eq "$(fields "$line" | grep '^path=')" 'path="/users/1 status=200 request_id=forged"' \
    "the path is one quoted value"
expect_eq "$(fields "$line" | grep '^request_id=')" "request_id=$rid" "the request id is the real one"
line=$(grep -F "request_id=$rid2" "$SERVER_LOG")
expect_eq "$(fields "$line" | grep -c '^status=')" 1 "a quote in the path cannot close the value"
expect_eq "$(fields "$line" | grep '^path=')" 'path="/users/2\" status=201 x=\\"' \
    "quotes and backslashes inside are escaped"

LOG_FORMAT=json start_server
get '/users/1%20status=200%20request_id=forged'
rid=$(header_value X-Request-Id)
sleep 0.2
check "JSON log: the path is one string member" \
    jq -e --arg rid "$rid" 'select(.request_id == $rid)
        | .path == "/users/1 status=200 request_id=forged" and .status == 404' "$SERVER_LOG"
