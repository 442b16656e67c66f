#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Issue #6 on MariaDB: POST /users is one INSERT ... RETURNING (no SELECT by
# LAST_INSERT_ID() after it), timestamps are selected bare and written by
# the backend, and what comes back is the canonical text with six
# fractional digits whatever the value (.000000, a midnight, a leap day);
# a duplicate login is still 409. On MySQL (no RETURNING) only the
# timestamp and 409 checks apply.
#
# Which statements the service ran is read from the general query log
# (log_output=TABLE), restricted to the sessions connected to this test's
# database, so tests running at the same time on the server do not matter.
# The log settings are restored on exit.
. "$(dirname "$0")/lib_mysql.sh"
start_server --pool-size 2

STAMP_RE='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z$'

# --- seeded rows: exact text for awkward values ------------------------------
my_sql "INSERT INTO users (login, created_at, updated_at) VALUES
        ('zero_us', '2026-01-02 03:04:05.000000', '2026-01-02 03:04:05.000001'),
        ('midnight', '2026-01-02 00:00:00.000000', '2024-02-29 23:59:59.999999'),
        ('early', '1970-01-01 00:00:00', '9999-12-31 23:59:59.999999')" >/dev/null 2>&1 \
    || bail "seed rows"
check_seeded() {
    local login=$1 created=$2 updated=$3 id
    id=$(my_sql "SELECT id FROM users WHERE login = '$login'")
    get "/users/$id"
    expect_status 200 "GET seeded $login"
    expect_json .created_at "$created" "$login: created_at is $created"
    expect_json .updated_at "$updated" "$login: updated_at is $updated"
}
check_seeded zero_us 2026-01-02T03:04:05.000000Z 2026-01-02T03:04:05.000001Z
check_seeded midnight 2026-01-02T00:00:00.000000Z 2024-02-29T23:59:59.999999Z
check_seeded early 1970-01-01T00:00:00.000000Z 9999-12-31T23:59:59.999999Z
get "/users?limit=10"
expect_json '[.items[].created_at]' \
    '["2026-01-02T03:04:05.000000Z","2026-01-02T00:00:00.000000Z","1970-01-01T00:00:00.000000Z"]' \
    "the list renders the same text"

# --- POST: which statements ran ---------------------------------------------
version=$(my_sql "SELECT VERSION()")
has_returning=0
if [[ $version =~ MariaDB ]]; then
    IFS=. read -r v_major v_minor _ <<<"${version%%-*}"
    [ $((v_major * 100 + v_minor)) -ge 1005 ] && has_returning=1
fi

old_log=$(my_admin "SELECT CONCAT(@@GLOBAL.general_log, ' ', @@GLOBAL.log_output)" 2>/dev/null)
can_log=0
if [ -n "$old_log" ] && my_admin "SET GLOBAL log_output = 'TABLE', general_log = 1" \
        >/dev/null 2>"$TMP/log.err"; then
    can_log=1
    restore_log() {
        local st=$?
        my_admin "SET GLOBAL general_log = ${old_log%% *}, log_output = '${old_log#* }'" \
            >/dev/null 2>&1
        (exit "$st")
        _finish
    }
    trap restore_log EXIT
else
    diag_file "SET GLOBAL general_log" "$TMP/log.err"
fi

# A GET first, so that the pool's sessions exist and show in the process list.
get /users/1 >/dev/null
t0=$(my_admin "SELECT NOW(6)")
post /users '{"login":"fresh","first_name":"F"}'
t1=$(my_admin "SELECT NOW(6)")
expect_status 201 "POST creates"
ID=$(json_get .id)
CREATED=$(json_get .created_at)
expect_match "$CREATED" "$STAMP_RE" "POST: created_at is canonical ($CREATED)"
expect_match "$(json_get .updated_at)" "$STAMP_RE" "POST: updated_at is canonical"
expect_json .updated_at "$CREATED" "POST: updated_at equals created_at"
expect_eq "$(my_sql "SELECT DATE_FORMAT(created_at, '%Y-%m-%dT%H:%i:%s.%fZ') FROM users
                     WHERE id = $ID")" "$CREATED" "POST returned the stored created_at"
get "/users/$ID"
expect_json .created_at "$CREATED" "GET returns the same created_at as the POST"
expect_json .first_name F "GET returns the row the POST made"

if [ "$can_log" = 1 ]; then
    threads=$(my_admin "SELECT GROUP_CONCAT(ID) FROM information_schema.PROCESSLIST
                        WHERE DB = '${DB_NAMES[-1]}'")
    # Everything the service's sessions sent while the POST ran.
    ran=$(my_admin "SELECT CONCAT(command_type, ': ', CONVERT(argument USING utf8mb4))
                    FROM mysql.general_log
                    WHERE event_time BETWEEN '$t0' AND '$t1' AND thread_id IN (${threads:-0})")
    if [ "$has_returning" = 1 ]; then
        expect_match "$ran" "^Execute: INSERT INTO users .*'fresh'.* RETURNING id, " \
            "MariaDB $version: the POST ran INSERT ... RETURNING"
        if printf '%s\n' "$ran" | grep -E ": SELECT " >/dev/null; then
            not_ok "no SELECT of the new row after the INSERT"
            diag "$ran"
        else
            ok "no SELECT of the new row after the INSERT"
        fi
    else
        expect_match "$ran" "INSERT INTO users" "$version: the POST ran a plain INSERT"
    fi
else
    ok "statements of the POST # SKIP cannot enable the general query log"
    ok "no SELECT of the new row after the INSERT # SKIP no general query log"
fi

# --- duplicate login ---------------------------------------------------------
post /users '{"login":"FRESH"}'
expect_problem 409 "a duplicate login (other case) is 409"
expect_body_not_contains "Duplicate" "409: no driver message in the body"
post /users '{"login":"zero_us"}'
expect_problem 409 "a seeded login is 409 too"
post /users '{"login":"fresh2"}'
expect_status 201 "the connection is fine after a 409"
expect_match "$(json_get .created_at)" "$STAMP_RE" "and its created_at is canonical"
