#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# How MySQL/MariaDB errors reach the client:
#  - ER_DUP_ENTRY (1062) is 409, case-insensitively (Alice/alice), also when
#    many requests race for one login (exactly one 201; InnoDB deadlocks
#    between the racers are retried, never shown);
#  - a killed server session (ER_CONNECTION_KILLED / CR_SERVER_LOST) costs no
#    request: the connection is replaced before its next transaction;
#  - a server that refuses new connections is 503 with Retry-After, and
#    nothing is written;
#  - any other error (here a missing table) is a 500 whose body says nothing
#    about SQL; the driver's message goes to the log only.
. "$(dirname "$0")/lib_mysql.sh"
start_server --pool-size 4

# --- 1062 -> 409 -------------------------------------------------------
post /users '{"login":"Alice","first_name":"First"}'
expect_status 201 "create Alice"
ALICE=$(json_get .id)
for l in alice ALICE aLiCe Alice; do
    post /users "{\"login\":\"$l\"}"
    expect_problem 409 "login $l conflicts with Alice"
    expect_body_not_contains "Duplicate" "409 for $l: no driver message in the body"
done
get "/users?login=aLiCe"
expect_status 200 "GET /users?login=aLiCe"
expect_json '[.items[].id]' "[$ALICE]" "the login lookup is case-insensitive too"
for l in a.b a_b a-b ab; do
    post /users "{\"login\":\"$l\"}"
    expect_status 201 "login $l is its own (punctuation is not folded)"
done

# Twelve requests race for one login in different cases: one 201, the rest 409.
pids=()
for i in $(seq 1 12); do
    case $((i % 3)) in 0) l=racer ;; 1) l=RACER ;; *) l=Racer ;; esac
    http_code POST /users "{\"login\":\"$l\"}" >"$TMP/race.$i" &
    pids+=($!)
done
wait "${pids[@]}"   # not a bare wait: the server is our child too
codes=$(cat "$TMP"/race.* | cut -d' ' -f1 | sort | uniq -c | tr -s ' ')
expect_eq "$codes" " 1 201
 11 409" "12 racing creates of one login: exactly one 201, eleven 409"
expect_eq "$(my_sql "SELECT COUNT(*) FROM users WHERE login = 'racer'" 2>&1)" 1 \
    "one racer row in the database"

# --- killed sessions ------------------------------------------------------
pids=()
for i in $(seq 1 6); do http_code GET "/users/$ALICE" >/dev/null & pids+=($!); done
wait "${pids[@]}"
n=$(kill_service_sessions)
if [ "${n:-0}" -gt 0 ]; then
    ok "killed the service's $n database sessions"
else
    not_ok "the service had database sessions to kill"
fi
expect_eq "$(status_counts 8 "/users/$ALICE")" " 8 200" \
    "after KILL, every request still succeeds (connections replaced)"
post /users '{"login":"after_kill"}'
expect_status 201 "after KILL, POST creates"

# --- connections refused -> 503 ------------------------------------------
# An account allowed two sessions; the test takes both, so the service can
# connect no more (ER_USER_LIMIT_REACHED at connect).
LIM_USER="usv_lim_$$"
LIM_PW="lim-pw-$$"
s1=
s2=
if my_admin "CREATE USER '$LIM_USER'@'%' IDENTIFIED BY '$LIM_PW' WITH MAX_USER_CONNECTIONS 2;
             GRANT ALL PRIVILEGES ON \`${DB_NAMES[-1]}\`.* TO '$LIM_USER'@'%'" \
        >/dev/null 2>"$TMP/lim.err"; then
    cleanup_lim() {
        local st=$?
        [ -n "$s1" ] && kill "$s1" "$s2" 2>/dev/null
        my_admin "DROP USER IF EXISTS '$LIM_USER'@'%'" >/dev/null 2>&1
        (exit "$st")
        _finish
    }
    trap cleanup_lim EXIT
    stop_server
    start_server --pool-size 4 --pool-timeout-ms 1000 \
        --database "mysql://$LIM_USER:$LIM_PW@$MY_HOST:$MY_PORT/${DB_NAMES[-1]}"
    get "/users/$ALICE"
    expect_status 200 "the limited account serves"
    kill_service_sessions >/dev/null
    sleeper() {
        MYSQL_PWD=$LIM_PW timeout 20 "$(command -v mariadb || command -v mysql)" --no-defaults \
            --protocol=TCP -h "$MY_HOST" -P "$MY_PORT" -u "$LIM_USER" -e 'SELECT SLEEP(15)' \
            >/dev/null 2>&1
    }
    sleeper &
    s1=$!
    sleeper &
    s2=$!
    for i in $(seq 1 50); do
        [ "$(my_admin "SELECT COUNT(*) FROM information_schema.PROCESSLIST
                       WHERE USER = '$LIM_USER'")" = 2 ] && break
        sleep 0.1
    done
    t0=$(now_ms)
    expect_eq "$(http_code GET "/users/$ALICE")" "503 1" \
        "no connection to be had: GET is 503, Retry-After: 1"
    expect_eq "$(http_code POST /users '{"login":"refused"}')" "503 1" \
        "no connection to be had: POST is 503, Retry-After: 1"
    dt=$(($(now_ms) - t0))
    expect_fast "$dt" 6000 "the 503s came promptly"
    expect_match "$(cat "$SERVER_LOG")" "1226|max_user_connections" "the log names the refusal"
    for id in $(my_admin "SELECT ID FROM information_schema.PROCESSLIST
                          WHERE USER = '$LIM_USER'"); do
        my_admin "KILL $id" >/dev/null 2>&1
    done
    kill "$s1" "$s2" 2>/dev/null
    wait "$s1" "$s2" 2>/dev/null
    code=
    for i in $(seq 1 50); do
        code=$(http_code GET "/users/$ALICE" | cut -d' ' -f1)
        [ "$code" = 200 ] && break
        sleep 0.1
    done
    expect_eq "$code" 200 "connections to be had again: GET is 200"
    expect_eq "$(my_sql "SELECT COUNT(*) FROM users WHERE login = 'refused'" 2>&1)" 0 \
        "the refused POST wrote nothing"
    if grep -Fq -- "$LIM_PW" "$TMP"/server.*.log "$TMP"/server.*.out; then
        not_ok "the limited account's password never appears in the server's output"
    else
        ok "the limited account's password never appears in the server's output"
    fi
else
    ok "connections refused # SKIP cannot create a limited account"
    diag_file "CREATE USER" "$TMP/lim.err"
fi

# --- anything else -> 500, details in the log only ------------------------
my_sql "RENAME TABLE users TO users_away" >/dev/null 2>&1 || bail "RENAME TABLE"
get "/users/$ALICE"
expect_problem 500 "the table is gone: GET"
expect_body_not_contains "users_away" "the 500 body does not name the table"
expect_body_not_contains "1146" "the 500 body carries no driver error code"
expect_match "$(cat "$SERVER_LOG")" "1146" "the log has the driver's error (1146)"
my_sql "RENAME TABLE users_away TO users" >/dev/null 2>&1 || bail "RENAME TABLE back"
get "/users/$ALICE"
expect_status 200 "table back: GET is 200 again"
