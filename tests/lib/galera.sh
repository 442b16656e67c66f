# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# A throwaway three-node MariaDB Galera cluster on loopback (galera-4), for
# tests/ha/galera_*.sh (issue 18). Sourced after tests/e2e/lib.sh (free_port).
#
#   galera_start DIR          bootstraps node 1, then joins nodes 2 and 3 (SST
#                             by rsync); every node has its own datadir under
#                             DIR, a free SQL port, Galera port, IST and SST
#                             port. Sets GALERA_PORT[1..3]. Returns 1 with a
#                             message on stderr when a node is not synced
#                             within 60 s.
#   galera_url I DB           mysql:// URL of database DB on node I (user
#                             usersvc / usersvc-pw, made on node 1 and
#                             replicated).
#   galera_sql I SQL          runs SQL on node I as that user (prints rows).
#   galera_kill I             SIGKILL to node I (a crash).
#   galera_size I             wsrep_cluster_size as node I sees it.
#   galera_stop               SIGTERM to every node left, then SIGKILL.
#
# As root the nodes run as the system user mysql (mariadbd --user), like
# tests/db/mariadb.sh. Durability is off (innodb_flush_log_at_trx_commit=0):
# a commit is durable through the cluster (it is certified and replicated to
# every node before the client is told), which is what the tests check.

GALERA_PROVIDER=${GALERA_PROVIDER:-/usr/lib/galera/libgalera_smm.so}
declare -a GALERA_PORT=() GALERA_GPORT=() GALERA_IST=() GALERA_SST=() GALERA_PIDF=()
GALERA_DIR=
_GALERA_USER=usersvc
_GALERA_PASS=usersvc-pw

galera_available() {
    [ -r "$GALERA_PROVIDER" ] && command -v mariadbd >/dev/null 2>&1 \
        || [ -x /usr/sbin/mariadbd ]
}

_galera_run_as() {
    if [ "$(id -u)" -eq 0 ]; then echo mysql; else id -un; fi
}

_galera_mysqld() {
    command -v mariadbd 2>/dev/null || echo /usr/sbin/mariadbd
}

_galera_client() {
    command -v mariadb 2>/dev/null || command -v mysql
}

# _galera_cnf I: writes DIR/nI.cnf.
_galera_cnf() {
    local i=$1 d=$GALERA_DIR addrs=''
    local j
    for j in 1 2 3; do
        addrs="$addrs${addrs:+,}127.0.0.1:${GALERA_GPORT[$j]}"
    done
    cat >"$d/n$i.cnf" <<EOF
[mysqld]
datadir=$d/n$i
socket=$d/n$i.sock
pid-file=$d/n$i.pid
log-error=$d/n$i.err
port=${GALERA_PORT[$i]}
bind-address=127.0.0.1
skip-name-resolve
character-set-server=utf8mb4
collation-server=utf8mb4_unicode_ci
binlog_format=ROW
default_storage_engine=InnoDB
innodb_autoinc_lock_mode=2
innodb_flush_log_at_trx_commit=0
innodb_buffer_pool_size=32M
max_connections=200
wsrep_on=ON
wsrep_provider=$GALERA_PROVIDER
wsrep_cluster_name=usersvc_test
wsrep_cluster_address=gcomm://$addrs
wsrep_node_name=n$i
wsrep_node_address=127.0.0.1:${GALERA_GPORT[$i]}
wsrep_provider_options=gmcast.listen_addr=tcp://127.0.0.1:${GALERA_GPORT[$i]};ist.recv_addr=127.0.0.1:${GALERA_IST[$i]};gcache.size=64M;evs.suspect_timeout=PT3S;evs.inactive_timeout=PT6S;evs.install_timeout=PT6S;pc.wait_prim_timeout=PT10S
wsrep_sst_method=rsync
wsrep_sst_receive_address=127.0.0.1:${GALERA_SST[$i]}
wsrep_slave_threads=2
EOF
}

# _galera_wait_synced I: until node I says Synced (60 s).
_galera_wait_synced() {
    local i=$1 n st
    for n in $(seq 1 300); do
        st=$(galera_sql "$i" "SHOW STATUS LIKE 'wsrep_local_state_comment'" 2>/dev/null \
            | awk '{ print $2 }')
        [ "$st" = Synced ] && return 0
        sleep 0.2
    done
    echo "galera: node $i not synced within 60 s (state '${st:-none}'):" >&2
    tail -n 15 "$GALERA_DIR/n$i.err" >&2 2>/dev/null
    return 1
}

# _galera_launch I [--wsrep-new-cluster]
_galera_launch() {
    local i=$1
    shift
    "$(_galera_mysqld)" --defaults-file="$GALERA_DIR/n$i.cnf" --user="$(_galera_run_as)" "$@" \
        </dev/null >/dev/null 2>&1 &
    disown      # its end (a SIGKILL) is no job of this shell's to report
    GALERA_PIDF[$i]=$GALERA_DIR/n$i.pid
}

galera_start() {
    local i n user
    GALERA_DIR=$1
    user=$(_galera_run_as)
    mkdir -p "$GALERA_DIR" || return 1
    chmod 755 "$GALERA_DIR"
    for i in 1 2 3; do
        GALERA_PORT[$i]=$(free_port) || return 1
        GALERA_GPORT[$i]=$(free_port) || return 1
        GALERA_IST[$i]=$(free_port) || return 1
        GALERA_SST[$i]=$(free_port) || return 1
    done
    for i in 1 2 3; do
        _galera_cnf "$i"
    done
    [ "$(id -u)" -eq 0 ] && chown -R "$user:" "$GALERA_DIR"
    mariadb-install-db --no-defaults --user="$user" --datadir="$GALERA_DIR/n1" \
        --auth-root-authentication-method=socket --auth-root-socket-user="$(id -un)" \
        --skip-test-db >"$GALERA_DIR/install.log" 2>&1 \
        || { cat "$GALERA_DIR/install.log" >&2; return 1; }
    _galera_launch 1 --wsrep-new-cluster
    for n in $(seq 1 150); do
        "$(_galera_client)" --no-defaults -S "$GALERA_DIR/n1.sock" -u "$(id -un)" \
            -e 'SELECT 1' >/dev/null 2>&1 && break
        sleep 0.2
    done
    "$(_galera_client)" --no-defaults -S "$GALERA_DIR/n1.sock" -u "$(id -un)" <<EOF \
        || { echo "galera: cannot create the test user on node 1" >&2; return 1; }
CREATE USER IF NOT EXISTS '$_GALERA_USER'@'%' IDENTIFIED BY '$_GALERA_PASS';
GRANT ALL ON *.* TO '$_GALERA_USER'@'%' WITH GRANT OPTION;
EOF
    _galera_wait_synced 1 || return 1
    for i in 2 3; do
        mkdir -p "$GALERA_DIR/n$i"
        [ "$(id -u)" -eq 0 ] && chown "$user:" "$GALERA_DIR/n$i"
        _galera_launch "$i"
        _galera_wait_synced "$i" || return 1
    done
    return 0
}

galera_url() {
    echo "mysql://$_GALERA_USER:$_GALERA_PASS@127.0.0.1:${GALERA_PORT[$1]}/$2"
}

galera_sql() {
    MYSQL_PWD=$_GALERA_PASS timeout 20 "$(_galera_client)" --no-defaults --protocol=TCP \
        -h 127.0.0.1 -P "${GALERA_PORT[$1]}" -u "$_GALERA_USER" --connect-timeout=5 \
        --batch --skip-column-names -e "$2"
}

_galera_pid() {
    local f=${GALERA_PIDF[$1]:-}
    [ -n "$f" ] && [ -s "$f" ] && cat "$f"
}

galera_kill() {
    local pid
    pid=$(_galera_pid "$1") && kill -KILL "$pid" 2>/dev/null
}

galera_size() {
    galera_sql "$1" "SHOW STATUS LIKE 'wsrep_cluster_size'" 2>/dev/null | awk '{ print $2 }'
}

galera_stop() {
    local i pid n
    for i in 3 2 1; do
        pid=$(_galera_pid "$i") || continue
        kill -TERM "$pid" 2>/dev/null
        for n in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null
    done
    GALERA_PIDF=()
}
