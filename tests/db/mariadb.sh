#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# A throwaway MariaDB server for the e2e and unit tests.
#
#   tests/db/mariadb.sh start     install a private datadir, start on 127.0.0.1:free port
#   tests/db/mariadb.sh url       print the admin URL (user with all privileges, password auth)
#   tests/db/mariadb.sh restart   stop and start again on the same port, data kept
#   tests/db/mariadb.sh stop      stop cleanly and remove the state directory
#   tests/db/mariadb.sh status    exit 0 when the server answers
#
# State lives in $USERSVC_TEST_STATE/mariadb (default /tmp/usersvc-test-state/mariadb):
# datadir, socket, pid file and error log. As root the server runs as the `mysql`
# system user (that the Debian package creates). Authentication is real (no
# --skip-grant-tables): root@localhost authenticates by unix socket (for this
# script), and `usersvc`@`%` has password `usersvc-pw` and all privileges, so the
# tests connect over TCP with a password like production does.
set -euo pipefail

STATE_ROOT=${USERSVC_TEST_STATE:-/tmp/usersvc-test-state}
DIR=$STATE_ROOT/mariadb
DATA=$DIR/data
SOCK=$DIR/mysqld.sock
PIDFILE=$DIR/mysqld.pid
DB_USER=usersvc
DB_PASSWORD=usersvc-pw
START_WAIT_S=30
STOP_WAIT_S=30

die() { echo "mariadb.sh: $*" >&2; exit 1; }

find_prog() {
    local p
    for p in "$@"; do
        if command -v "$p" >/dev/null 2>&1; then
            command -v "$p"; return 0
        fi
        [ -x "/usr/sbin/$p" ] && { echo "/usr/sbin/$p"; return 0; }
    done
    return 1
}
MYSQLD=$(find_prog mariadbd mysqld) || die "no mariadbd (apt-get install mariadb-server)"
INSTALL_DB=$(find_prog mariadb-install-db mysql_install_db) \
    || die "no mariadb-install-db (apt-get install mariadb-server)"
CLIENT=$(find_prog mariadb mysql) || die "no mariadb client (apt-get install mariadb-client)"
ADMIN=$(find_prog mariadb-admin mysqladmin) || die "no mariadb-admin"

if [ "$(id -u)" -eq 0 ]; then
    RUN_AS=mysql
    getent passwd "$RUN_AS" >/dev/null || RUN_AS=root
else
    RUN_AS=$(id -un)
fi

# A random port below the kernel's ephemeral range (where port-0 servers
# and outgoing connections land), above the tests' own range (10000-...).
free_port_candidate() {
    local low=32768
    read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || low=32768
    [ "$low" -gt 12000 ] 2>/dev/null || low=32768
    echo $(( low - 2000 + (RANDOM % 1000) ))
}

port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

read_port() {
    [ -f "$DIR/port" ] || die "not started (no $DIR/port)"
    cat "$DIR/port"
}

# Root client through the socket (unix_socket authentication).
sock_client() {
    "$CLIENT" --no-defaults -S "$SOCK" -u "$(id -un)" "$@"
}

server_pid() {
    [ -f "$PIDFILE" ] || return 1
    local pid
    pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

is_running() {
    server_pid >/dev/null && "$ADMIN" --no-defaults -S "$SOCK" -u "$(id -un)" \
        --connect-timeout=2 ping >/dev/null 2>&1
}

# Starts mariadbd on port $1 and waits until it answers; non-zero on failure.
start_on_port() {
    local port=$1 i
    rm -f "$PIDFILE" "$SOCK"
    # --no-defaults: ignore /etc/mysql so a system server's config cannot leak in.
    "$MYSQLD" --no-defaults --user="$RUN_AS" --datadir="$DATA" --socket="$SOCK" \
        --pid-file="$PIDFILE" --log-error="$DIR/error.log" --port="$port" \
        --bind-address=127.0.0.1 --skip-name-resolve --character-set-server=utf8mb4 \
        --collation-server=utf8mb4_unicode_ci --innodb-flush-log-at-trx-commit=0 \
        --innodb-doublewrite=0 --innodb-buffer-pool-size=64M --max-connections=300 \
        --skip-log-bin --symbolic-links=0 \
        </dev/null >/dev/null 2>&1 &
    local launcher=$!
    for i in $(seq 1 $((START_WAIT_S * 5))); do
        if is_running && "$CLIENT" --no-defaults -h 127.0.0.1 -P "$port" -u "$DB_USER" \
                -p"$DB_PASSWORD" --connect-timeout=2 -e 'SELECT 1' >/dev/null 2>&1; then
            return 0
        fi
        # A bind failure (port taken) makes mariadbd exit quickly.
        if ! kill -0 "$launcher" 2>/dev/null && ! server_pid >/dev/null; then
            return 1
        fi
        # Before the first start the account does not exist yet: create it
        # as soon as the socket answers.
        if [ ! -f "$DIR/users-created" ] && is_running; then
            sock_client <<EOF || return 1
CREATE USER IF NOT EXISTS '$DB_USER'@'%' IDENTIFIED BY '$DB_PASSWORD';
CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASSWORD';
GRANT ALL PRIVILEGES ON *.* TO '$DB_USER'@'%' WITH GRANT OPTION;
GRANT ALL PRIVILEGES ON *.* TO '$DB_USER'@'localhost' WITH GRANT OPTION;
FLUSH PRIVILEGES;
EOF
            touch "$DIR/users-created"
        fi
        sleep 0.2
    done
    return 1
}

stop_server() {
    local pid i
    pid=$(server_pid) || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 $((STOP_WAIT_S * 10))); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    echo "mariadb.sh: server $pid did not stop in ${STOP_WAIT_S}s, killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.5
}

cmd_start() {
    local port i
    if is_running; then
        echo "mariadb.sh: already running on port $(read_port)" >&2
        return 0
    fi
    stop_server
    rm -rf "$DIR"
    mkdir -p "$STATE_ROOT"
    chmod 755 "$STATE_ROOT" 2>/dev/null || true
    mkdir -m 750 "$DIR"
    [ "$RUN_AS" = "$(id -un)" ] || chown "$RUN_AS:" "$DIR"
    "$INSTALL_DB" --no-defaults --user="$RUN_AS" --datadir="$DATA" \
        --auth-root-authentication-method=socket --auth-root-socket-user="$(id -un)" \
        --skip-test-db >"$DIR/install.log" 2>&1 \
        || { cat "$DIR/install.log" >&2; die "mariadb-install-db failed"; }
    for i in $(seq 1 20); do
        port=$(free_port_candidate)
        port_in_use "$port" && continue
        if start_on_port "$port"; then
            echo "$port" >"$DIR/port.tmp" && mv "$DIR/port.tmp" "$DIR/port"
            echo "mariadb.sh: MariaDB running on 127.0.0.1:$port (data in $DATA)" >&2
            return 0
        fi
        stop_server
    done
    tail -n 20 "$DIR/error.log" >&2 2>/dev/null || true
    die "could not start MariaDB on a free port"
}

cmd_stop() {
    stop_server
    rm -rf "$DIR"
}

cmd_restart() {
    local port
    port=$(read_port)
    stop_server
    start_on_port "$port" || die "restart on port $port failed (see $DIR/error.log)"
}

# Stops the server without removing its data (recovery tests: "database down").
cmd_halt() {
    stop_server
}

cmd_resume() {
    is_running && return 0
    start_on_port "$(read_port)" || die "start failed (see $DIR/error.log)"
}

cmd_url() {
    echo "mysql://$DB_USER:$DB_PASSWORD@127.0.0.1:$(read_port)/"
}

case "${1:-}" in
    start)   cmd_start ;;
    stop)    cmd_stop ;;
    restart) cmd_restart ;;
    halt)    cmd_halt ;;
    resume)  cmd_resume ;;
    url)     cmd_url ;;
    status)  is_running ;;
    *) echo "usage: $0 start|stop|restart|halt|resume|url|status" >&2; exit 2 ;;
esac
