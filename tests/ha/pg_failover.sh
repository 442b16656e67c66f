#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# PostgreSQL failover with pg_auto_failover under load (issue 8).
#
# A monitor, a primary and a synchronous secondary (pg_autoctl, as an
# unprivileged user, on loopback, in a temp dir; the monitor tuned to notice
# a dead node within ~2 s). usersvc gets a multi-host DATABASE_URL
# (target_session_attrs=read-write) and a small pool timeout. Three
# instances at the default pool size; six workers spread over them send
# mixed load (POST, GET, PATCH, a list page, DELETE; issue 18); the
# primary's whole process group (pg_autoctl and postgres) is killed with
# SIGKILL, the monitor promotes the secondary.
#   - during the failover usersvc answers only 503 with Retry-After: no 500,
#     no dropped connection, nothing slower than the pool timeout + margin;
#   - afterwards every instance answers 2xx again, the same process (no
#     restart);
#   - no acknowledged write (before, during, after) is lost on the new
#     primary: every user created (201) and not deleted (204) is there,
#     with the first_name its acknowledged PATCH (200) set, and no user
#     deleted with 204 is;
#   - the outage window is measured and printed.
. "$(dirname "$0")/lib.sh"

POOL_TIMEOUT_MS=1000
MARGIN_S=3                             # what a request may take beyond the pool timeout
MAX_S=$((POOL_TIMEOUT_MS / 1000 + MARGIN_S))
CURL_MAX_S=$((MAX_S + 5))              # curl's own limit: a hang shows as slow, not as 000
WORKERS=6
INSTANCES=3
export LOAD_MIX=1
PRE_S=3                                # load before the kill
POST_OK_S=4                            # continuous success wanted after the outage
FAILOVER_MAX_S=60                      # bound on the failover itself
SCRIPT_START=$SECONDS

command -v pg_autoctl >/dev/null \
    || skip_all "pg_autoctl is not installed (postgresql-15-auto-failover; scripts/install-deps.sh test)"
ensure_owner || bail "user $HA_RUN_AS exists"
# The server binaries whose major version has the pgautofailover extension.
BIN=
for c in $(ls -d /usr/share/postgresql/*/extension/pgautofailover.control 2>/dev/null | sort -V -r); do
    v=$(basename "$(dirname "$(dirname "$c")")")
    [ -x "/usr/lib/postgresql/$v/bin/pg_ctl" ] && { BIN=/usr/lib/postgresql/$v/bin; break; }
done
[ -n "$BIN" ] || skip_all "no PostgreSQL server with the pgautofailover extension"

D=$(pg_owner_dir paf) || bail "temp dir for the cluster"
P0=$(free_port); P1=$(free_port); P2=$(free_port)
while [ "$P1" = "$P0" ] || [ "$P2" = "$P0" ] || [ "$P2" = "$P1" ]; do P2=$(free_port); P1=$(free_port); done
MON_URL="postgres://autoctl_node@127.0.0.1:$P0/pg_auto_failover?sslmode=disable"

# paf CMD...: CMD as the cluster's owner, in an environment that keeps
# pg_autoctl and libpq inside $D (a non-root user cannot use /var/run/postgresql).
paf() {
    as_owner env HOME="$D" XDG_CONFIG_HOME="$D/config" XDG_DATA_HOME="$D/share" \
        XDG_RUNTIME_DIR="$D/run" PGHOST="$D" PG_REGRESS_SOCK_DIR="$D" PATH="$BIN:$PATH" \
        PGCONNECT_TIMEOUT=3 "$@"
}

# paf_bg NAME CMD...: CMD in its own session (setsid), as the owner, in the
# background; remembers the process group. Sets BG_PGID.
paf_bg() {
    local name=$1
    shift
    BG_PGID=$(paf bash -c 'setsid "$@" >"'"$D/$name.log"'" 2>&1 </dev/null & echo $!' _ "$@")
    [ -n "$BG_PGID" ] && remember_group "$BG_PGID"
}

mon_sql() {
    paf timeout 10 psql -X -q -A -t -w -d "$MON_URL" -c "$1" 2>/dev/null
}

# node_sql PORT SQL: as the owner (superuser) on a data node.
node_sql() {
    paf timeout 10 psql -X -q -A -t -w -h 127.0.0.1 -p "$1" -d usersvc -c "$2" 2>/dev/null
}

# formation: "node1:primary/primary node2:secondary/secondary"
formation() {
    mon_sql "SELECT string_agg(nodename || ':' || reportedstate || '/' || goalstate, ' '
             ORDER BY nodeid) FROM pgautofailover.node"
}

# wait_for SECONDS CMD...: polls CMD every 0.2 s.
wait_for() {
    local limit=$1 i
    shift
    for i in $(seq 1 $((limit * 5))); do
        "$@" && return 0
        sleep 0.2
    done
    return 1
}

formation_is() { [ "$(formation)" = "$1" ]; }

show_logs() {
    local f
    for f in mon n1 n2; do
        [ -f "$D/$f.log" ] && { diag "$f.log (tail):"; diag "$(tail -n 12 "$D/$f.log")"; }
    done
}

# --- the cluster --------------------------------------------------------
now; T_SETUP0=$NOW_MS
paf timeout 60 pg_autoctl create monitor --pgdata "$D/mon" --pgport "$P0" --hostname 127.0.0.1 \
    --auth trust --no-ssl --pgctl "$BIN/pg_ctl" >"$TMP/mon.create" 2>&1 \
    || { diag_file create "$TMP/mon.create"; bail "pg_autoctl create monitor"; }
paf pg_autoctl config set --pgdata "$D/mon" postgresql.listen_addresses 127.0.0.1 >/dev/null 2>&1
# Fast failure detection (the defaults take ~50 s to fail over).
paf tee -a "$D/mon/postgresql.conf" >/dev/null <<'EOF'
pgautofailover.health_check_period = 1000
pgautofailover.health_check_timeout = 1000
pgautofailover.health_check_max_retries = 1
pgautofailover.health_check_retry_delay = 200
pgautofailover.node_considered_unhealthy_timeout = 2000
pgautofailover.primary_demote_timeout = 2000
pgautofailover.startup_grace_period = 1000
EOF
paf_bg mon pg_autoctl run --pgdata "$D/mon" || bail "monitor starts"
wait_for 30 mon_sql "SELECT 1" >/dev/null || { show_logs; bail "monitor answers"; }

node_args() {
    echo --pgdata "$D/$1" --pgport "$2" --listen 127.0.0.1 --hostname 127.0.0.1 --name "$1" \
        --dbname usersvc --auth trust --no-ssl --monitor "$MON_URL" --pgctl "$BIN/pg_ctl" --run
}
# shellcheck disable=SC2046
paf_bg n1 pg_autoctl create postgres $(node_args n1 "$P1") || bail "node n1 starts"
PGID[1]=$BG_PGID
wait_for 60 formation_is "n1:single/single" || { show_logs; bail "n1 is up (single)"; }
# A spread checkpoint would make the secondary's base backup wait ~90 s.
node_sql "$P1" "ALTER SYSTEM SET checkpoint_completion_target = 0" >/dev/null
node_sql "$P1" "SELECT pg_reload_conf()" >/dev/null
# shellcheck disable=SC2046
paf_bg n2 pg_autoctl create postgres $(node_args n2 "$P2") || bail "node n2 starts"
PGID[2]=$BG_PGID
wait_for 90 formation_is "n1:primary/primary n2:secondary/secondary" \
    || { diag "formation: $(formation)"; show_logs; bail "n1 primary, n2 synchronous secondary"; }
now
ok "pg_auto_failover: monitor + primary + secondary up in $(( (NOW_MS - T_SETUP0) / 1000 )) s"
sync=$(node_sql "$P1" "SHOW synchronous_standby_names")
expect_match "$sync" '.+' "the primary replicates synchronously (synchronous_standby_names: $sync)"

node_sql "$P1" "CREATE ROLE usv LOGIN PASSWORD 'usv-ha-pw'" >/dev/null || bail "create role"
node_sql "$P1" "ALTER DATABASE usersvc OWNER TO usv" >/dev/null || bail "database owner"
DB_SECRET=usv-ha-pw
DB_URL="postgres://usv:usv-ha-pw@127.0.0.1:$P1,127.0.0.1:$P2/usersvc?target_session_attrs=read-write&connect_timeout=2"

# --- usersvc -----------------------------------------------------------
URLS=
for i in $(seq 1 "$INSTANCES"); do
    inst_start "u$i" serve --database "$DB_URL" --host 127.0.0.1 --port 0 --migrate \
        --pool-timeout-ms "$POOL_TIMEOUT_MS" || bail "usersvc u$i starts on the cluster"
    UPID[$i]=$(inst_pid "u$i")
    URLS="$URLS http://127.0.0.1:$(inst_port "u$i")"
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 \
        "http://127.0.0.1:$(inst_port "u$i")/readyz")
    expect_eq "$code" 200 "usersvc u$i is ready on the multi-host URL"
done

# --- the failover under load ---------------------------------------------
load_start "$WORKERS" "$URLS" 5000 $((PRE_S + FAILOVER_MAX_S + 20)) "$CURL_MAX_S"
sleep "$PRE_S"
primary=$(mon_sql "SELECT nodename FROM pgautofailover.node WHERE reportedstate = 'primary'")
case "$primary" in
    n1) victim=1; survivor=2; SURV_PORT=$P2 ;;
    n2) victim=2; survivor=1; SURV_PORT=$P1 ;;
    *) bail "one primary before the kill (got '$primary')" ;;
esac
now; T_KILL=$NOW_MS
kill_group "${PGID[$victim]}" KILL
echo "# killed the process group of n$victim (pg_autoctl + postgres), the primary"

# The monitor promotes the survivor; it accepts writes a little later.
promoted=0
for i in $(seq 1 $((FAILOVER_MAX_S * 5))); do
    st=$(mon_sql "SELECT reportedstate FROM pgautofailover.node WHERE nodename = 'n$survivor'")
    case "$st" in primary|wait_primary) promoted=1; break ;; esac
    sleep 0.2
done
now; T_PROMOTED=$NOW_MS
[ "$promoted" = 1 ] || { diag "formation: $(formation)"; show_logs; }
check "the monitor promoted n$survivor ($((T_PROMOTED - T_KILL)) ms after the kill; state $st)" \
    [ "$promoted" = 1 ]

# Keep the load on until usersvc has answered 2xx for POST_OK_S seconds
# without a failure since (bounded).
recovered=0
while :; do
    now
    [ $((NOW_MS - T_KILL)) -lt $((FAILOVER_MAX_S * 1000)) ] || break
    cat "$TMP"/load.[0-9]* 2>/dev/null | sort -n >"$TMP/load.now"
    last_bad=$(awk -v k="$T_KILL" '$1 >= k - 5000 && $3 !~ /^2/ { if ($2 > m) m = $2 } END { print m + 0 }' \
        "$TMP/load.now")
    good_after=$(awk -v b="$last_bad" -v k="$T_KILL" '$1 > b && $1 > k && $3 ~ /^2/' "$TMP/load.now" | wc -l)
    if [ "$good_after" -ge 20 ] && [ $((NOW_MS - (last_bad > T_KILL ? last_bad : T_KILL))) -ge $((POST_OK_S * 1000)) ]; then
        recovered=1
        break
    fi
    sleep 0.5
done
load_stop 20
check "usersvc answers 2xx again after the failover (for $POST_OK_S s, $good_after requests in a row)" \
    [ "$recovered" = 1 ]
same=0
for i in $(seq 1 "$INSTANCES"); do
    [ "$(inst_pid "u$i")" = "${UPID[$i]}" ] && inst_alive "u$i" && same=$((same + 1))
done
expect_eq "$same" "$INSTANCES" "the same $INSTANCES usersvc processes served before and after (no restart)"
good=0
for i in $(seq 1 "$INSTANCES"); do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X POST \
        -H 'Content-Type: application/json' --data-binary "{\"login\":\"after$i\"}" \
        "http://127.0.0.1:$(inst_port "u$i")/users")
    [ "$code" = 201 ] && good=$((good + 1))
done
expect_eq "$good" "$INSTANCES" "every instance writes (201) after the failover"

# --- the figures --------------------------------------------------------
L=$TMP/load.all
total=$(wc -l <"$L")
echo "# $total requests: $(status_counts)"
bad_other=$(awk '$3 !~ /^2[0-9][0-9]$/ && $3 != 503' "$L" | wc -l)
expect_eq "$bad_other" 0 "every answer is 2xx or 503 (no 500, no dropped or timed-out request)"
[ "$bad_other" = 0 ] || diag "$(awk '$3 !~ /^2[0-9][0-9]$/ && $3 != 503' "$L" | head -n 8)"
no_ra=$(awk '$3 == 503 && $4 == "-"' "$L" | wc -l)
expect_eq "$no_ra" 0 "every 503 carries Retry-After"
slowest=$(awk '{ d = $2 - $1; if (d > m) m = d } END { print m + 0 }' "$L")
check "no request took longer than the pool timeout + ${MARGIN_S} s (slowest: $slowest ms)" \
    [ "$slowest" -le $((MAX_S * 1000)) ]
n503=$(awk '$3 == 503' "$L" | wc -l)
# The outage window: from the first non-2xx answer to the last one.
if [ "$n503" -gt 0 ]; then
    first_bad=$(awk '$3 !~ /^2/ { print $2 }' "$L" | sort -n | head -n 1)
    last_bad=$(awk '$3 !~ /^2/ { print $2 }' "$L" | sort -n | tail -n 1)
    window=$((last_bad - first_bad))
else
    first_bad=$T_KILL; last_bad=$T_KILL; window=0
fi
# The longest stretch without any 2xx answer around the kill.
gap=$(awk -v k="$T_KILL" '$3 ~ /^2/ { print $2 }' "$L" | sort -n \
    | awk -v k="$T_KILL" 'NR > 1 && $1 > k && $1 - p > g { g = $1 - p } { p = $1 } END { print g + 0 }')
echo "# outage window: ${window} ms (first 503 answered at kill+$((first_bad - T_KILL)) ms," \
    "last at kill+$((last_bad - T_KILL)) ms, $n503 answers 503); longest time without a 2xx" \
    "answer: ${gap} ms; the monitor reported the secondary promoted at kill+$((T_PROMOTED - T_KILL)) ms"
check "an outage was seen and measured (${window} ms)" [ "$n503" -gt 0 ]

# No acknowledged write is lost on the new primary.
acked_during=$(awk -v a="$first_bad" -v b="$last_bad" '$3 ~ /^2/ && $5 != "GET" && $5 != "LIST" && $2 >= a && $2 <= b' "$L" | wc -l)
acked_before=$(awk -v a="$first_bad" '$3 ~ /^2/ && $5 != "GET" && $5 != "LIST" && $2 < a' "$L" | wc -l)
acked_after=$(awk -v b="$last_bad" '$3 ~ /^2/ && $5 != "GET" && $5 != "LIST" && $2 > b' "$L" | wc -l)
res=$(check_acknowledged)
rc=$?
echo "# $res (writes acknowledged before the outage $acked_before, during it $acked_during," \
    "after it $acked_after)"
check "writes were acknowledged before and after the outage" [ $((acked_before > 0 && acked_after > 0)) = 1 ]
expect_eq "$rc" 0 "no acknowledged write (POST, PATCH, DELETE) lost on the new primary: $res"
leak=$(grep -lF -- "$DB_SECRET" "$TMP"/inst.*.log "$TMP"/inst.*.out 2>/dev/null)
expect_eq "$leak" "" "the database password never appears in usersvc's output"
echo "# whole test: $((SECONDS - SCRIPT_START)) s"
