#!/usr/bin/env bash
# POST /users: when concurrent requests race for one login (in different
# cases), exactly one gets 201 and the others 409.
. "$(dirname "$0")/lib.sh"
start_server

N=20
for round in 1 2 3; do
    pids=()
    for i in $(seq 1 $N); do
        case $((i % 3)) in
            0) l="racer$round" ;;
            1) l="RACER$round" ;;
            2) l="Racer$round" ;;
        esac
        curl -sS --max-time 10 -o /dev/null -w '%{http_code}\n' -X POST \
            -H 'Content-Type: application/json' --data-binary "{\"login\":\"$l\"}" \
            "$BASE_URL/users" >"$TMP/race.$round.$i" 2>/dev/null &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p"; done
    codes=$(cat "$TMP"/race.$round.* | sort | uniq -c | awk '{printf "%s×%s ", $2, $1}')
    n201=$(cat "$TMP"/race.$round.* | grep -c '^201$')
    n409=$(cat "$TMP"/race.$round.* | grep -c '^409$')
    expect_eq "$n201" 1 "round $round: exactly one of $N concurrent POSTs got 201 ($codes)"
    expect_eq "$n409" $((N - 1)) "round $round: the other $((N - 1)) got 409"
done

# Afterwards each login exists exactly once and is still taken.
for round in 1 2 3; do
    post /users "{\"login\":\"racer$round\"}"
    expect_problem 409 "racer$round is taken after the race"
done
get /healthz
expect_status 200 "server alive after the races"
