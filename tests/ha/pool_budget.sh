#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Connection budgets (issue 18): several instances at the default pool size
# directly against a PostgreSQL whose max_connections is far too small for
# all their pools.
#
#  1. A private PostgreSQL with max_connections = 12 and 3 slots reserved
#     for superusers: 9 for the service's role (a non-superuser, as in
#     production), against 4 instances x the default pool of 16.
#  2. Mixed load (POST, GET, PATCH, list, DELETE) on every instance: every
#     answer is 2xx or 503 with Retry-After, none later than the pool and
#     statement timeouts allow, none hangs; the refusals were waited out
#     (usersvc_db_connect_refused_full_total > 0) and each 503 is counted in
#     usersvc_db_pool_acquire_timeouts_total, the series operators alert on;
#     a superuser still gets in (the reserved slots were never touched);
#     no acknowledged write is lost.
#  3. Recovery: every instance answers 2xx afterwards, and gives its idle
#     connections back (DB_POOL_IDLE_TIMEOUT_MS): the role's connections
#     drop to DB_POOL_MIN_IDLE per instance.
#  4. An instance started while the database is full (the role's
#     CONNECTION LIMIT 0) starts, not ready (/readyz 503 "full"), and is
#     ready as soon as connections are allowed again.
#  5. MariaDB (when USERSVC_TEST_MYSQL_URL is set): 3 instances whose user
#     may hold 6 connections (MAX_USER_CONNECTIONS: error 1226) under the
#     same mixed load: only 2xx or bounded 503s, refusals waited out,
#     nothing acknowledged lost, every instance writes afterwards.
. "$(dirname "$0")/lib.sh"

N=4
WORKERS_PER=5
LOAD_S=12
POOL_TIMEOUT_MS=1000
STATEMENT_TIMEOUT_MS=5000
IDLE_TIMEOUT_MS=1000
CURL_MAX_S=15

command -v psql >/dev/null || skip_all "psql not installed"
USERSVC_PG_EXTRA_CONF=$'max_connections = 12\nsuperuser_reserved_connections = 3' \
    ha_private_pg budget
SUPER_URL=$USERSVC_TEST_PG_URL
new_database
DB=${DB_URL##*/}
DB=${DB%%\?*}
db_exec "CREATE ROLE app LOGIN PASSWORD 'app-pw'" >/dev/null
db_exec "GRANT ALL ON SCHEMA public TO app" >/dev/null
db_exec "ALTER DATABASE \"$DB\" OWNER TO app" >/dev/null
APP_URL="postgres://app:app-pw@127.0.0.1:$HA_PG_PORT/$DB"
"$USERSVC_BIN" migrate --database "$APP_URL" >"$TMP/migrate.out" 2>&1 \
    || { diag_file migrate "$TMP/migrate.out"; bail "migrate"; }

serve_args=(serve --database "$APP_URL" --host 127.0.0.1 --port 0
            --pool-timeout-ms "$POOL_TIMEOUT_MS" --statement-timeout-ms "$STATEMENT_TIMEOUT_MS"
            --pool-idle-timeout-ms "$IDLE_TIMEOUT_MS" --pool-min-idle 1)
up=0
for i in $(seq 1 "$N"); do
    inst_start "u$i" "${serve_args[@]}" && up=$((up + 1))
done
expect_eq "$up" "$N" "$N instances at the default pool size (16) start against 9 usable slots"
[ "$up" = "$N" ] || bail "instances up"

# metric NAME: the sum of a primary-pool series over every instance.
metric() {
    local i sum=0 v
    for i in $(seq 1 "$N"); do
        v=$(curl -s --max-time 3 "http://127.0.0.1:$(inst_port "u$i")/metrics" \
            | awk -v m="$1" '$1 == m "{pool=\"primary\"}" { print $2 }')
        sum=$((sum + ${v:-0}))
    done
    echo "$sum"
}

# --- 2. mixed load on every instance ---------------------------------------
rm -f "$STOP_FILE" "$TMP"/load.*
now
deadline=$((NOW_MS + LOAD_S * 1000))
w=0
for i in $(seq 1 "$N"); do
    for _ in $(seq 1 "$WORKERS_PER"); do
        w=$((w + 1))
        LOAD_MIX=1 load_worker "$w" "http://127.0.0.1:$(inst_port "u$i")" 100000 "$deadline" \
            "$CURL_MAX_S" &
        HA_WORKERS+=($!)
    done
done
sleep 3
full_during=$(metric usersvc_db_connect_refused_full_total)
super=$(timeout 10 psql -X -q -w -A -t "$SUPER_URL" -c "SELECT count(*) FROM pg_stat_activity WHERE usename = 'app'" 2>"$TMP/super.err")
check "a superuser connects while the service's role has every slot ($super connections of 'app')" \
    [ -n "$super" ]
[ -n "$super" ] || diag_file psql "$TMP/super.err"
sleep $((LOAD_S - 3))
load_stop 30

total=$(wc -l <"$TMP/load.all")
bad=$(awk '$3 !~ /^2[0-9][0-9]$/ && !($3 == 503 && $4 ~ /^[0-9]+$/)' "$TMP/load.all" | wc -l)
n503=$(awk '$3 == 503' "$TMP/load.all" | wc -l)
bound=$((POOL_TIMEOUT_MS + STATEMENT_TIMEOUT_MS + 2000))
maxms=$(awk '{ d = $2 - $1; if (d > m) m = d } END { print m + 0 }' "$TMP/load.all")
refused=$(metric usersvc_db_connect_refused_full_total)
timeouts=$(metric usersvc_db_pool_acquire_timeouts_total)
echo "# $N instances x pool 16 on 9 slots, $((N * WORKERS_PER)) clients for $LOAD_S s:" \
    "$total requests; statuses: $(status_counts); slowest $maxms ms;" \
    "connection attempts refused as full: $refused (by 3 s: $full_during);" \
    "acquire timeouts: $timeouts"
check "the load ran (at least 200 requests)" [ "$total" -ge 200 ]
expect_eq "$bad" 0 "every answer is 2xx or 503 with Retry-After (no 500, none without an answer)"
[ "$bad" -gt 0 ] && diag "$(awk '$3 !~ /^2[0-9][0-9]$/ && !($3 == 503 && $4 ~ /^[0-9]+$/)' "$TMP/load.all" | head -n 10)"
check "no answer took longer than the pool and statement timeouts allow ($maxms <= $bound ms)" \
    [ "$maxms" -le "$bound" ]
check "the database was full: refused connections were waited out ($refused)" [ "$refused" -gt 0 ]
check "each 503 is counted in usersvc_db_pool_acquire_timeouts_total ($n503 <= $timeouts)" \
    [ "$n503" -le "$timeouts" ]
res=$(check_acknowledged)
expect_eq "$?" 0 "no acknowledged write lost: $res"

# --- 3. recovery and idle connections given back ---------------------------
good=0
for i in $(seq 1 "$N"); do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X POST \
        -H 'Content-Type: application/json' --data-binary "{\"login\":\"after$i\"}" \
        "http://127.0.0.1:$(inst_port "u$i")/users")
    [ "$code" = 201 ] && good=$((good + 1))
done
expect_eq "$good" "$N" "after the load every instance creates a user (201)"
conns=''
for _ in $(seq 1 50); do
    conns=$(db_exec "SELECT count(*) FROM pg_stat_activity WHERE usename = 'app'")
    [ "${conns:-99}" -le "$N" ] && break
    sleep 0.2
done
closed=$(metric usersvc_db_pool_idle_closed_total)
check "idle connections were given back: $conns connections of the role for $N instances, $closed closed idle" \
    [ "${conns:-99}" -le "$N" ]

# --- 4. starting while the database is full ---------------------------------
db_exec "ALTER ROLE app CONNECTION LIMIT 0" >/dev/null
inst_start full "${serve_args[@]}"
started=$?
expect_eq "$started" 0 "an instance started while the database is full starts (does not exit)"
port=$(inst_port full)
body=$(curl -s --max-time 10 "http://127.0.0.1:$port/readyz")
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://127.0.0.1:$port/readyz")
expect_eq "$code" 503 "its /readyz is 503 while the database is full"
check "the problem says the database is full ($body)" grep -q 'full' <<<"$body"
db_exec "ALTER ROLE app CONNECTION LIMIT -1" >/dev/null
code=''
for _ in $(seq 1 50); do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$port/readyz")
    [ "$code" = 200 ] && break
    sleep 0.2
done
expect_eq "$code" 200 "it turns ready once connections are allowed again"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X POST \
    -H 'Content-Type: application/json' --data-binary '{"login":"late"}' "http://127.0.0.1:$port/users")
expect_eq "$code" 201 "and serves (201)"

# --- 5. MariaDB: a user limited to 6 connections ----------------------------
if [ -z "${USERSVC_TEST_MYSQL_URL:-}" ]; then
    echo "# USERSVC_TEST_MYSQL_URL not set: MariaDB case skipped"
    exit 0
fi
for i in $(seq 1 "$N"); do
    inst_term "u$i"
done
inst_term full
for i in $(seq 1 "$N"); do
    inst_wait_exit "u$i" 15
done
inst_wait_exit full 15
BACKEND=mysql
DB_URL=
new_database
MY_DB=${DB_URL##*/}
MY_APP=usv_budget_$$
drop_my_app() {
    BACKEND=mysql db_exec "DROP USER IF EXISTS '$MY_APP'@'%'" >/dev/null 2>&1
}
HA_CLEANUP_HOOKS+=(drop_my_app)
db_exec "CREATE USER '$MY_APP'@'%' IDENTIFIED BY 'app-pw' WITH MAX_USER_CONNECTIONS 6" >/dev/null \
    || bail "mysql: create a user limited to 6 connections"
db_exec "GRANT ALL ON \`$MY_DB\`.* TO '$MY_APP'@'%'" >/dev/null || bail "mysql: grant"
"$USERSVC_BIN" migrate --database "$DB_URL" >"$TMP/migrate.my" 2>&1 \
    || { diag_file migrate "$TMP/migrate.my"; bail "mysql: migrate"; }
_mysql_parse
MY_APP_URL="mysql://$MY_APP:app-pw@$MY_HOST:$MY_PORT/$MY_DB"
MN=3
up=0
for i in $(seq 1 "$MN"); do
    inst_start "m$i" serve --database "$MY_APP_URL" --host 127.0.0.1 --port 0 \
        --pool-timeout-ms "$POOL_TIMEOUT_MS" --statement-timeout-ms "$STATEMENT_TIMEOUT_MS" \
        --pool-idle-timeout-ms "$IDLE_TIMEOUT_MS" --pool-min-idle 1 && up=$((up + 1))
done
expect_eq "$up" "$MN" "mysql: $MN instances (pool 16 each) start for a user limited to 6 connections"
rm -f "$STOP_FILE" "$TMP"/load.*
now
deadline=$((NOW_MS + 8000))
w=100
for i in $(seq 1 "$MN"); do
    for _ in $(seq 1 "$WORKERS_PER"); do
        w=$((w + 1))
        LOAD_MIX=1 load_worker "$w" "http://127.0.0.1:$(inst_port "m$i")" 100000 "$deadline" \
            "$CURL_MAX_S" &
        HA_WORKERS+=($!)
    done
done
sleep 9
load_stop 30
total=$(wc -l <"$TMP/load.all")
bad=$(awk '$3 !~ /^2[0-9][0-9]$/ && !($3 == 503 && $4 ~ /^[0-9]+$/)' "$TMP/load.all" | wc -l)
maxms=$(awk '{ d = $2 - $1; if (d > m) m = d } END { print m + 0 }' "$TMP/load.all")
refused=0
for i in $(seq 1 "$MN"); do
    v=$(curl -s --max-time 3 "http://127.0.0.1:$(inst_port "m$i")/metrics" \
        | awk '$1 == "usersvc_db_connect_refused_full_total{pool=\"primary\"}" { print $2 }')
    refused=$((refused + ${v:-0}))
done
echo "# mysql: $MN instances x pool 16 for a user of 6 connections, $((MN * WORKERS_PER))" \
    "clients for 8 s: $total requests; statuses: $(status_counts); slowest $maxms ms;" \
    "refused as full (1226): $refused"
check "mysql: the load ran (at least 100 requests)" [ "$total" -ge 100 ]
expect_eq "$bad" 0 "mysql: every answer is 2xx or 503 with Retry-After"
[ "$bad" -gt 0 ] && diag "$(awk '$3 !~ /^2[0-9][0-9]$/ && !($3 == 503 && $4 ~ /^[0-9]+$/)' "$TMP/load.all" | head -n 10)"
check "mysql: no answer took longer than the bound ($maxms <= $bound ms)" [ "$maxms" -le "$bound" ]
check "mysql: the user's limit was reached and waited out ($refused)" [ "$refused" -gt 0 ]
res=$(check_acknowledged)
expect_eq "$?" 0 "mysql: no acknowledged write lost: $res"
good=0
for i in $(seq 1 "$MN"); do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X POST \
        -H 'Content-Type: application/json' --data-binary "{\"login\":\"myafter$i\"}" \
        "http://127.0.0.1:$(inst_port "m$i")/users")
    [ "$code" = 201 ] && good=$((good + 1))
done
expect_eq "$good" "$MN" "mysql: after the load every instance creates a user (201)"
