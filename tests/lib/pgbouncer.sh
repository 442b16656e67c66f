# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# A throwaway PgBouncer in front of the test PostgreSQL, for the tests that
# check usersvc behind a pooler (tests/pg/pg_pgbouncer_tx.sh, the ha suite).
# Sourced after tests/e2e/lib.sh (free_port); needs Debian's pgbouncer and
# a PostgreSQL URL.
#
#   pgbouncer_start MODE [URL]   MODE: session | transaction | statement;
#                                URL: the server to pool (default
#                                USERSVC_TEST_PG_URL, user:password@host:port).
#                                Sets PGBOUNCER_PORT, PGBOUNCER_PID, PGBOUNCER_DIR
#                                and PGBOUNCER_LOG; returns 1 (message on
#                                stderr) when it does not start within 10 s.
#   pgbouncer_url DBNAME         postgres:// URL of DBNAME through the pooler
#                                (same user and password as URL).
#   pgbouncer_stop               SIGTERM to PGBOUNCER_PID (then SIGKILL after
#                                5 s) and remove PGBOUNCER_DIR.
#   pgbouncer_available          exit 0 when a pgbouncer binary is installed.
#
# PgBouncer listens on a free loopback port (free_port, retried on a
# clash), no Unix socket, in a temporary directory.
# Clients are trusted (auth_type trust: loopback only, a throwaway pooler);
# the pooler logs in to the server with the URL's password, taken from a
# userlist file in the temporary directory (mode 600), so scram-sha-256 on
# the server side works. PgBouncer refuses to run as root: as root it runs
# as the same system user as tests/db/pg.sh (usersvc-test).
# ignore_startup_parameters lists what libpq and usersvc send at start-up
# that PgBouncer 1.18 would otherwise refuse: extra_float_digits (psql,
# JDBC) and options (usersvc's "-c statement_timeout=..."; behind a pooler
# set timeouts on the role instead: see README "Poolers").
# Settings the tests rely on: pool_mode as asked, default_pool_size 20 per
# (database, user), max_client_conn 400, server_reset_query "" in
# transaction mode (PgBouncer's default: DISCARD ALL in session mode only).

PGBOUNCER_RUN_AS=${PGBOUNCER_RUN_AS:-usersvc-test}
PGBOUNCER_BIN=${PGBOUNCER_BIN:-}
PGBOUNCER_PID=
PGBOUNCER_PORT=
PGBOUNCER_DIR=
PGBOUNCER_LOG=
_PGB_USER=
_PGB_PASS=

_pgbouncer_bin() {
    local b
    if [ -n "$PGBOUNCER_BIN" ]; then echo "$PGBOUNCER_BIN"; return 0; fi
    for b in "$(command -v pgbouncer 2>/dev/null)" /usr/sbin/pgbouncer /usr/bin/pgbouncer; do
        [ -n "$b" ] && [ -x "$b" ] && { echo "$b"; return 0; }
    done
    return 1
}

pgbouncer_available() {
    _pgbouncer_bin >/dev/null
}

# _pgbouncer_as_owner CMD...: run as ourselves, or as PGBOUNCER_RUN_AS when root.
_pgbouncer_as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u "$PGBOUNCER_RUN_AS" -- "$@"
    else
        "$@"
    fi
}

pgbouncer_start() {
    local mode=$1 url=${2:-${USERSVC_TEST_PG_URL:-}} bin host port attempt i
    local re='^postgres(ql)?://([^:@/]+)(:([^@/]*))?@([^:/?]+)(:([0-9]+))?(/[^?]*)?(\?.*)?$'
    case "$mode" in
        session|transaction|statement) ;;
        *) echo "pgbouncer_start: mode must be session, transaction or statement" >&2
           return 1 ;;
    esac
    bin=$(_pgbouncer_bin) || { echo "pgbouncer_start: pgbouncer is not installed" >&2; return 1; }
    [[ $url =~ $re ]] || { echo "pgbouncer_start: need a URL user[:password]@host[:port]" >&2
                           return 1; }
    _PGB_USER=${BASH_REMATCH[2]}
    _PGB_PASS=${BASH_REMATCH[4]}
    host=${BASH_REMATCH[5]}
    port=${BASH_REMATCH[7]:-5432}
    if [ "$(id -u)" -eq 0 ] && ! getent passwd "$PGBOUNCER_RUN_AS" >/dev/null; then
        useradd --system --no-create-home --shell /usr/sbin/nologin "$PGBOUNCER_RUN_AS" \
            || { echo "pgbouncer_start: cannot create user $PGBOUNCER_RUN_AS" >&2; return 1; }
    fi
    PGBOUNCER_DIR=$(mktemp -d "${TMPDIR:-/tmp}/usersvc-pgbouncer.XXXXXX") || return 1
    PGBOUNCER_LOG=$PGBOUNCER_DIR/pgbouncer.log
    # userlist.txt: "user" "password" (plain text: PgBouncer derives the
    # SCRAM or MD5 answer for the server from it).
    ( umask 077; printf '"%s" "%s"\n' "$_PGB_USER" "$_PGB_PASS" >"$PGBOUNCER_DIR/userlist.txt" )
    for attempt in 1 2 3 4 5; do
        PGBOUNCER_PORT=$(free_port) || { echo "pgbouncer_start: no free port" >&2; return 1; }
        cat >"$PGBOUNCER_DIR/pgbouncer.ini" <<EOF
[databases]
* = host=$host port=$port

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PGBOUNCER_PORT
unix_socket_dir =
auth_type = trust
auth_file = $PGBOUNCER_DIR/userlist.txt
pool_mode = $mode
default_pool_size = 20
max_client_conn = 400
max_db_connections = 0
server_reset_query =
ignore_startup_parameters = extra_float_digits,options
logfile = $PGBOUNCER_LOG
pidfile = $PGBOUNCER_DIR/pgbouncer.pid
admin_users = $_PGB_USER
stats_users = $_PGB_USER
server_login_retry = 1
query_wait_timeout = 30
EOF
        if [ "$(id -u)" -eq 0 ]; then
            chown -R "$PGBOUNCER_RUN_AS" "$PGBOUNCER_DIR" || return 1
        fi
        : >"$PGBOUNCER_DIR/stderr"
        _pgbouncer_as_owner "$bin" "$PGBOUNCER_DIR/pgbouncer.ini" \
            >>"$PGBOUNCER_DIR/stderr" 2>&1 </dev/null &
        PGBOUNCER_PID=$!
        for i in $(seq 1 100); do
            if (exec 3<>"/dev/tcp/127.0.0.1/$PGBOUNCER_PORT") 2>/dev/null; then
                return 0
            fi
            kill -0 "$PGBOUNCER_PID" 2>/dev/null || break
            sleep 0.1
        done
        # A port taken between the probe and the bind: try another.
        if kill -0 "$PGBOUNCER_PID" 2>/dev/null; then
            kill -TERM "$PGBOUNCER_PID" 2>/dev/null
            wait "$PGBOUNCER_PID" 2>/dev/null
            PGBOUNCER_PID=
            echo "pgbouncer_start: no listening socket within 10 s" >&2
            return 1
        fi
        wait "$PGBOUNCER_PID" 2>/dev/null
        PGBOUNCER_PID=
        grep -q "Address already in use" "$PGBOUNCER_LOG" "$PGBOUNCER_DIR/stderr" 2>/dev/null \
            || break
    done
    echo "pgbouncer_start: pgbouncer did not start: $(tail -n 3 "$PGBOUNCER_DIR/stderr" \
        "$PGBOUNCER_LOG" 2>/dev/null | tr '\n' ' ')" >&2
    return 1
}

pgbouncer_url() {
    local auth=$_PGB_USER
    [ -n "$_PGB_PASS" ] && auth="$_PGB_USER:$_PGB_PASS"
    echo "postgres://$auth@127.0.0.1:$PGBOUNCER_PORT/$1?sslmode=disable&gssencmode=disable"
}

pgbouncer_stop() {
    local pid=$PGBOUNCER_PID inner= i
    PGBOUNCER_PID=
    if [ -n "$pid" ]; then
        # As root PGBOUNCER_PID is runuser's; pgbouncer's own is in its pidfile.
        [ -s "$PGBOUNCER_DIR/pgbouncer.pid" ] && read -r inner <"$PGBOUNCER_DIR/pgbouncer.pid"
        kill -TERM "$pid" ${inner:+"$inner"} 2>/dev/null
        for i in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" ${inner:+"$inner"} 2>/dev/null
        wait "$pid" 2>/dev/null
    fi
    if [ -n "$PGBOUNCER_DIR" ] && [ "${USERSVC_TEST_KEEP:-}" != 1 ]; then
        rm -rf "$PGBOUNCER_DIR"
    fi
    PGBOUNCER_DIR=
}
