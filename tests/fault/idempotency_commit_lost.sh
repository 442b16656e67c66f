#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Fault: the connection dies after the database committed a keyed POST and
# before its answer reaches usersvc (issue 17, "retries that are always
# safe").
#
# Through tests/fault/faultproxy.py, with one pooled connection: a keyed
# POST's whole exchange with the database (the lookup of the key, BEGIN,
# the user's INSERT, the key's INSERT, COMMIT) is measured on an identical
# request first (the proxy's byte counter), then the proxy lets all but the
# last byte of the next one through and resets both sides: the COMMIT has
# been answered, so the user and its key are stored, but usersvc cannot
# know and answers 503. The client then retries with the same key, as it
# should: it must get 201 (the stored response, Idempotency-Replayed: true
# when the first one had committed), never 409 for its own user. In the
# end every acknowledged key maps to exactly one user.
. "$(dirname "$0")/lib.sh"
need_python
only_backends postgres mysql

ROUNDS=6

# kpost KEY LOGIN: a keyed POST through curl; prints "STATUS|REPLAYED".
kpost() {
    curl -s -o /dev/null --max-time 8 -X POST -H 'Content-Type: application/json' \
        -H "Idempotency-Key: $1" --data-binary "{\"login\":\"$2\"}" \
        -w '%{http_code}|%header{idempotency-replayed}' "$BASE_URL/users" 2>/dev/null
}

down_bytes() {
    proxy status | sed -E 's/.* down=([0-9]+).*/\1/'
}

proxy_start
# One connection, never pinged: every byte the proxy forwards belongs to
# the request being measured or struck.
start_server --database "$PROXY_URL" --pool-size 1 --idle-check-ms 0 \
    --pool-timeout-ms 1000 --statement-timeout-ms 2000
# Ids of two digits from here on, so that a measured reply and the struck
# one are the same length. For the same reason every login below is padded
# with x's to 7 characters ("pre10xxx", "kl1xxxx"): the x's are filler, so
# the reset can be armed at the byte count of a reply measured just before.
for i in $(seq 10 19); do
    [ "$(kpost "pre-$i" "pre${i}xxx" | cut -d'|' -f1)" = 201 ] || bail "keyed POST pre-$i"
done
STRUCK=0
for i in $(seq 1 $ROUNDS); do
    # Warm (a connection replaced after the last reset prepares its
    # statements here), then measure an identical request.
    [ "$(kpost "warm-$i" "wa${i}xxxx" | cut -d'|' -f1)" = 201 ] || not_ok "round $i: warm-up POST"
    d0=$(down_bytes)
    [ "$(kpost "meas-$i" "me${i}xxxx" | cut -d'|' -f1)" = 201 ] || not_ok "round $i: measured POST"
    d1=$(down_bytes)
    len=$((d1 - d0))
    [ "$len" -gt 1 ] || { not_ok "round $i: the proxy counted the reply ($len bytes)"; continue; }
    proxy reset_after $((len - 1)) >/dev/null || bail "the proxy arms a reset"
    first=$(kpost "key-$i" "kl${i}xxxx")
    proxy reset_after 0 >/dev/null          # disarm if it did not fire
    n=$(db_exec "SELECT COUNT(*) FROM users WHERE login = 'kl${i}xxxx'" | tr -d ' ')
    case "${first%%|*}" in
        503) [ "$n" = 1 ] && STRUCK=$((STRUCK + 1))
             ok "round $i: the first attempt got 503 (user stored: $n)" ;;
        201) ok "round $i: the first attempt got 201 (the fault missed)" ;;
        *) not_ok "round $i: the first attempt got 201 or 503 (got $first)" ;;
    esac
    # Retry with the same key until an answer that is not 503 (bounded).
    for try in 1 2 3 4 5 6 7 8 9 10; do
        res=$(kpost "key-$i" "kl${i}xxxx")
        [ "${res%%|*}" = 503 ] || break
        sleep 0.3
    done
    expect_eq "${res%%|*}" 201 "round $i: the retry with the same key gets 201, never 409 ($res)"
    if [ "${first%%|*}" = 503 ] && [ "$n" = 1 ]; then
        expect_eq "${res#*|}" true "round $i: the retry replays the committed response"
    fi
    expect_eq "$(db_exec "SELECT COUNT(*) FROM users WHERE login = 'kl${i}xxxx'" | tr -d ' ')" 1 \
        "round $i: exactly one user for the key"
done
if [ "$STRUCK" -ge 1 ]; then
    ok "the fault struck between commit and answer in $STRUCK of $ROUNDS rounds"
else
    not_ok "the fault struck between commit and answer at least once (0 of $ROUNDS rounds)"
fi
# Every acknowledged key (10 + 3 per round) is stored once, with one user.
expect_eq "$(db_exec "SELECT COUNT(*) FROM idempotency_keys" | tr -d ' ')" $((10 + 3 * ROUNDS)) \
    "every acknowledged key is stored exactly once"
expect_eq "$(db_exec "SELECT COUNT(*) FROM users" | tr -d ' ')" $((10 + 3 * ROUNDS)) \
    "... and maps to exactly one user (no user without its key, none twice)"
