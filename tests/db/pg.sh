#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# A throwaway PostgreSQL server for the e2e and unit tests.
#
#   tests/db/pg.sh start     initdb + start on 127.0.0.1 at a free port
#   tests/db/pg.sh url       print the admin URL (a superuser, real password auth)
#   tests/db/pg.sh restart   stop and start again on the same port, data kept
#   tests/db/pg.sh stop      stop cleanly and remove the data directory
#   tests/db/pg.sh status    exit 0 when the server answers
#
# State lives in $USERSVC_TEST_STATE/pg (default /tmp/usersvc-test-state/pg).
# USERSVC_PG_EXTRA_CONF: postgresql.conf lines added at start (tests/ha).
# PostgreSQL refuses to run as root, so as root the server runs as the system
# user `usersvc-test` (created on first use). The superuser `usersvc` has the
# password `usersvc-pw`; TCP connections use scram-sha-256, so wrong passwords
# fail as they would in production. Durability is switched off (fsync=off):
# the data is thrown away anyway and the tests run faster.
set -euo pipefail

STATE_ROOT=${USERSVC_TEST_STATE:-/tmp/usersvc-test-state}
DIR=$STATE_ROOT/pg
DATA=$DIR/data
PG_USER=usersvc
PG_PASSWORD=usersvc-pw
RUN_AS=usersvc-test
START_WAIT_S=30

find_bindir() {
    local d
    if [ -n "${PG_BINDIR:-}" ]; then
        echo "$PG_BINDIR"; return
    fi
    for d in /usr/lib/postgresql/*/bin; do
        [ -x "$d/pg_ctl" ] && { echo "$d"; return; }
    done
    d=$(command -v pg_ctl 2>/dev/null || true)
    [ -n "$d" ] && { dirname "$d"; return; }
    echo "pg.sh: no PostgreSQL server binaries (apt-get install postgresql)" >&2
    exit 1
}
BIN=$(find_bindir)

die() { echo "pg.sh: $*" >&2; exit 1; }

# Runs a command as the server's owner (ourselves unless we are root).
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u "$RUN_AS" -- "$@"
    else
        "$@"
    fi
}

ensure_user() {
    [ "$(id -u)" -eq 0 ] || return 0
    if ! getent passwd "$RUN_AS" >/dev/null; then
        useradd --system --no-create-home --shell /usr/sbin/nologin "$RUN_AS" \
            || die "cannot create system user $RUN_AS"
    fi
}

# True when something accepts TCP connections on 127.0.0.1:$1.
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

is_running() {
    [ -d "$DATA" ] && as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

# Starts the server on port $1; returns non-zero when it did not come up.
start_on_port() {
    local port=$1
    as_owner "$BIN/pg_ctl" -D "$DATA" -l "$DIR/server.log" -w -t "$START_WAIT_S" \
        -o "-p $port -k $DIR -c listen_addresses=127.0.0.1" start >/dev/null 2>&1 || return 1
    # pg_ctl -w waits for the server; check it is ours that answers.
    PGPASSWORD=$PG_PASSWORD "$BIN/psql" -X -q -w -h 127.0.0.1 -p "$port" -U "$PG_USER" \
        -d postgres -c 'SELECT 1' >/dev/null 2>&1
}

cmd_start() {
    local port i
    if is_running; then
        echo "pg.sh: already running on port $(read_port)" >&2
        return 0
    fi
    ensure_user
    rm -rf "$DIR"
    mkdir -p "$STATE_ROOT"
    chmod 755 "$STATE_ROOT" 2>/dev/null || true
    mkdir -m 700 "$DIR"
    if [ "$(id -u)" -eq 0 ]; then
        chown "$RUN_AS:" "$DIR"
    fi
    printf '%s\n' "$PG_PASSWORD" | as_owner tee "$DIR/pwfile" >/dev/null
    as_owner "$BIN/initdb" -D "$DATA" -U "$PG_USER" --pwfile="$DIR/pwfile" \
        --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 \
        >"$DIR/initdb.log" 2>&1 || { cat "$DIR/initdb.log" >&2; die "initdb failed"; }
    as_owner rm -f "$DIR/pwfile"
    as_owner tee -a "$DATA/postgresql.conf" >/dev/null <<'EOF'
# usersvc test server: throwaway data, so no durability.
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
shared_buffers = 64MB
log_min_messages = warning
EOF
    # Test-specific settings (later lines win), e.g. a small max_connections.
    if [ -n "${USERSVC_PG_EXTRA_CONF:-}" ]; then
        printf '%s\n' "$USERSVC_PG_EXTRA_CONF" | as_owner tee -a "$DATA/postgresql.conf" >/dev/null
    fi
    for i in $(seq 1 20); do
        port=$(free_port_candidate)
        port_in_use "$port" && continue
        if start_on_port "$port"; then
            echo "$port" >"$DIR/port.tmp" && mv "$DIR/port.tmp" "$DIR/port"
            echo "pg.sh: PostgreSQL running on 127.0.0.1:$port (data in $DATA)" >&2
            return 0
        fi
        as_owner "$BIN/pg_ctl" -D "$DATA" -m immediate -w -t 10 stop >/dev/null 2>&1 || true
    done
    tail -n 20 "$DIR/server.log" >&2 2>/dev/null || true
    die "could not start PostgreSQL on a free port"
}

cmd_stop() {
    if is_running; then
        as_owner "$BIN/pg_ctl" -D "$DATA" -m fast -w -t 30 stop >/dev/null 2>&1 \
            || as_owner "$BIN/pg_ctl" -D "$DATA" -m immediate -w -t 10 stop >/dev/null 2>&1 \
            || true
    fi
    rm -rf "$DIR"
}

cmd_restart() {
    local port
    port=$(read_port)
    if is_running; then
        as_owner "$BIN/pg_ctl" -D "$DATA" -m fast -w -t 30 stop >/dev/null 2>&1 \
            || die "stop failed"
    fi
    start_on_port "$port" || die "restart on port $port failed (see $DIR/server.log)"
}

# Stops the server without removing its data (recovery tests: "database down").
cmd_halt() {
    is_running || return 0
    as_owner "$BIN/pg_ctl" -D "$DATA" -m fast -w -t 30 stop >/dev/null 2>&1 || die "stop failed"
}

cmd_resume() {
    is_running && return 0
    start_on_port "$(read_port)" || die "start failed (see $DIR/server.log)"
}

cmd_url() {
    echo "postgres://$PG_USER:$PG_PASSWORD@127.0.0.1:$(read_port)/postgres"
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
