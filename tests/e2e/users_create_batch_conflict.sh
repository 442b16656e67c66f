#!/usr/bin/env bash
# POST /users in batches (issue 19): many concurrent creates, some sharing
# a login, run together (PostgreSQL's pipeline, MariaDB's multi-row
# INSERT ... RETURNING, SQLite's group commit). A duplicate fails only its
# own request: each shared login gets exactly one 201 and 409s naming the
# login, every unique login gets 201, and each login is stored once.
. "$(dirname "$0")/lib.sh"
start_server

metric_value() {
    curl -s --max-time 5 "$BASE_URL/metrics" | awk -v m="$1" '$1 == m "{pool=\"primary\"}" { print $2; exit }'
}

post /users '{"login":"warmup"}'
expect_status 201 "a first create"
before=$(metric_value usersvc_db_batched_statements_total)

N_UNIQUE=16 N_SHARED=4 COPIES=4
for round in 1 2 3 4; do
    pids=()
    logins=()
    for i in $(seq 1 $N_UNIQUE); do logins+=("uniq${round}x$i"); done
    for c in $(seq 1 $COPIES); do
        for s in $(seq 1 $N_SHARED); do logins+=("shared${round}x$s"); done
    done
    for j in "${!logins[@]}"; do
        curl -sS --max-time 10 -o "$TMP/bc.$round.$j.body" -w '%{http_code}\n' -X POST \
            -H 'Content-Type: application/json' \
            --data-binary "{\"login\":\"${logins[$j]}\"}" \
            "$BASE_URL/users" >"$TMP/bc.$round.$j.code" 2>/dev/null &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p"; done
    bad_unique="" bad_shared="" bad_detail=""
    for j in "${!logins[@]}"; do
        code=$(cat "$TMP/bc.$round.$j.code")
        case ${logins[$j]} in
            uniq*) [ "$code" = 201 ] || bad_unique+="${logins[$j]}=$code " ;;
            shared*)
                if [ "$code" = 409 ]; then
                    grep -q '"detail":"login is already taken"' "$TMP/bc.$round.$j.body" \
                        || bad_detail+="$(head -c 200 "$TMP/bc.$round.$j.body") "
                elif [ "$code" != 201 ]; then
                    bad_shared+="${logins[$j]}=$code "
                fi
                ;;
        esac
    done
    expect_eq "$bad_unique" "" "round $round: every unique login of $((N_UNIQUE + N_SHARED * COPIES)) concurrent POSTs got 201"
    expect_eq "$bad_shared" "" "round $round: shared logins got only 201 or 409"
    expect_eq "$bad_detail" "" "round $round: each 409 names the login"
    for s in $(seq 1 $N_SHARED); do
        n201=0
        for j in "${!logins[@]}"; do
            [ "${logins[$j]}" = "shared${round}x$s" ] || continue
            [ "$(cat "$TMP/bc.$round.$j.code")" = 201 ] && n201=$((n201 + 1))
        done
        expect_eq "$n201" 1 "round $round: exactly one of $COPIES POSTs of shared${round}x$s got 201"
    done
done

# Each login stored exactly once.
expect_eq "$(db_exec "SELECT COUNT(*), COUNT(DISTINCT login) FROM users WHERE login LIKE 'uniq%' OR login LIKE 'shared%'" | tr -s ' \t|' ' ')" \
    "$((4 * (N_UNIQUE + N_SHARED))) $((4 * (N_UNIQUE + N_SHARED)))" \
    "every login stored exactly once"
after=$(metric_value usersvc_db_batched_statements_total)
case "$BACKEND" in
    sqlite) ;;
    *)
        if [ "${after:-0}" -gt "${before:-0}" ]; then
            ok "the creates were batched (batched statements $before -> $after)"
        else
            not_ok "the creates were batched (batched statements $before -> $after)"
        fi
        ;;
esac
for round in 1 2 3 4; do
    for s in $(seq 1 $N_SHARED); do
        post /users "{\"login\":\"SHARED${round}x$s\"}"
        expect_problem 409 "shared${round}x$s is stored and taken"
    done
done
get /healthz
expect_status 200 "server alive after the batches"
