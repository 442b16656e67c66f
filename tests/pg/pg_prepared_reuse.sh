#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Each pooled connection prepares a statement once (PQprepare -> a named
# Parse message) and then only executes it (Bind), across requests. The
# server keeps no cross-session record of that, so usersvc talks to
# PostgreSQL through pgwire_count.py, which logs every Parse and Bind per
# connection.
. "$(dirname "$0")/lib_pg.sh"

new_database
pg_url_parts "$DB_URL"
PROXY_LOG=$TMP/wire.log
"$PYTHON" "$PG_TEST_DIR/pgwire_count.py" "$PGU_HOST" "$PGU_PORT" "$TMP/proxy.port" \
    "$PROXY_LOG" 2>"$TMP/proxy.err" &
PROXY_PID=$!
trap 'st=$?; kill "$PROXY_PID" 2>/dev/null; (exit "$st"); _finish' EXIT
for _ in $(seq 1 50); do
    [ -s "$TMP/proxy.port" ] && break
    sleep 0.1
done
[ -s "$TMP/proxy.port" ] || bail "the protocol proxy did not start ($(cat "$TMP/proxy.err"))"
PROXY_URL="postgres://$PGU_USERINFO@127.0.0.1:$(cat "$TMP/proxy.port")/$PGU_DB"
[ -n "$PGU_QUERY" ] && PROXY_URL="$PROXY_URL?$PGU_QUERY"
PROXY_URL=$(url_with_param "$PROXY_URL" "sslmode=disable&gssencmode=disable")

POOL=3
launch_server serve --database "$PROXY_URL" --host 127.0.0.1 --port 0 --migrate \
    --pool-size "$POOL"

create_user reuse0 Re Use
ID=$USER_ID
GETS=30
for i in $(seq 1 "$GETS"); do
    get "/users/$ID"
    [ "$RESP_STATUS" = 200 ] || break
done
expect_status 200 "$GETS sequential GETs answered"
# Concurrent requests spread over every pooled connection.
expect_eq "$(concurrent_gets 3 8 "/users/$ID")" "200 " "24 concurrent GETs answered 200"
for i in 1 2 3 4 5; do
    post /users "{\"login\":\"reuse$i\"}"
    [ "$RESP_STATUS" = 201 ] || break
done
expect_status 201 "5 more users created"

# The server side: usersvc's sessions, at most one per pool slot.
n=$(db_exec "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
             AND application_name = 'usersvc'")
if [ "$n" -ge 1 ] && [ "$n" -le "$POOL" ]; then
    ok "usersvc holds $n sessions (at most the pool size)"
else
    not_ok "usersvc holds $n sessions (at most the pool size)"
fi

# Stop usersvc before reading the log: no message is still in flight.
stop_server
named_parses=$(awk '$2 == "P" && $3 ~ /^usv_/' "$PROXY_LOG" | wc -l)
named_binds=$(awk '$2 == "B" && $3 ~ /^usv_/' "$PROXY_LOG" | wc -l)
repeats=$(awk '$2 == "P" && $3 ~ /^usv_/ { print $1, $3 }' "$PROXY_LOG" | sort | uniq -d)
conns=$(awk '$2 == "B" && $3 ~ /^usv_/ { print $1 }' "$PROXY_LOG" | sort -u | wc -l)
stmts=$(awk '$2 == "P" && $3 ~ /^usv_/ { print $3 }' "$PROXY_LOG" | sort -u | wc -l)
# A Bind of a statement its connection has not parsed before (log order is
# each connection's message order).
unprepared=$(awk '$2 == "P" { p[$1 " " $3] = 1 }
                  $2 == "B" && $3 ~ /^usv_/ && !(($1 " " $3) in p) { n++ }
                  END { print n + 0 }' "$PROXY_LOG")
diag "wire: $named_parses named Parse, $named_binds named Bind," \
    "$conns connections, $stmts statements"

expect_eq "$repeats" "" "no connection prepares the same statement twice"
expect_eq "$unprepared" 0 "every execution uses a statement prepared on its own connection"
if [ "$named_binds" -ge $((1 + GETS + 24 + 5)) ]; then
    ok "every request ran a prepared statement ($named_binds executions)"
else
    not_ok "every request ran a prepared statement ($named_binds executions)"
fi
desc="prepares: at most one per statement and connection ($named_parses for $named_binds runs)"
if [ "$named_parses" -ge 2 ] && [ "$named_parses" -le $((conns * stmts)) ] \
        && [ "$named_parses" -lt $((named_binds / 4)) ]; then
    ok "$desc"
else
    not_ok "$desc"
fi
if [ "$conns" -ge 2 ] && [ "$conns" -le "$POOL" ]; then
    ok "requests were spread over $conns pooled connections (pool size $POOL)"
else
    not_ok "requests were spread over $conns pooled connections (pool size $POOL)"
fi
