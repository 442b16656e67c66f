#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Scale-out: many instances on one database, and a rolling restart behind
# HAProxy under load with zero failed requests (issue 8).
#
#  1. Three `usersvc serve --migrate` start at the same moment against one
#     fresh PostgreSQL database: all come up and `schema_migrations` holds
#     every version exactly once (the migration lock).
#  2. HAProxy (a background process with its config in $TMP) balances them,
#     health-checking GET /readyz every 200 ms (fall 1, rise 2), with retries
#     and redispatch off, so that every failure reaches the client.
#  3. Workers send mixed load through HAProxy (LOAD_MIX=1: POST, GET, PATCH,
#     a list page and DELETE; issue 18) while
#     each instance in turn gets SIGTERM (it runs with --drain-ms: /readyz
#     503 and Connection: close while it still serves, then it quiesces,
#     finishes in-flight requests and exits 0), and is started again once it
#     has exited and must be back UP in HAProxy before the next one goes.
#  4. Every response is 2xx (a refused, reset or timed-out request is a
#     failure too), and no acknowledged write is lost; the totals are
#     printed. The instances run at the default pool size (16).
. "$(dirname "$0")/lib.sh"

N=${HA_ROLLING_N:-6}
CHECK_MS=200
DRAIN_MS=1500          # >= 2 health-check intervals + a wide margin: HAProxy sees 503 first
WORKERS=6
export LOAD_MIX=1
LOAD_MAX_S=90          # the workers' hard limit, whatever happens
CURL_MAX_S=5

command -v haproxy >/dev/null || skip_all "haproxy is not installed (scripts/install-deps.sh test)"
ha_pg_url
new_database

# --- 1. N instances with --migrate at once --------------------------------
for i in $(seq 1 "$N"); do
    inst_launch "u$i" serve --database "$DB_URL" --host 127.0.0.1 --port 0 --migrate \
        --drain-ms "$DRAIN_MS"
done
up=0
for i in $(seq 1 "$N"); do
    inst_ready "u$i" && up=$((up + 1))
done
expect_eq "$up" "$N" "$N instances started at once with --migrate all come up"
[ "$up" = "$N" ] || bail "instances up"

dup=$(db_exec "SELECT count(*) - count(DISTINCT version) FROM schema_migrations")
applied=$(db_exec "SELECT count(*) FROM schema_migrations")
expect_eq "$dup" 0 "schema_migrations holds each version exactly once ($applied versions)"
"$USERSVC_BIN" migrate status --database "$DB_URL" >"$TMP/status.out" 2>&1
expect_eq "$?" 0 "migrate status: schema current after the concurrent --migrate runs"
pending=$(grep -c 'pending' "$TMP/status.out")
expect_eq "$pending" 0 "no migration pending"

# --- 2. HAProxy ---------------------------------------------------------
FE_PORT=$(free_port) || bail "free port"
ST_PORT=$(free_port) || bail "free port"
[ "$FE_PORT" != "$ST_PORT" ] || ST_PORT=$(free_port)
HAP_CFG=$TMP/haproxy.cfg
HAP_PID=$TMP/haproxy.pid
{
    cat <<EOF
global
    maxconn 2000
    stats socket $TMP/haproxy.sock mode 600 level admin

defaults
    mode http
    timeout connect 1s
    timeout client 10s
    timeout server 10s
    timeout check 1s
    timeout http-request 5s
    timeout http-keep-alive 2s
    # Failures must reach the client: no retry on another server.
    retries 0
    no option redispatch

frontend fe
    bind 127.0.0.1:$FE_PORT
    default_backend usersvc

backend usersvc
    balance roundrobin
    option httpchk
    http-check send meth GET uri /readyz
    http-check expect status 200
    default-server inter ${CHECK_MS}ms fastinter ${CHECK_MS}ms downinter ${CHECK_MS}ms fall 1 rise 2
EOF
    for i in $(seq 1 "$N"); do
        echo "    server u$i 127.0.0.1:$(inst_port "u$i") check"
    done
    cat <<EOF

listen stats
    bind 127.0.0.1:$ST_PORT
    stats enable
    stats uri /stats
EOF
} >"$HAP_CFG"
haproxy -c -q -f "$HAP_CFG" >"$TMP/haproxy.check" 2>&1 \
    || { diag_file "haproxy -c" "$TMP/haproxy.check"; bail "haproxy config is valid"; }

stop_haproxy() {
    local pid i
    [ -s "$HAP_PID" ] || return 0
    pid=$(cat "$HAP_PID")
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
    for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    rm -f "$HAP_PID"
}
HA_CLEANUP_HOOKS+=(stop_haproxy)
haproxy -f "$HAP_CFG" -D -p "$HAP_PID" >"$TMP/haproxy.out" 2>&1 \
    || { diag_file haproxy "$TMP/haproxy.out"; bail "haproxy starts"; }

# srv_status NAME: HAProxy's view of a server (UP, DOWN, "UP 1/2", ...).
srv_status() {
    curl -s --max-time 2 "http://127.0.0.1:$ST_PORT/stats;csv" 2>/dev/null \
        | awk -F, -v s="$1" '$1 == "usersvc" && $2 == s { print $18 }'
}

# wait_up NAME SECONDS: until HAProxy reports the server UP.
wait_up() {
    local i
    for i in $(seq 1 $(($2 * 10))); do
        [ "$(srv_status "$1")" = UP ] && return 0
        sleep 0.1
    done
    return 1
}

all=1
for i in $(seq 1 "$N"); do
    wait_up "u$i" 10 || { all=0; diag "u$i: $(srv_status "u$i")"; }
done
expect_eq "$all" 1 "HAProxy reports all $N instances UP (GET /readyz health checks)"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://127.0.0.1:$FE_PORT/readyz")
expect_eq "$code" 200 "GET /readyz through HAProxy: 200"

# --- 3. rolling restart under load ----------------------------------------
FE=http://127.0.0.1:$FE_PORT
now; T_LOAD0=$NOW_MS
load_start "$WORKERS" "$FE" 5000 "$LOAD_MAX_S" "$CURL_MAX_S"
sleep 1.5
restarted=0
for i in $(seq 1 "$N"); do
    name=u$i
    port=$(inst_port "$name")
    oldpid=$(inst_pid "$name")
    wait_up "$name" 10 || diag "$name was not UP before its restart"
    now; t0=$NOW_MS
    inst_term "$name"
    # HAProxy must see the drain (503 from /readyz) while the instance still serves.
    seen_down=0
    for _ in $(seq 1 $((DRAIN_MS / 50))); do
        case "$(srv_status "$name")" in DOWN*|MAINT*|NOLB*) seen_down=1; break ;; esac
        inst_alive "$name" || break
        sleep 0.05
    done
    now; t_down=$NOW_MS
    inst_wait_exit "$name" $((DRAIN_MS / 1000 + 10 + 5))
    code=$INST_CODE
    now; t_exit=$NOW_MS
    expect_eq "$code" 0 "$name (pid $oldpid) exits 0 after SIGTERM"
    expect_eq "$seen_down" 1 "$name: HAProxy marked it DOWN $((t_down - t0)) ms after SIGTERM, before it stopped accepting"
    if ! inst_start "$name" serve --database "$DB_URL" --host 127.0.0.1 --port "$port" \
            --migrate --drain-ms "$DRAIN_MS"; then
        not_ok "$name restarts on port $port"
        continue
    fi
    now; t_start=$NOW_MS
    if wait_up "$name" 10; then
        now
        ok "$name: exited $((t_exit - t0)) ms after SIGTERM, restarted, UP in HAProxy again $((NOW_MS - t_start)) ms later"
        restarted=$((restarted + 1))
    else
        not_ok "$name is UP in HAProxy again within 10 s of its restart ($(srv_status "$name"))"
    fi
done
sleep 1.5
load_stop 15
awk '{ d = $2 - $1; s[$5] += d; n[$5]++ } END { for (k in s) printf "# mean latency %s: %.1f ms\n", k, s[k] / n[k] }' "$TMP/load.all"
now; T_LOAD1=$NOW_MS
expect_eq "$restarted" "$N" "every instance was restarted in turn"

# --- 4. the figures -----------------------------------------------------
total=$(wc -l <"$TMP/load.all")
good=$(awk '$3 ~ /^2[0-9][0-9]$/' "$TMP/load.all" | wc -l)
failed=$((total - good))
kinds=$(awk '{ n[$5]++ } END { for (k in n) printf "%d %s, ", n[k], k }' "$TMP/load.all")
maxms=$(awk '{ d = $2 - $1; if (d > m) m = d } END { print m + 0 }' "$TMP/load.all")
echo "# rolling restart of $N instances under load: $total requests (${kinds%, })" \
    "in $(( (T_LOAD1 - T_LOAD0) / 1000 )) s; statuses: $(status_counts); failed: $failed;" \
    "slowest: $maxms ms"
check "the load ran (at least 200 requests)" [ "$total" -ge 200 ]
expect_eq "$failed" 0 "0 failed requests during the rolling restart ($total requests)"
if [ "$failed" -gt 0 ]; then
    diag "first failures (t0 t1 status retry-after method login id):"
    diag "$(awk '$3 !~ /^2[0-9][0-9]$/' "$TMP/load.all" | head -n 10)"
fi
# Each instance served traffic (the balancer really spread it).
for i in $(seq 1 "$N"); do
    n=$(curl -s --max-time 2 "http://127.0.0.1:$ST_PORT/stats;csv" \
        | awk -F, -v s="u$i" '$1 == "usersvc" && $2 == s { print $8 }')
    echo "# u$i: $n sessions through HAProxy"
done
res=$(check_acknowledged)
expect_eq "$?" 0 "no acknowledged write lost during the rolling restart: $res"
