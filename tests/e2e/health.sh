#!/usr/bin/env bash
# GET /healthz and GET /readyz on a migrated database.
. "$(dirname "$0")/lib.sh"
start_server

get /healthz
expect_status 200
expect_header Content-Type '^application/json( *;.*)?$'
expect_json . '{"status":"ok"}' 'healthz body is {"status":"ok"}'

get /readyz
expect_status 200 "readyz is 200 on a migrated, reachable database"
expect_header Content-Type '^application/json( *;.*)?$'
expect_jq 'type == "object"' "readyz body is a JSON object"

for m in POST PUT DELETE PATCH; do
    request $m /healthz
    expect_problem 405 "$m /healthz"
    expect_header Allow 'GET' "$m /healthz: Allow lists GET"
    request $m /readyz
    expect_problem 405 "$m /readyz"
    expect_header Allow 'GET' "$m /readyz: Allow lists GET"
done

# Many quick probes in a row (a load balancer's pace) all succeed.
fails=0
for i in $(seq 1 50); do
    c=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$BASE_URL/readyz")
    [ "$c" = 200 ] || fails=$((fails + 1))
done
expect_eq "$fails" 0 "50 consecutive /readyz probes are all 200"
