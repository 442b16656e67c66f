#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# MariaDB Galera (issue 18): a three-node cluster on loopback
# (tests/lib/galera.sh), one usersvc instance per node.
#
#  1. `usersvc serve --migrate` on all three nodes at once: every instance
#     comes up and each migration is recorded once.
#  2. Certification conflicts: clients PATCH the same user through two
#     nodes at once; the loser's commit fails certification (1213, like a
#     deadlock) and is retried: every PATCH is answered 200.
#  3. Mixed load (POST, GET, PATCH, list, DELETE) through all three nodes;
#     node 3 is killed with SIGKILL: its instance answers 503 with
#     Retry-After (or 2xx), the others go on, and no acknowledged write is
#     lost on the surviving nodes.
. "$(dirname "$0")/lib.sh"
# shellcheck source=../lib/galera.sh
. "$HA_DIR/../lib/galera.sh"

LOAD_S=10
CURL_MAX_S=15

galera_available || skip_all "galera-4 or mariadbd not installed (scripts/install-deps.sh test)"
command -v rsync >/dev/null || skip_all "rsync not installed (Galera SST)"
HA_CLEANUP_HOOKS+=(galera_stop)
now; t0=$NOW_MS
galera_start "$HA_ROOT/galera" || bail "a three-node Galera cluster starts"
now
ok "three-node Galera cluster synced in $(( (NOW_MS - t0) / 1000 )) s (size $(galera_size 1))"
galera_sql 1 "CREATE DATABASE usv_galera CHARACTER SET utf8mb4" || bail "create database"
BACKEND=mysql
DB_URL=$(galera_url 1 usv_galera)
DB_SECRET=usersvc-pw
# check_acknowledged reads through db_exec: here, node 1 of the cluster.
db_exec() {
    galera_sql 1 "USE usv_galera; $1"
}

# --- 1. --migrate on every node at once -------------------------------------
for i in 1 2 3; do
    inst_launch "g$i" serve --database "$(galera_url "$i" usv_galera)" --host 127.0.0.1 \
        --port 0 --migrate
done
up=0
for i in 1 2 3; do
    inst_ready "g$i" && up=$((up + 1))
done
expect_eq "$up" 3 "serve --migrate on the three nodes at once: all come up"
dup=$(galera_sql 2 "SELECT COUNT(*) - COUNT(DISTINCT version) FROM usv_galera.schema_migrations")
expect_eq "$dup" 0 "each migration recorded once, cluster-wide"

# --- 2. certification conflicts are retried ---------------------------------
id=$(curl -s --max-time 10 -X POST -H 'Content-Type: application/json' \
    --data-binary '{"login":"contended"}' "http://127.0.0.1:$(inst_port g1)/users" | jq -r .id)
[ -n "$id" ] && [ "$id" != null ] || bail "a user to contend for"
sleep 0.5      # replicated to the other nodes
patcher() {
    local node=$1 n out=$TMP/patch.$1
    : >"$out"
    for n in $(seq 1 40); do
        curl -s -o /dev/null --max-time "$CURL_MAX_S" -w '%{http_code}\n' -X PATCH \
            -H 'Content-Type: application/merge-patch+json' \
            --data-binary "{\"first_name\":\"n${node}x$n\"}" \
            "http://127.0.0.1:$(inst_port "g$node")/users/$id" >>"$out"
    done
}
patcher 1 & p1=$!
patcher 2 & p2=$!
patcher 1 & p3=$!
patcher 2 & p4=$!
wait "$p1" "$p2" "$p3" "$p4"
total=$(cat "$TMP"/patch.* | wc -l)
good=$(cat "$TMP"/patch.* | grep -c '^200$')
retried=$(cat "$TMP"/inst.g1.*.log "$TMP"/inst.g2.*.log 2>/dev/null \
    | grep -c 'transient mysql failure, retrying')
echo "# concurrent PATCHes of one user through nodes 1 and 2: $total, 200: $good;" \
    "transactions retried after a conflict: $retried"
expect_eq "$good" "$total" "every PATCH through two nodes at once is 200 (conflicts retried)"
check "conflicts happened and were retried ($retried)" [ "$retried" -gt 0 ]

# --- 3. a node killed under write load ---------------------------------------
rm -f "$STOP_FILE" "$TMP"/load.*
export LOAD_MIX=1
load_start 6 "http://127.0.0.1:$(inst_port g1) http://127.0.0.1:$(inst_port g2) http://127.0.0.1:$(inst_port g3)" \
    100000 "$LOAD_S" "$CURL_MAX_S"
sleep 3
now; T_KILL=$NOW_MS
galera_kill 3
echo "# killed node 3 (SIGKILL)"
sleep $((LOAD_S - 3))
load_stop 30
size=$(galera_size 1)
expect_eq "$size" 2 "the two survivors form the primary component"
total=$(wc -l <"$TMP/load.all")
bad=$(awk '$3 !~ /^2[0-9][0-9]$/ && !($3 == 503 && $4 ~ /^[0-9]+$/)' "$TMP/load.all" | wc -l)
survivors_bad=$(awk -v k="$T_KILL" '$1 > k + 8000 && $3 !~ /^2/' "$TMP/load.all" | wc -l)
echo "# $total requests through three nodes, node 3 killed: $(status_counts)"
expect_eq "$bad" 0 "every answer is 2xx or 503 with Retry-After"
[ "$bad" -gt 0 ] && diag "$(awk '$3 !~ /^2[0-9][0-9]$/ && !($3 == 503 && $4 ~ /^[0-9]+$/)' "$TMP/load.all" | head)"
res=$(check_acknowledged)
expect_eq "$?" 0 "no acknowledged write lost on the surviving nodes: $res"
for i in 1 2; do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X POST \
        -H 'Content-Type: application/json' --data-binary "{\"login\":\"galafter$i\"}" \
        "http://127.0.0.1:$(inst_port "g$i")/users")
    expect_eq "$code" 201 "the instance on surviving node $i writes (201)"
done
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://127.0.0.1:$(inst_port g3)/readyz")
expect_eq "$code" 503 "the instance on the dead node is not ready"
