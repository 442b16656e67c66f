#!/usr/bin/env bash
# Concurrent writes (second stage). Requests are started together (they wait
# on a common start file) and then awaited by PID.
# - Two (or four) PATCHes with the same If-Match: exactly one 200, the others
#   412, and the user holds the winner's change (no lost update), several rounds.
# - PATCH and DELETE with the same If-Match: exactly one of them succeeds.
# - PATCHes of different users all succeed.
# - PATCHes without If-Match of different fields of one user all succeed and
#   no change is lost (each PATCH writes only the fields it names).
# - Two users renamed to the same login at once: one 200, one 409.
# - Many DELETEs of one user: exactly one 204, the others 404.
. "$(dirname "$0")/lib.sh"
start_server

MP=application/merge-patch+json
JOB=0
PIDS=()

# spawn METHOD PATH [CURL ARGS...]: start a request in the background; it
# fires when $TMP/go exists. Its status goes to $TMP/job.N.status, its body
# to $TMP/job.N.body.
spawn() {
    local method=$1 path=$2 n=$JOB
    shift 2
    JOB=$((JOB + 1))
    (
        for _ in $(seq 1 500); do [ -e "$TMP/go" ] && break; sleep 0.01; done
        curl -sS --max-time 20 -X "$method" -o "$TMP/job.$n.body" -w '%{http_code}' "$@" \
            "$BASE_URL$path" >"$TMP/job.$n.status" 2>"$TMP/job.$n.err"
    ) &
    PIDS+=($!)
}

# go: release the spawned requests and wait for each of them (by PID).
# Sets STATUSES to their statuses in spawn order.
go() {
    local pid n
    touch "$TMP/go"
    for pid in "${PIDS[@]}"; do
        wait "$pid"
    done
    STATUSES=()
    for ((n = FIRST_JOB; n < JOB; n++)); do
        STATUSES+=("$(cat "$TMP/job.$n.status" 2>/dev/null || echo 000)")
    done
    PIDS=()
    rm -f "$TMP/go"
    FIRST_JOB=$JOB
}
FIRST_JOB=0

# is_412_problem FILE: FILE holds a 412 problem body (an empty file does not:
# jq 1.6 -e succeeds on no input).
is_412_problem() {
    [ -s "$1" ] && jq -e '.status == 412 and (.detail | type == "string")' "$1" >/dev/null 2>&1
}

# count STATUS: how many of STATUSES are STATUS.
count() {
    local s n=0
    for s in "${STATUSES[@]}"; do [ "$s" = "$1" ] && n=$((n + 1)); done
    echo "$n"
}

# ---- PATCHes with one If-Match: exactly one wins ---------------------------------
# Two, then four at once, several rounds (a race shows only sometimes).
create_user racer Racer
id=$USER_ID
for round in 1 2 3 4 5 6 7 8 9 10; do
    n=$(( round <= 4 ? 2 : 4 ))
    get "/users/$id"
    etag=$(header_value ETag)
    first=$JOB
    for ((k = 0; k < n; k++)); do
        spawn PATCH "/users/$id" -H "Content-Type: $MP" -H "If-Match: $etag" \
            --data-binary "{\"first_name\":\"W$round.$k\",\"last_name\":\"W$round.$k\"}"
    done
    go
    expect_eq "$(count 200) $(count 412)" "1 $((n - 1))" \
        "round $round: $n PATCHes with one If-Match -> one 200, $((n - 1)) 412 (got ${STATUSES[*]})"
    win=
    for ((k = 0; k < n; k++)); do
        if [ "${STATUSES[$k]}" = 200 ]; then
            win=$k
        else
            check "round $round: loser $k got a 412 problem body" \
                is_412_problem "$TMP/job.$((first + k)).body"
        fi
    done
    get "/users/$id"
    expect_json '[.first_name,.last_name]' "[\"W$round.$win\",\"W$round.$win\"]" \
        "round $round: the user holds the winner's change, whole"
done

# ---- PATCH and DELETE, one If-Match -------------------------------------------------------
for round in 1 2 3; do
    create_user "pd$round"
    pid_user=$USER_ID
    etag=$(header_value ETag)
    spawn PATCH "/users/$pid_user" -H "Content-Type: $MP" -H "If-Match: $etag" \
        --data-binary '{"first_name":"Patched"}'
    spawn DELETE "/users/$pid_user" -H "If-Match: $etag"
    go
    case "${STATUSES[0]} ${STATUSES[1]}" in
        "200 412")
            ok "round $round: PATCH won, DELETE 412"
            get "/users/$pid_user"
            expect_json .first_name Patched "round $round: the PATCH is stored"
            ;;
        "404 204"|"412 204")
            ok "round $round: DELETE won (${STATUSES[*]})"
            get "/users/$pid_user"
            expect_status 404 "round $round: the user is gone"
            ;;
        *)
            not_ok "round $round: PATCH+DELETE with one If-Match: exactly one succeeds"
            diag "got ${STATUSES[*]}"
            ;;
    esac
done

# ---- PATCHes of different users -----------------------------------------------------------
ids=()
for i in 1 2 3 4 5 6 7 8; do
    create_user "many$i"
    ids+=("$USER_ID")
done
for i in "${!ids[@]}"; do
    spawn PATCH "/users/${ids[$i]}" -H "Content-Type: $MP" --data-binary "{\"first_name\":\"M$i\"}"
done
go
expect_eq "$(count 200)" 8 "8 concurrent PATCHes of 8 users: all 200 (got ${STATUSES[*]})"
for i in "${!ids[@]}"; do
    get "/users/${ids[$i]}"
    expect_json .first_name "M$i" "user ${ids[$i]} holds its own change"
done

# ---- different fields of one user, no If-Match: nothing lost -----------------------------------
create_user fields
fid=$USER_ID
for round in 1 2 3; do
    spawn PATCH "/users/$fid" -H "Content-Type: $MP" --data-binary "{\"first_name\":\"F$round\"}"
    spawn PATCH "/users/$fid" -H "Content-Type: $MP" --data-binary "{\"last_name\":\"L$round\"}"
    go
    expect_eq "${STATUSES[*]}" "200 200" "round $round: PATCHes of two fields both 200"
    get "/users/$fid"
    expect_json '[.first_name,.last_name]' "[\"F$round\",\"L$round\"]" \
        "round $round: both changes are kept"
done

# ---- two users take one login at once ----------------------------------------------------------
for round in 1 2 3; do
    create_user "x$round"
    x=$USER_ID
    create_user "y$round"
    y=$USER_ID
    spawn PATCH "/users/$x" -H "Content-Type: $MP" --data-binary "{\"login\":\"Wanted$round\"}"
    spawn PATCH "/users/$y" -H "Content-Type: $MP" --data-binary "{\"login\":\"WANTED$round\"}"
    go
    expect_eq "$(count 200) $(count 409)" "1 1" \
        "round $round: one login for two users at once -> one 200, one 409 (got ${STATUSES[*]})"
    get "/users?login=wanted$round"
    expect_json '.items | length' 1 "round $round: exactly one user has the login"
done

# ---- many DELETEs of one user ----------------------------------------------------------------------
for round in 1 2 3; do
    create_user "doomed$round"
    did=$USER_ID
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        spawn DELETE "/users/$did"
    done
    go
    expect_eq "$(count 204) $(count 404)" "1 9" \
        "round $round: 10 concurrent DELETEs -> one 204, nine 404 (got ${STATUSES[*]})"
    get "/users/$did"
    expect_problem 404 "round $round: the user is gone"
done

get /healthz
expect_status 200 "the server is alive after the races"
