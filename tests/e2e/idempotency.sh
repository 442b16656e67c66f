#!/usr/bin/env bash
# POST /users with Idempotency-Key (API.md "Idempotent retries", issue 17):
# a retry replays the stored 201 byte for byte with Idempotency-Replayed:
# true and creates nothing; the same key with another body is 422; a bad key
# is 400; concurrent requests with one key create exactly one user (the
# others get 409 with Retry-After, or the replay); keys expire after
# IDEMPOTENCY_TTL_S (and never before); `migrate down` removes the table.
. "$(dirname "$0")/lib.sh"
start_server

# n_users LOGIN: how many users have LOGIN (case-insensitively).
n_users() {
    get "/users?login=$1"
    jq '.items | length' "$RESP_BODY"
}

# keyed KEY BODY: POST /users with Idempotency-Key KEY.
keyed() {
    post /users "$2" application/json -H "Idempotency-Key: $1"
}

# ---- first request, then a retry: the same bytes, nothing created ----------
keyed 'k-1' '{"login":"idem1","first_name":"Ida 🎈"}'
expect_status 201 "a POST with a key creates the user"
expect_no_header Idempotency-Replayed "the first response is not a replay"
cp "$RESP_BODY" "$TMP/first.body"
LOC1=$(header_value Location)
ETAG1=$(header_value ETag)
ID1=$(jq .id "$RESP_BODY")
for try in 1 2; do
    keyed 'k-1' '{"login":"idem1","first_name":"Ida 🎈"}'
    expect_status 201 "retry $try with the same key and body: 201"
    expect_header Idempotency-Replayed true "retry $try: Idempotency-Replayed: true"
    expect_header Location "$LOC1" "retry $try: the same Location"
    expect_header ETag "$ETAG1" "retry $try: the same ETag"
    expect_header Content-Type application/json "retry $try: application/json"
    check "retry $try: the body is byte for byte the first one" cmp -s "$TMP/first.body" "$RESP_BODY"
done
expect_eq "$(n_users idem1)" 1 "the retries created nothing"
get "/users/$ID1"
expect_status 200 "the user is there"
expect_json .first_name "Ida 🎈" "with its name as sent"

# ---- the same key, another body: 422, nothing created ----------------------
keyed 'k-1' '{"login":"idem1b"}'
expect_problem 422 "the same key with another body: 422"
expect_body_contains 'Idempotency-Key' "the detail names the key"
expect_json '.errors[0].field' 'Idempotency-Key' "errors lists the key"
expect_eq "$(n_users idem1b)" 0 "the reused key created nothing"
keyed 'k-1' '{"login":"idem1", "first_name":"Ida 🎈"}'
expect_problem 422 "another body is another body, even when it means the same JSON"
post /users '{"login":"idem1","first_name":"Ida 🎈"}'
expect_problem 409 "without a key, the same body is a new request: 409, the login is taken"

# ---- keys are case-sensitive and independent -------------------------------
keyed 'K-1' '{"login":"idem2"}'
expect_status 201 "K-1 is another key than k-1"
expect_no_header Idempotency-Replayed "K-1 runs"

# ---- a keyed request that fails is not stored -------------------------------
keyed 'k-taken' '{"login":"IDEM1"}'
expect_problem 409 "a keyed POST for a taken login: 409"
expect_no_header Retry-After "a taken login is not 'in progress'"
keyed 'k-taken' '{"login":"IDEM1"}'
expect_problem 409 "its retry: 409 again (a failure is not stored)"
keyed 'k-bad' '{"login":"no spaces"}'
expect_problem 422 "a keyed POST with an invalid body: 422 with errors"
expect_jq '.errors | length > 0' "the 422 lists the fields"
keyed 'k-bad' '{"login":"nospaces"}'
expect_status 201 "the key of a refused request is free for the corrected body"

# ---- bad keys: 400, nothing created ------------------------------------------
post /users '{"login":"idem3"}' application/json -H 'Idempotency-Key;'
expect_problem 400 "an empty key: 400"
LONG=$(printf 'k%.0s' $(seq 1 256))
keyed "$LONG" '{"login":"idem3"}'
expect_problem 400 "a 256-character key: 400"
keyed "$(printf 'é-%s' key)" '{"login":"idem3"}'
expect_problem 400 "a key with a non-ASCII character: 400"
raw_request "POST /users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nIdempotency-Key: a\tb\r\nContent-Length: 17\r\nConnection: close\r\n\r\n{\"login\":\"idem3\"}"
expect_status 400 "a key with a tab: 400"
expect_eq "$(n_users idem3)" 0 "bad keys created nothing"
keyed "${LONG:1}" '{"login":"idem3"}'
expect_status 201 "a 255-character key is fine"
keyed ' !"#$%&()*+,-./:;<=>?@[\]^_`{|}~' '{"login":"idem4"}'
expect_status 201 "printable ASCII punctuation is fine"
keyed ' !"#$%&()*+,-./:;<=>?@[\]^_`{|}~' '{"login":"idem4"}'
expect_header Idempotency-Replayed true "... and replays"

# ---- concurrent requests with one key ----------------------------------------
# parallel NAME KEY BODY...: one curl per BODY, all at once, with KEY.
parallel() {
    local name=$1 key=$2 i=0 pids=() b
    shift 2
    for b in "$@"; do
        i=$((i + 1))
        curl -sS --max-time 15 -o "$TMP/$name.$i.body" -D "$TMP/$name.$i.head" \
            -w '%{http_code}\n' -X POST -H 'Content-Type: application/json' \
            -H "Idempotency-Key: $key" --data-binary "$b" "$BASE_URL/users" \
            >"$TMP/$name.$i.code" 2>/dev/null &
        pids+=($!)
    done
    for i in "${pids[@]}"; do wait "$i"; done
}

for round in 1 2 3; do
    bodies=()
    for i in 1 2 3 4 5 6 7 8; do bodies+=("{\"login\":\"par$round\"}"); done
    parallel "same$round" "k-par-$round" "${bodies[@]}"
    codes=$(cat "$TMP"/same$round.*.code | sort | uniq -c | awk '{printf "%s×%s ", $2, $1}')
    bad=0 fresh=0
    for i in 1 2 3 4 5 6 7 8; do
        c=$(cat "$TMP/same$round.$i.code")
        h="$TMP/same$round.$i.head"
        case "$c" in
            201) if grep -qi '^Idempotency-Replayed: true' "$h"; then :; else fresh=$((fresh + 1)); fi
                 cmp -s "$TMP/same$round.$i.body" "$TMP/same$round.1.body" \
                     || [ "$(cat "$TMP/same$round.1.code")" != 201 ] || bad=1 ;;
            409) grep -qi '^Retry-After: [0-9]' "$h" || bad=1 ;;
            *) bad=1 ;;
        esac
    done
    expect_eq "$bad" 0 "round $round: 8 concurrent POSTs with one key: each 201 (one body) or 409 with Retry-After ($codes)"
    expect_eq "$fresh" 1 "round $round: exactly one of them ran (one 201 that is not a replay)"
    expect_eq "$(n_users "par$round")" 1 "round $round: exactly one user"
    keyed "k-par-$round" "{\"login\":\"par$round\"}"
    expect_status 201 "round $round: a retry afterwards replays the 201"
    expect_header Idempotency-Replayed true "round $round: ... as a replay"
done

# Two instances on one database: each lets one request with the key run,
# so two transactions race and the key table's unique index (and the
# login's) decides; the loser replays the winner's stored response.
"$USERSVC_BIN" serve --database "$DB_URL" --host 127.0.0.1 --port 0 \
    >"$TMP/second.out" 2>"$TMP/second.log" </dev/null &
SECOND_PID=$!
trap 'kill "$SECOND_PID" 2>/dev/null; _finish' EXIT    # lib.sh's _finish still runs
SECOND_URL=
for i in $(seq 1 100); do
    p=$(grep -Eo 'listening on http://127\.0\.0\.1:[0-9]+' "$TMP/second.log" | head -n 1)
    [ -n "$p" ] && { SECOND_URL="http://127.0.0.1:${p##*:}"; break; }
    sleep 0.1
done
[ -n "$SECOND_URL" ] || bail "a second instance starts"
FIRST_URL=$BASE_URL
for round in 1 2 3; do
    pids=()
    for i in 1 2 3 4 5 6 7 8; do
        url=$FIRST_URL
        [ $((i % 2)) = 0 ] && url=$SECOND_URL
        curl -sS --max-time 15 -o "$TMP/two$round.$i.body" -D "$TMP/two$round.$i.head" \
            -w '%{http_code}\n' -X POST -H 'Content-Type: application/json' \
            -H "Idempotency-Key: k-two-$round" --data-binary "{\"login\":\"two$round\"}" \
            "$url/users" >"$TMP/two$round.$i.code" 2>/dev/null &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p"; done
    codes=$(cat "$TMP"/two$round.*.code | sort | uniq -c | awk '{printf "%s×%s ", $2, $1}')
    fresh=0 bad=0
    for i in 1 2 3 4 5 6 7 8; do
        case "$(cat "$TMP/two$round.$i.code")" in
            201) grep -qi '^Idempotency-Replayed: true' "$TMP/two$round.$i.head" \
                     || fresh=$((fresh + 1)) ;;
            409) grep -qi '^Retry-After: [0-9]' "$TMP/two$round.$i.head" || bad=1 ;;  # never "taken"
            *) bad=1 ;;
        esac
    done
    expect_eq "$bad" 0 "two instances, round $round: every answer 201, or 409 in progress with Retry-After ($codes)"
    expect_eq "$fresh" 1 "two instances, round $round: exactly one request ran"
    expect_eq "$(n_users "two$round")" 1 "two instances, round $round: exactly one user"
done
kill "$SECOND_PID" 2>/dev/null
wait "$SECOND_PID" 2>/dev/null
trap _finish EXIT

# One key, eight different bodies at once: one user, the others 409 or 422.
bodies=()
for i in 1 2 3 4 5 6 7 8; do bodies+=("{\"login\":\"mix$i\"}"); done
parallel mix k-mix "${bodies[@]}"
codes=$(cat "$TMP"/mix.*.code | sort | uniq -c | awk '{printf "%s×%s ", $2, $1}')
n201=$(cat "$TMP"/mix.*.code | grep -c '^201$')
nother=$(cat "$TMP"/mix.*.code | grep -Ec '^(409|422)$')
expect_eq "$n201" 1 "one key, 8 bodies at once: exactly one 201 ($codes)"
expect_eq "$nother" 7 "the others: 409 or 422"
made=0
for i in 1 2 3 4 5 6 7 8; do made=$((made + $(n_users "mix$i"))); done
expect_eq "$made" 1 "one key, 8 bodies: exactly one user exists"

# ---- expiry: forgotten after the TTL, never before ----------------------------
stop_server
TTL=4
start_server --idempotency-ttl-s "$TTL"
now_ms() { local t=${EPOCHREALTIME//[.,]/}; echo $((t / 1000)); }
keyed 'k-old' '{"login":"exp1"}'
expect_status 201 "a key before the wait"
sleep 2
T_YOUNG=$(now_ms)                     # k-young's created_at is after this
keyed 'k-young' '{"login":"exp2"}'
expect_status 201 "a key 2 s later"
old_gone=0 early=0
for i in $(seq 1 150); do             # at most 30 s
    t=$(now_ms)
    rows=$(db_exec "SELECT COUNT(*) FROM idempotency_keys" | tr -d ' ')
    # k-young may only be gone once it is TTL old.
    if [ "$rows" = 0 ] && [ $((t - T_YOUNG)) -lt $((TTL * 1000)) ]; then early=1; fi
    if [ "$rows" -le 1 ] && [ "$old_gone" = 0 ]; then
        old_gone=1
        keyed 'k-young' '{"login":"exp2"}'
        if [ $((t - T_YOUNG)) -lt $((TTL * 1000 - 500)) ]; then
            expect_header Idempotency-Replayed true "when the old key is purged the young one still replays"
        fi
    fi
    [ "$rows" = 0 ] && break
    sleep 0.2
done
expect_eq "$old_gone" 1 "the expired key is purged within 30 s"
expect_eq "$early" 0 "no key was purged before it was $TTL s old"
expect_eq "$(db_exec "SELECT COUNT(*) FROM idempotency_keys" | tr -d ' ')" 0 \
    "every key is purged after the TTL"
keyed 'k-old' '{"login":"exp3"}'
expect_status 201 "an expired key is forgotten: another body runs (not 422)"
expect_no_header Idempotency-Replayed "... as a new request"
expect_eq "$(n_users exp1)" 1 "the purge deleted keys, not users"

# ---- migrate down removes the table; up brings it back ------------------------
stop_server
run_cli migrate down --database "$DB_URL"
expect_cli_rc 0 "migrate down reverts the key table's migration"
if db_exec "SELECT COUNT(*) FROM idempotency_keys" >/dev/null 2>&1; then
    not_ok "after migrate down the idempotency_keys table is gone"
else
    ok "after migrate down the idempotency_keys table is gone"
fi
expect_eq "$(db_exec "SELECT COUNT(*) FROM users WHERE login = 'idem1'" | tr -d ' ')" 1 \
    "the users are untouched"
run_cli migrate status --database "$DB_URL"
expect_cli_fails "migrate status: the key table's migration is pending"
expect_output '0003' "migrate status names 0003"
start_server
keyed 'k-1' '{"login":"idem5"}'
expect_status 201 "after migrate up again, keys start afresh"
