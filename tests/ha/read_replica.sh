#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Read replicas: GET /users/{id} from a real streaming replica, with
# read-your-writes for existence and a primary fallback (issue 8).
#
# A primary (tests/db/pg.sh, private to this test) and a hot standby made
# with `pg_basebackup -R` on another port. usersvc runs with --database on
# the primary and --database-read on the standby.
#   1. replica in sync: every GET right after its POST is 200; once the
#      standby has replayed, GETs are served by the replica pool (its
#      acquires grow, the primary's do not);
#   2. replay paused (pg_wal_replay_pause): the standby visibly lacks new
#      users, yet GETs right after POST are still 200 (the replica's 404 is
#      re-checked on the primary);
#   3. replica stopped: reads and writes keep answering 2xx (primary
#      fallback), no 5xx, nothing slow.
. "$(dirname "$0")/lib.sh"

POOL_TIMEOUT_MS=1000
N_USERS=20

ensure_owner || bail "user $HA_RUN_AS exists"
BIN=$(pg_bindir) || skip_all "no PostgreSQL server binaries"
[ -x "$BIN/pg_basebackup" ] || skip_all "no pg_basebackup"

# --- primary and standby ------------------------------------------------
ha_private_pg primary
PRIM_PORT=$HA_PG_PORT
new_database
SB=$(pg_owner_dir standby) || bail "standby dir"
SB_PORT=$(free_port)
while [ "$SB_PORT" = "$PRIM_PORT" ]; do SB_PORT=$(free_port); done
as_owner env PGPASSWORD=usersvc-pw PGCONNECT_TIMEOUT=5 timeout 120 "$BIN/pg_basebackup" \
    -h 127.0.0.1 -p "$PRIM_PORT" -U usersvc -D "$SB/data" -R -X stream -c fast \
    >"$TMP/basebackup.log" 2>&1 || { diag_file pg_basebackup "$TMP/basebackup.log"; bail "pg_basebackup -R"; }
HA_PGCTL_DIRS+=("$SB/data")
standby_start() {
    as_owner "$BIN/pg_ctl" -D "$SB/data" -l "$SB/server.log" -w -t 30 \
        -o "-p $SB_PORT -k $SB -c listen_addresses=127.0.0.1" start >/dev/null 2>&1
}
standby_start || { diag "$(tail -n 20 "$SB/server.log")"; bail "standby starts on port $SB_PORT"; }
READ_URL=${DB_URL/:$PRIM_PORT\//:$SB_PORT/}
[ "$READ_URL" != "$DB_URL" ] || bail "replica URL differs from the primary's ($DB_URL)"

psql_at() {   # psql_at URL SQL
    timeout 15 psql -X -q -A -t -w -v ON_ERROR_STOP=1 "$1" -c "$2" 2>"$TMP/psql.err"
}
expect_eq "$(psql_at "$READ_URL" "SELECT pg_is_in_recovery()")" t \
    "the standby on port $SB_PORT is a hot standby streaming from port $PRIM_PORT"

# wait_replay: until the standby has replayed everything the primary wrote.
wait_replay() {
    local lsn i
    lsn=$(psql_at "$DB_URL" "SELECT pg_current_wal_lsn()")
    for i in $(seq 1 150); do
        [ "$(psql_at "$READ_URL" "SELECT pg_last_wal_replay_lsn() >= '$lsn'::pg_lsn")" = t ] \
            && return 0
        sleep 0.1
    done
    return 1
}

# --- usersvc -----------------------------------------------------------
inst_start u serve --database "$DB_URL" --database-read "$READ_URL" --host 127.0.0.1 \
    --port 0 --migrate --pool-timeout-ms "$POOL_TIMEOUT_MS" --pool-size 4 \
    || bail "usersvc starts with a read replica"
BASE=http://127.0.0.1:$(inst_port u)
check "usersvc logs that reads may go to the replica" grep -q 'replica' "$(inst_log u)"

# metric NAME POOL
metric() {
    curl -s --max-time 3 "$BASE/metrics" \
        | awk -v k="$1{pool=\"$2\"}" '$1 == k { print $2; f = 1 } END { if (!f) print "" }'
}

# post_get PREFIX: N_USERS times POST a user and GET it right away; counts
# the answers in CREATED / READ and remembers the ids in IDS.
post_get() {
    local i login out code id
    CREATED=0; READ=0; IDS=(); BAD=
    for i in $(seq 1 "$N_USERS"); do
        login="$1$i"
        out=$(curl -s -o /dev/null --max-time 5 -X POST -H 'Content-Type: application/json' \
            --data-binary "{\"login\":\"$login\"}" -w '%{http_code}|%header{location}' \
            "$BASE/users" 2>/dev/null)
        code=${out%%|*}; id=${out##*/}
        [ "$code" = 201 ] || { BAD+="POST $login -> $code; "; continue; }
        CREATED=$((CREATED + 1)); IDS+=("$id")
        code=$(curl -s -o /dev/null --max-time 5 -w '%{http_code}' "$BASE/users/$id" 2>/dev/null)
        [ "$code" = 200 ] && READ=$((READ + 1)) || BAD+="GET /users/$id -> $code; "
    done
}

# get_all: GETs every id in IDS; counts 200s in READ.
get_all() {
    local id code
    READ=0; BAD=
    for id in "${IDS[@]}"; do
        code=$(curl -s -o /dev/null --max-time 5 -w '%{http_code}' "$BASE/users/$id" 2>/dev/null)
        [ "$code" = 200 ] && READ=$((READ + 1)) || BAD+="GET /users/$id -> $code; "
    done
}

# --- 1. replica in sync -------------------------------------------------
wait_replay || bail "the standby replays the migrations"
r0=$(metric usersvc_db_pool_acquires_total replica)
post_get sync
expect_eq "$CREATED/$READ" "$N_USERS/$N_USERS" "replica in sync: $N_USERS users created, each GET right after its POST is 200"
[ -z "$BAD" ] || diag "$BAD"
wait_replay || not_ok "the standby catches up"
r1=$(metric usersvc_db_pool_acquires_total replica)
p1=$(metric usersvc_db_pool_acquires_total primary)
get_all
r2=$(metric usersvc_db_pool_acquires_total replica)
p2=$(metric usersvc_db_pool_acquires_total primary)
expect_eq "$READ" "$N_USERS" "replicated users: GET is 200 ($N_USERS)"
echo "# replica in sync: replica pool acquires $r0 -> $r1 -> $r2, primary pool acquires $p1 -> $p2" \
    "for $N_USERS GETs of replicated users"
check "the GETs went to the replica pool (usersvc_db_pool_acquires_total{pool=\"replica\"} +$((r2 - r1)))" \
    [ $((r2 - r1)) -ge "$N_USERS" ]
check "the replica answered them: the primary pool was not needed (+$((p2 - p1)))" \
    [ $((p2 - p1)) -lt $((N_USERS / 2)) ]
c=$(metric usersvc_db_connects_total replica)
check "usersvc_db_connects_total{pool=\"replica\"} counts replica connections ($c)" [ "${c:-0}" -ge 1 ]

# --- 2. replay paused: the replica lags -----------------------------------
psql_at "$READ_URL" "SELECT pg_wal_replay_pause()" >/dev/null || bail "pg_wal_replay_pause()"
for i in $(seq 1 50); do
    [ "$(psql_at "$READ_URL" "SELECT pg_get_wal_replay_pause_state()")" = paused ] && break
    sleep 0.1
done
r3=$(metric usersvc_db_pool_acquires_total replica)
p3=$(metric usersvc_db_pool_acquires_total primary)
post_get lag
r4=$(metric usersvc_db_pool_acquires_total replica)
p4=$(metric usersvc_db_pool_acquires_total primary)
ids=$(IFS=,; echo "${IDS[*]}")
on_replica=$(psql_at "$READ_URL" "SELECT count(*) FROM users WHERE id IN (${ids:-0})")
on_primary=$(psql_at "$DB_URL" "SELECT count(*) FROM users WHERE id IN (${ids:-0})")
echo "# replay paused: of $CREATED new users the standby has $on_replica, the primary $on_primary;" \
    "replica pool acquires +$((r4 - r3)), primary +$((p4 - p3)) (POSTs and fallbacks)"
expect_eq "$on_replica" 0 "replay paused: the standby lacks the new users (lag made visible)"
expect_eq "$CREATED/$READ" "$N_USERS/$N_USERS" "replica behind: each GET right after its POST is still 200 (primary fallback)"
[ -z "$BAD" ] || diag "$BAD"
check "the replica was asked first, then the primary (replica +$((r4 - r3)), primary +$((p4 - p3)))" \
    [ $((r4 - r3 >= N_USERS && p4 - p3 >= 2 * N_USERS)) = 1 ]
code=$(curl -s -o /dev/null --max-time 5 -w '%{http_code}' "$BASE/users/999999999")
expect_eq "$code" 404 "a user that exists nowhere is still 404"
psql_at "$READ_URL" "SELECT pg_wal_replay_resume()" >/dev/null || not_ok "pg_wal_replay_resume()"
wait_replay || not_ok "the standby catches up after resume"

# --- 3. replica stopped ---------------------------------------------------
as_owner "$BIN/pg_ctl" -D "$SB/data" -m immediate -w -t 20 stop >/dev/null 2>&1 \
    || bail "the standby stops"
ok "the standby is stopped (immediate)"
fail0=$(( $(metric usersvc_db_connect_failures_total replica) + $(metric usersvc_db_reconnects_total replica) ))
now; T0=$NOW_MS
OLD_IDS=("${IDS[@]}")
get_all
old_ok=$READ
post_get down
now; T1=$NOW_MS
expect_eq "$old_ok" "$N_USERS" "replica down: GETs of existing users are 200"
[ -z "$BAD" ] || diag "$BAD"
expect_eq "$CREATED/$READ" "$N_USERS/$N_USERS" "replica down: POST then GET are 201/200"
fail1=$(( $(metric usersvc_db_connect_failures_total replica) + $(metric usersvc_db_reconnects_total replica) ))
# The first read finds the replica dead (a discarded connection or a failed
# connect) and falls back; the replica then rests for 2 s (orm.c
# ORM_REPLICA_REST_MS), so later reads go straight to the primary.
echo "# replica down: $((N_USERS * 3)) requests in $((T1 - T0)) ms;" \
    "replica failures (connects + discarded) $fail0 -> $fail1"
check "the replica was tried and failed over to the primary (failures +$((fail1 - fail0)))" \
    [ $((fail1 - fail0)) -ge 1 ]
# Bounded: a dead replica costs a refused connection, not a timeout.
check "replica down: $((N_USERS * 3)) requests took less than 15 s ($((T1 - T0)) ms)" \
    [ $((T1 - T0)) -lt 15000 ]
c5=$(curl -s --max-time 3 "$BASE/metrics" | grep -E '^usersvc_http_requests_total' \
    | grep -E 'status="5[0-9][0-9]"' | awk '{ s += $2 } END { print s + 0 }')
expect_eq "$c5" 0 "no 5xx answered in the whole test (usersvc_http_requests_total)"

# --- 4. the replica comes back ---------------------------------------------
standby_start || not_ok "the standby starts again"
IDS=("${OLD_IDS[@]}")
for i in $(seq 1 50); do
    [ "$(psql_at "$READ_URL" "SELECT 1")" = 1 ] && break
    sleep 0.2
done
wait_replay || true
sleep 2.5   # the replica's rest after a failure (ORM_REPLICA_REST_MS) ends
r5=$(metric usersvc_db_pool_acquires_total replica)
p5=$(metric usersvc_db_pool_acquires_total primary)
get_all
r6=$(metric usersvc_db_pool_acquires_total replica)
p6=$(metric usersvc_db_pool_acquires_total primary)
expect_eq "$READ" "$N_USERS" "replica back: GETs are 200"
check "replica back: the replica pool serves reads again without a restart (primary +$((p6 - p5)))" \
    [ $((r6 - r5 >= N_USERS && p6 - p5 < N_USERS / 2)) = 1 ]
