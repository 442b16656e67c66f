#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Strict mode on MySQL/MariaDB: a 31-character name or login is a 422 from
# the service (never a silently truncated row), 30 characters of 4 bytes each
# fit, and the database itself, in the SQL mode usersvc sets for its
# sessions, refuses an over-long value or an impossible date instead of
# truncating it. (A lax session would truncate: that is why usersvc sets
# sql_mode itself rather than trusting the server's default.)
. "$(dirname "$0")/lib_mysql.sh"
start_server

E=$'\xF0\x9F\x98\x80'
EMOJI30=
for _ in $(seq 1 30); do EMOJI30+=$E; done
X30=$(printf 'x%.0s' $(seq 1 30))

post /users "{\"login\":\"ok30\",\"first_name\":\"${X30}y\"}"
expect_problem 422 "31 ASCII characters in first_name"
expect_json '.errors[0].field' first_name "the 422 names first_name"
post /users "{\"login\":\"ok30\",\"last_name\":\"${EMOJI30}${E}\"}"
expect_problem 422 "31 emoji in last_name"
expect_json '.errors[0].field' last_name "the 422 names last_name"
post /users "{\"login\":\"${X30}y\"}"
expect_problem 422 "a 31-character login"
expect_eq "$(my_sql 'SELECT COUNT(*) FROM users' 2>&1)" 0 "nothing was stored by the 422s"

post /users "{\"login\":\"${X30}\",\"first_name\":\"${EMOJI30}\",\"last_name\":\"${X30}\"}"
expect_status 201 "30 characters everywhere (30 emoji = 120 bytes) are fine"
ID=$(json_get .id)
expect_json .first_name "$EMOJI30" "the 30 emoji come back whole"
expect_eq "$(my_sql "SELECT CHAR_LENGTH(login), CHAR_LENGTH(first_name), LENGTH(first_name)
                     FROM users" 2>&1)" "30	30	120" "stored whole: 30, 30 and 120 bytes"

# Directly in the database, in usersvc's SQL mode: errors, not truncation.
# (UPDATEs of the row above, so that columns added by later migrations
# need no values here.)
direct() {
    my_sql "SET SESSION sql_mode = '$USV_SQL_MODE'; $1" >"$TMP/direct.out" 2>"$TMP/direct.err"
}
if direct "UPDATE users SET first_name = REPEAT('x', 31) WHERE id = $ID"; then
    not_ok "an over-long ASCII name written directly is an error"
else
    expect_match "$(cat "$TMP/direct.err")" '1406|[Dd]ata too long' \
        "an over-long ASCII name written directly is an error (1406 Data too long)"
fi
if direct "UPDATE users SET last_name = REPEAT(CONVERT(UNHEX('F09F9880') USING utf8mb4), 31)
           WHERE id = $ID"; then
    not_ok "31 emoji written directly are an error"
else
    expect_match "$(cat "$TMP/direct.err")" '1406|[Dd]ata too long' \
        "31 emoji written directly are an error (1406 Data too long)"
fi
if direct "UPDATE users SET login = REPEAT('y', 31) WHERE id = $ID"; then
    not_ok "an over-long login written directly is an error"
else
    ok "an over-long login written directly is an error"
fi
if direct "UPDATE users SET created_at = '2026-02-30 00:00:00' WHERE id = $ID"; then
    not_ok "an impossible date written directly is an error"
else
    expect_match "$(cat "$TMP/direct.err")" '1292|[Ii]ncorrect datetime' \
        "an impossible date written directly is an error (1292), not a zero date"
fi
get "/users/$ID"
expect_status 200 "the row is unchanged by the refused writes"
expect_json .first_name "$EMOJI30" "first_name unchanged"
expect_json .login "$X30" "login unchanged"

# The counter-example: with an empty sql_mode the server truncates and warns.
if my_sql "SET SESSION sql_mode = '';
           UPDATE users SET last_name = REPEAT('z', 31) WHERE id = $ID" >/dev/null 2>&1; then
    expect_eq "$(my_sql "SELECT CHAR_LENGTH(last_name) FROM users WHERE id = $ID" 2>&1)" 30 \
        "a lax session would have truncated silently (why usersvc sets strict mode)"
else
    ok "this server refuses over-long values even in a lax session"
fi

get "/users/$ID"
expect_status 200 "the service still answers"
