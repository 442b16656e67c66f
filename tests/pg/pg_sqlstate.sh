#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# PostgreSQL errors reach the client as API.md says, classified by SQLSTATE:
# a unique violation (23505) is 409; a serialization failure (40001) or
# deadlock (40P01) is retried, so a transient one is invisible and a
# persistent one ends as 503 with Retry-After after a bounded number of
# tries; a connection-class error (08*, 57P0*) is 503 and the connection is
# replaced; anything else is 500, never retried. Faults are injected with a
# trigger that raises a chosen SQLSTATE for the next N inserts (a sequence
# counts the attempts, since it survives the rollbacks).
. "$(dirname "$0")/lib_pg.sh"

start_server --pool-size 4

create_user alice "Alice" "Liddell"
ALICE_ID=$USER_ID
post /users '{"login":"ALICE"}'
expect_problem 409 "23505: the same login in upper case"
post /users '{"login":"Alice"}'
expect_problem 409 "23505: the same login in mixed case"

db_exec "
CREATE TABLE fault (sqlstate text NOT NULL, times int NOT NULL);
CREATE SEQUENCE fault_attempts;
CREATE FUNCTION inject_fault() RETURNS trigger LANGUAGE plpgsql AS \$\$
DECLARE f fault;
BEGIN
    SELECT * INTO f FROM fault LIMIT 1;
    IF FOUND AND nextval('fault_attempts') <= f.times THEN
        RAISE EXCEPTION 'injected fault' USING ERRCODE = f.sqlstate;
    END IF;
    RETURN NEW;
END \$\$;
CREATE TRIGGER inject_fault BEFORE INSERT ON users
    FOR EACH ROW EXECUTE FUNCTION inject_fault();" >/dev/null \
    || bail "cannot install the fault trigger"

# inject SQLSTATE TIMES: the next TIMES inserts fail with SQLSTATE.
inject() {
    db_exec "DELETE FROM fault; INSERT INTO fault VALUES ('$1', $2);
             ALTER SEQUENCE fault_attempts RESTART" >/dev/null || bail "inject $1"
}

# attempts: how many inserts ran since the last inject.
attempts() {
    db_exec "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM fault_attempts"
}

users_named() {
    db_exec "SELECT count(*) FROM users WHERE login = '$1'"
}

for state in 40001 40P01; do
    inject "$state" 2
    post /users "{\"login\":\"retry_$state\"}"
    expect_status 201 "$state twice: retried, then created"
    expect_eq "$(attempts)" 3 "$state twice: three attempts"
    expect_eq "$(users_named "retry_$state")" 1 "$state twice: stored once"
done
if grep -q 'retrying' "$SERVER_LOG"; then
    ok "retries are logged"
else
    not_ok "retries are logged"
fi

inject 40001 1000
post /users '{"login":"never_40001"}'
expect_problem 503 "40001 every time"
expect_header Retry-After '^[0-9]+$' "40001 every time: Retry-After"
n=$(attempts)
if [ "$n" -gt 1 ] && [ "$n" -le 10 ]; then
    ok "40001 every time: a bounded number of retries ($n attempts)"
else
    not_ok "40001 every time: a bounded number of retries ($n attempts)"
fi
expect_eq "$(users_named never_40001)" 0 "40001 every time: nothing stored"

for state in 57P01 08006; do
    inject "$state" 1
    post /users "{\"login\":\"conn_$state\"}"
    expect_problem 503 "$state (connection class)"
    expect_header Retry-After '^[0-9]+$' "$state: Retry-After"
    expect_eq "$(attempts)" 1 "$state: not retried"
    post /users "{\"login\":\"conn_$state\"}"
    expect_status 201 "$state: the next request works (connection replaced)"
done

for state in P0001 22001 42501; do
    inject "$state" 1
    post /users "{\"login\":\"err_$state\"}"
    expect_problem 500 "$state: internal error"
    expect_body_not_contains "injected" "$state: the driver message stays in the log"
    expect_eq "$(attempts)" 1 "$state: not retried"
done
if grep -q 'injected fault' "$SERVER_LOG"; then
    ok "the driver message is logged"
else
    not_ok "the driver message is logged"
fi

inject 23505 1
post /users '{"login":"dup_raised"}'
expect_problem 409 "23505 from anywhere in the statement: 409"

db_exec "DELETE FROM fault" >/dev/null
post /users '{"login":"after_faults"}'
expect_status 201 "no fault: created"
get "/users/$ALICE_ID"
expect_status 200 "alice still readable"
expect_json .login alice "alice stored as given"
expect_json .first_name Alice "alice's first name intact"
expect_json .last_name Liddell "alice's last name intact"
