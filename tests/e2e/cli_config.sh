#!/usr/bin/env bash
# Configuration: `--opt value` and `--opt=value` forms, environment variables,
# and the flag winning over the variable.
. "$(dirname "$0")/lib.sh"
new_database

p=$(free_port) || bail "no free port"
launch_server serve --database "$DB_URL" --migrate --host 127.0.0.1 --port "$p"
expect_eq "$PORT_NUM" "$p" "--port $p (separate value)"
create_user persisted Per Sist
pid_id=$USER_ID

p=$(free_port) || bail "no free port"
launch_server serve "--database=$DB_URL" --migrate --host=127.0.0.1 "--port=$p"
expect_eq "$PORT_NUM" "$p" "--port=$p (attached value), --database=URL, --host=ADDR"
get "/users/$pid_id"
expect_status 200 "data survives a restart"
expect_json .login persisted

p=$(free_port) || bail "no free port"
PORT=$p launch_server serve --database "$DB_URL" --migrate
expect_eq "$PORT_NUM" "$p" "PORT=$p from the environment"

p1=$(free_port) || bail "no free port"
p2=$(free_port) || bail "no free port"
PORT=$p1 launch_server serve --database "$DB_URL" --migrate --port "$p2"
expect_eq "$PORT_NUM" "$p2" "--port wins over PORT"

DATABASE_URL=$DB_URL launch_server serve --port 0 --migrate
get "/users/$pid_id"
expect_status 200 "DATABASE_URL from the environment is used"

DATABASE_URL="sqlite:$TMP/no/such/dir/x.db" launch_server serve --database "$DB_URL" --port 0 --migrate
get "/users/$pid_id"
expect_status 200 "--database wins over DATABASE_URL"

HOST=0.0.0.0 launch_server serve --database "$DB_URL" --host 127.0.0.1 --port 0 --migrate
ok "--host 127.0.0.1 wins over HOST=0.0.0.0 (listening on 127.0.0.1)"

# MAX_BODY_BYTES and --max-body-bytes.
body=$(printf '{"login":"mb1","first_name":"%s"}' "$(head -c 150 /dev/zero | tr '\0' a)")
MAX_BODY_BYTES=100 launch_server serve --database "$DB_URL" --port 0 --migrate
post /users "$body"
expect_problem 413 "MAX_BODY_BYTES=100 from the environment"
MAX_BODY_BYTES=100 launch_server serve --database "$DB_URL" --port 0 --migrate --max-body-bytes=100000
post /users '{"login":"mb1","first_name":"x","last_name":"y"}'
expect_status 201 "--max-body-bytes wins over MAX_BODY_BYTES"
post /users "$(printf '{"login":"mb2","last_name":"%s"}' "$(head -c 30 /dev/zero | tr '\0' b)")"
expect_status 201

# A pool of one connection serves concurrent requests one after another.
DB_POOL_SIZE=50 DB_POOL_TIMEOUT_MS=1 launch_server serve --database "$DB_URL" --port 0 --migrate \
    --pool-size 1 --pool-timeout-ms 3000
pids=()
for i in $(seq 1 10); do
    curl -sS --max-time 10 -o /dev/null -w '%{http_code}\n' -X POST \
        -H 'Content-Type: application/json' --data-binary "{\"login\":\"pool$i\"}" \
        "$BASE_URL/users" >"$TMP/pool.$i" 2>/dev/null &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
expect_eq "$(cat "$TMP"/pool.* | sort | uniq -c | awk '{printf "%s×%s ", $2, $1}')" "201×10 " \
    "--pool-size 1: 10 concurrent POSTs all 201"

DB_POOL_SIZE=2 launch_server serve --database "$DB_URL" --port 0 --migrate
get /readyz
expect_status 200 "DB_POOL_SIZE=2 from the environment accepted"
stop_server
