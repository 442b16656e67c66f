#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Fault: usersvc is killed with SIGKILL in the middle of a burst of POSTs
# (issue 5). Nothing it acknowledged may be lost.
#
# Eight workers POST unique logins as fast as they can and record every
# answer. After about three seconds usersvc gets kill -9; it is started again
# on the same database, and every login that was answered 201 is looked up
# through the API (the list, page by page, and GET /users/{id} for the last
# acknowledgements of each worker): same id, same login.
# Prints "acknowledged N, found N, lost N" and fails when lost > 0.
. "$(dirname "$0")/lib.sh"

WORKERS=8
BURST_S=3

start_server
now
DEADLINE=$((NOW_MS + 30000))

# worker W: POSTs until the stop file, 2000 requests or the deadline; one
# line per request: "STATUS LOGIN ID" (ID from the body of a 201, else -).
worker() {
    local w=$1 i=0 login out st id
    while [ ! -e "$STOP_FILE" ] && [ "$i" -lt 2000 ]; do
        now
        [ "$NOW_MS" -lt "$DEADLINE" ] || break
        i=$((i + 1))
        login="k${w}n$i"
        out=$(curl -s --max-time 5 -X POST -H 'Content-Type: application/json' \
            --data-binary "{\"login\":\"$login\"}" -w '\n%{http_code}' "$BASE_URL/users" 2>/dev/null)
        st=${out##*$'\n'}
        id=-
        if [ "$st" = 201 ]; then
            id='?'
            [[ ${out%$'\n'*} =~ ^\{\"id\":([0-9]+), ]] && id=${BASH_REMATCH[1]}
        fi
        echo "${st:-000} $login $id" >>"$TMP/post.$w"
    done
}

for w in $(seq 1 "$WORKERS"); do
    spawn worker "$w"
done
sleep "$BURST_S"
acked_now() { cat "$TMP"/post.* 2>/dev/null | awk '$1 == 201' | wc -l; }
BEFORE_KILL=$(acked_now)
KILLED_PID=$SERVER_PID
kill -KILL "$KILLED_PID"
wait "$KILLED_PID" 2>/dev/null
KILL_STATUS=$?
SERVER_PID=
expect_eq "$KILL_STATUS" 137 "usersvc was killed by SIGKILL during the burst ($BEFORE_KILL acknowledged so far)"
stop_workers 15

cat "$TMP"/post.* >"$TMP/posts"
TOTAL=$(wc -l <"$TMP/posts")
awk '$1 == 201 { print $2, $3 }' "$TMP/posts" | sort >"$TMP/acked"
ACKED=$(wc -l <"$TMP/acked")
echo "# $TOTAL POSTs: $(awk '{ n[$1]++ } END { for (k in n) printf "%s=%d ", k, n[k] }' "$TMP/posts")(000 = no answer: in flight at the kill, or after it)"
if [ "$ACKED" -ge 50 ]; then
    ok "the burst was acknowledged ($ACKED POSTs answered 201 before the kill)"
else
    not_ok "the burst was acknowledged ($ACKED POSTs answered 201 before the kill, want >= 50)"
fi
expect_eq "$(awk '$1 != 201 && $1 != "000"' "$TMP/posts" | head -n 3)" "" \
    "every POST was answered 201 or not at all (no 409, no 5xx)"
expect_eq "$(awk '$2 == "?"' "$TMP/acked" | head -n 3)" "" "every 201 body carried an id"

# --- restart on the same database ------------------------------------------
start_server
ok "usersvc starts again on the same database after kill -9"

# Every user, through the API: GET /users page by page (keyset, 100 a page).
: >"$TMP/listed"
AFTER=0
PAGES=0
while [ "$PAGES" -lt 500 ]; do
    PAGES=$((PAGES + 1))
    get "/users?after=$AFTER&limit=100"
    [ "$RESP_STATUS" = 200 ] || { not_ok "GET /users?after=$AFTER&limit=100 -> 200"; _resp_diag; break; }
    jq -r '.items[] | "\(.login) \(.id)"' <"$RESP_BODY" >>"$TMP/listed"
    NEXT=$(jq -r '.next // empty' <"$RESP_BODY")
    [ -n "$NEXT" ] || break
    AFTER=$(sed -n 's/.*after=\([0-9]*\).*/\1/p' <<<"$NEXT")
    [ -n "$AFTER" ] || { not_ok "the next link carries after=ID ($NEXT)"; break; }
done
sort "$TMP/listed" >"$TMP/listed.sorted"
LISTED=$(wc -l <"$TMP/listed.sorted")
FOUND=$(comm -12 "$TMP/acked" "$TMP/listed.sorted" | wc -l)
LOST=$((ACKED - FOUND))
echo "# acknowledged $ACKED, found $FOUND, lost $LOST"
echo "# stored but never acknowledged (in flight at the kill): $(comm -13 "$TMP/acked" "$TMP/listed.sorted" | wc -l)"
expect_eq "$LOST" 0 "acknowledged $ACKED, found $FOUND, lost $LOST"
if [ "$LOST" -gt 0 ]; then
    diag "lost (login id): $(comm -23 "$TMP/acked" "$TMP/listed.sorted" | head -n 10 | tr '\n' ' ')"
fi
echo "# listed $LISTED users in $PAGES pages"

# The acknowledgements closest to the kill, one by one: GET /users/{id}.
CHECKED=0
BAD=
for w in $(seq 1 "$WORKERS"); do
    while read -r st login id; do
        CHECKED=$((CHECKED + 1))
        get "/users/$id"
        if [ "$RESP_STATUS" != 200 ] || [ "$(json_get .login)" != "$login" ]; then
            BAD+="$login/$id->$RESP_STATUS "
        fi
    done < <(awk '$1 == 201' "$TMP/post.$w" 2>/dev/null | tail -n 5)
done
expect_eq "$BAD" "" "GET /users/{id} returns each of the last $CHECKED acknowledged users"

# The service goes on: ids are not reused, logins are still taken.
MAX_ID=$(awk '{ if ($2 > m) m = $2 } END { print m + 0 }' "$TMP/acked")
post /users '{"login":"after_kill"}'
expect_status 201 "POST after the restart creates"
NEW_ID=$(json_get .id)
if [ "$NEW_ID" -gt "$MAX_ID" ] 2>/dev/null; then
    ok "the new id $NEW_ID is above every acknowledged id (max $MAX_ID)"
else
    not_ok "the new id $NEW_ID is above every acknowledged id (max $MAX_ID)"
fi
FIRST=$(head -n 1 "$TMP/acked" | cut -d' ' -f1)
if [ -n "$FIRST" ]; then
    post /users "{\"login\":\"$(tr '[:lower:]' '[:upper:]' <<<"$FIRST")\"}"
    expect_status 409 "an acknowledged login is still taken after the restart"
fi
expect_eq "$(log_5xx)" "" "the access log has no 5xx but 503"
