#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# GETs by id are batched on MySQL/MariaDB (orm/backend_mysql.c,
# my_execute_batch()): under 32 concurrent clients the server executes fewer
# prepared statements than it gets requests, since the ids of a batch share
# one SELECT ... WHERE id IN (...), and every response is still the one its
# id gets alone: its own row, or a 404 problem for an id without one.
#
# Statements are counted with the server's global Com_stmt_execute. Other
# tests on the same server can only add to it, so a pass is never their
# doing (a failure could be, on a very busy server: see the diag line).
. "$(dirname "$0")/lib_mysql.sh"

CLIENTS=32
IDS=120      # seeded users: ids 1..IDS, logins u1..uIDS
ASKED=150    # each client GETs /users/1 .. /users/ASKED in turn: the last 30 are 404
REQUESTS=$((CLIENTS * ASKED))

start_server
values=
for i in $(seq 1 "$IDS"); do
    values+="${values:+,}($i, 'u$i', '2026-01-02 03:04:05.000000', '2026-01-02 03:04:05.000000')"
done
my_sql "INSERT INTO users (id, login, created_at, updated_at) VALUES $values" >/dev/null \
    || bail "seed $IDS users"

stmt_executions() {
    my_admin "SHOW GLOBAL STATUS LIKE 'Com_stmt_execute'" | awk '{ print $2 }'
}

get /users/1
expect_json .login u1 "a single GET by id works"
get "/users/$((IDS + 1))"
expect_problem 404 "a single GET of a missing id is 404"

before=$(stmt_executions)
pids=()
for w in $(seq 1 "$CLIENTS"); do
    mkdir -p "$TMP/c$w"
    # One keep-alive connection per client, one request after another.
    curl -sS --max-time 120 "$BASE_URL/users/[1-$ASKED]" -o "$TMP/c$w/#1.json" \
        -w '%{http_code} %{url_effective}\n' >"$TMP/c$w/codes" 2>"$TMP/c$w/err" &
    pids+=($!)
done
curl_failed=0
for pid in "${pids[@]}"; do
    wait "$pid" || curl_failed=$((curl_failed + 1))
done
after=$(stmt_executions)
expect_eq "$curl_failed" 0 "all $CLIENTS clients got all their responses"

for w in $(seq 1 "$CLIENTS"); do
    awk -v ids="$IDS" -v w="$w" '{
            n = $2; sub(/.*\//, "", n)
            if ($1 != (n + 0 <= ids ? 200 : 404)) print "client " w ": GET /users/" n " -> " $1
        } END { if (NR != '"$ASKED"') print "client " w ": " NR " responses" }' \
        "$TMP/c$w/codes"
done >"$TMP/bad_codes"
expect_eq "$(wc -l <"$TMP/bad_codes")" 0 \
    "each of $REQUESTS concurrent GETs has its id's status (200 for 1..$IDS, else 404)"
[ -s "$TMP/bad_codes" ] && diag "$(head -n 5 "$TMP/bad_codes")"

jq -r '"\(input_filename) \(.id // "-") \(.login // "-") \(.status // "-")"' \
    "$TMP"/c*/*.json 2>"$TMP/jq.err" \
    | awk -v ids="$IDS" '{
            n = $1; sub(/.*\//, "", n); sub(/\.json$/, "", n)
            if (n + 0 <= ids) { if ($2 != n || $3 != "u" n) print }
            else if ($4 != 404) print
            seen++
        } END { if (seen != '"$REQUESTS"') print seen " bodies" }' >"$TMP/bad_bodies"
expect_eq "$(wc -l <"$TMP/bad_bodies")" 0 \
    "each 200 carries the row of its own id, each 404 is a problem body"
[ -s "$TMP/bad_bodies" ] && diag "$(head -n 5 "$TMP/bad_bodies")"

executed=$((after - before))
diag "$executed prepared statements executed on the server for $REQUESTS GETs"
if [ "$executed" -lt "$REQUESTS" ]; then
    ok "concurrent GETs share statements ($executed executions for $REQUESTS GETs)"
else
    not_ok "concurrent GETs share statements ($executed executions for $REQUESTS GETs)"
fi
