#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Timestamps leave PostgreSQL as the service's canonical text,
# YYYY-MM-DDTHH:MM:SS.ffffffZ with exactly six fractional digits, whatever
# the database's own DateStyle and TimeZone defaults are. The server renders
# timestamptz as ISO text in UTC (set per session) and orm/backend_pg.c
# rewrites it; the server drops trailing zeros of the fraction, or the
# whole fraction when it is zero, so both edges are checked, and the text
# must denote the instant stored (compared in SQL).
. "$(dirname "$0")/lib_pg.sh"

new_database
# Defaults a DBA might have chosen; the session settings must override them.
db_exec "ALTER DATABASE \"${DB_NAMES[-1]}\" SET DateStyle = 'SQL, DMY';
         ALTER DATABASE \"${DB_NAMES[-1]}\" SET TimeZone = 'America/St_Johns'" >/dev/null \
    || bail "cannot set the database's defaults"
start_server --pool-size 2

create_user stamped Stamp Ed
ID=$USER_ID
CREATED=$(json_get .created_at)
expect_match "$CREATED" "$CREATED_AT_RE" "POST: created_at is canonical ($CREATED)"
expect_eq "$(db_exec "SELECT created_at = '$CREATED'::timestamptz FROM users WHERE id = $ID")" t \
    "POST: created_at is the instant stored"

# stored instant (as SQL, in UTC) -> the text the API must show
check() {
    local sql=$1 want=$2
    db_exec "UPDATE users SET updated_at = '$sql+00' WHERE id = $ID" >/dev/null || bail "UPDATE"
    get "/users/$ID"
    expect_status 200
    expect_json .updated_at "$want" "stored $sql -> $want"
}
check '2026-01-02 03:04:05'          '2026-01-02T03:04:05.000000Z'
check '2026-01-02 03:04:05.1'        '2026-01-02T03:04:05.100000Z'
check '2026-12-31 23:59:59.000001'   '2026-12-31T23:59:59.000001Z'
check '1999-07-08 09:10:11.123456'   '1999-07-08T09:10:11.123456Z'
check '2026-06-15 12:00:00.12'       '2026-06-15T12:00:00.120000Z'

get "/users?limit=5"
expect_status 200
expect_json '.items[0].updated_at' '2026-06-15T12:00:00.120000Z' "the list renders timestamps the same way"

# Beyond what the canonical form can carry: a clean 500, nothing leaked.
db_exec "UPDATE users SET updated_at = 'infinity' WHERE id = $ID" >/dev/null || bail "UPDATE"
get "/users/$ID"
expect_problem 500 "a timestamp the canonical form cannot carry (infinity) is a 500"
expect_body_not_contains infinity "... whose body names no value"
expect_body_not_contains updated_at "... nor column"
