#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The usersvc benchmark: usersvc against the database's own limit and
# against its own GET /healthz (the ceiling of the HTTP model), measured in
# one run on one machine, with an open-loop run at 50 % and 80 % of the
# measured maximum and a plot of the scaling table; then HTTPS against plain
# HTTP, the server's TLS limit, handshakes per second and openssl speed.
# See bench/README.md.
#
#   bench/run.sh                 full run: build-bench/ (release), every backend,
#                                report in bench/results/YYYY-MM-DD-HHMM.md
#   bench/run.sh --short         CI smoke: 2 s steps, fewer scaling steps, no
#                                results file; exits non-zero only on errors
#                                (non-2xx, socket errors, a crashed service or
#                                tool), never on timings
#
# Options:
#   --short                 smoke mode (see above)
#   --backends "LIST"       subset of "sqlite postgres mysql" (default: all three)
#   --binary PATH           benchmark this usersvc instead of building build-bench/
#   --duration S            seconds per measured step (default 10; --short 2)
#   --warmup S              seconds of warm-up before each step (default 2; --short 1)
#   --connections N         connections of the main GET/POST steps (default 32)
#   --scaling "LIST"        connection counts of the GET scaling table
#                           (default "1 8 32 128 512"; --short "8 512"; "" = none)
#   --rounds N              measure each usersvc/limit pair N times, alternating,
#                           and report the medians (default 1; for noisy hosts)
#   --pg-url URL            use this PostgreSQL server (admin URL, may CREATE
#                           DATABASE) instead of starting a throwaway one
#   --mysql-url URL         same for MariaDB/MySQL (mysql://user:pw@127.0.0.1:port/)
#   --report FILE           write the markdown report here (default: full mode
#                           bench/results/YYYY-MM-DD-HHMM.md, --short none); the
#                           plot goes beside it (same name, .svg and .png)
#   --log-level LEVEL       LOG_LEVEL of the service (default warn)
#   --serve-args "ARGS"     extra `usersvc serve` flags (e.g. "--pool-size 32")
#
# Needs wrk, pgbench, sysbench, sqlite3 and the test servers; missing Debian
# packages are installed with apt-get (through sudo when not root).
# Servers run in a private state directory and are stopped by a trap.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$ROOT/bench

SHORT=0
BACKENDS="sqlite postgres mysql"
BINARY=
DURATION=
WARMUP=
CONNS=32
SCALING=__default__
ROUNDS=1
PG_ADMIN_URL=
MY_ADMIN_URL=
REPORT=__default__
SVC_LOG_LEVEL=warn
SERVE_ARGS=
SEED_USERS=10000
WRK_TIMEOUT=30s

die() { echo "bench: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
    arg=$1
    case "$arg" in
        --*=*) set -- "${arg%%=*}" "${arg#*=}" "${@:2}"; continue ;;
    esac
    case "$arg" in
        --short) SHORT=1; shift ;;
        --backends) BACKENDS=$2; shift 2 ;;
        --binary) BINARY=$2; shift 2 ;;
        --duration) DURATION=$2; shift 2 ;;
        --warmup) WARMUP=$2; shift 2 ;;
        --connections) CONNS=$2; shift 2 ;;
        --scaling) SCALING=$2; shift 2 ;;
        --rounds) ROUNDS=$2; shift 2 ;;
        --pg-url) PG_ADMIN_URL=$2; shift 2 ;;
        --mysql-url) MY_ADMIN_URL=$2; shift 2 ;;
        --report) REPORT=$2; shift 2 ;;
        --log-level) SVC_LOG_LEVEL=$2; shift 2 ;;
        --serve-args) SERVE_ARGS=$2; shift 2 ;;
        -h|--help) sed -n '4,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument '$arg' (see --help)" ;;
    esac
done

if [ "$SHORT" = 1 ]; then
    DURATION=${DURATION:-2}
    WARMUP=${WARMUP:-1}
    [ "$SCALING" = __default__ ] && SCALING="8 512"
    [ "$REPORT" = __default__ ] && REPORT=
else
    DURATION=${DURATION:-10}
    WARMUP=${WARMUP:-2}
    [ "$SCALING" = __default__ ] && SCALING="1 8 32 128 512"
    [ "$REPORT" = __default__ ] && REPORT=$BENCH/results/$(date +%Y-%m-%d-%H%M).md
fi
for b in $BACKENDS; do
    case "$b" in sqlite|postgres|mysql) ;; *) die "unknown backend '$b'" ;; esac
done
case "$DURATION$WARMUP$CONNS$ROUNDS" in *[!0-9]*) die "durations, --connections and --rounds are integers" ;; esac
[ "$ROUNDS" -ge 1 ] || die "--rounds must be at least 1"

has_backend() { case " $BACKENDS " in *" $1 "*) return 0 ;; esac; return 1; }
log() { printf '\n=== %s\n' "$*" >&2; }
note() { printf '    %s\n' "$*" >&2; }

# ---------------------------------------------------------------------------
# Dependencies and build

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo

install_missing() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
            || missing+=("$p")
    done
    [ ${#missing[@]} -gt 0 ] || return 0
    log "installing ${missing[*]}"
    if [ -n "$SUDO" ] && ! command -v sudo >/dev/null; then
        die "need root or sudo to install ${missing[*]}"
    fi
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install \
        -y -qq --no-install-recommends "${missing[@]}"
}

deps() {
    if [ -z "$BINARY" ]; then
        "$ROOT/scripts/install-deps.sh" test >&2
    fi
    local want=(wrk sqlite3 procps time openssl gnuplot-nox)
    has_backend postgres && want+=(postgresql postgresql-client postgresql-contrib)
    has_backend mysql && want+=(mariadb-server mariadb-client sysbench)
    install_missing "${want[@]}"
}

build() {
    if [ -n "$BINARY" ]; then
        [ -x "$BINARY" ] || die "--binary $BINARY is not an executable"
        SVC=$(cd "$(dirname "$BINARY")" && pwd)/$(basename "$BINARY")
        return
    fi
    log "build build-bench/ (release)"
    if [ -f "$ROOT/build-bench/build.ninja" ]; then
        meson setup --reconfigure "$ROOT/build-bench" "$ROOT" --buildtype=release -Dtests=false >&2 \
            || meson setup --wipe "$ROOT/build-bench" "$ROOT" --buildtype=release -Dtests=false >&2
    else
        meson setup "$ROOT/build-bench" "$ROOT" --buildtype=release -Dtests=false >&2
    fi
    meson compile -C "$ROOT/build-bench" >&2
    SVC=$ROOT/build-bench/usersvc
}

# ---------------------------------------------------------------------------
# State, servers, cleanup

STATE=
SVC_PID=
SAMPLER_PID=
PG_STARTED=0
MY_STARTED=0
PG_DB=
MY_DB=
ERRORS=0
ERROR_LINES=()

error() {
    ERRORS=$((ERRORS + 1))
    ERROR_LINES+=("$*")
    echo "bench: ERROR: $*" >&2
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_sampler
    stop_service >/dev/null 2>&1 || true
    drop_databases
    if [ -n "$STATE" ]; then
        export USERSVC_TEST_STATE=$STATE
        [ "$PG_STARTED" = 1 ] && { "$ROOT/tests/db/pg.sh" stop || true; }
        [ "$MY_STARTED" = 1 ] && { "$ROOT/tests/db/mariadb.sh" stop || true; }
        rm -rf "$STATE"
    fi
    exit "$rc"
}

start_state() {
    STATE=$(mktemp -d "${TMPDIR:-/tmp}/usersvc-bench.XXXXXX")
    chmod 755 "$STATE"
    export USERSVC_TEST_STATE=$STATE
}

# Splits a mysql://user:pw@host:port/ admin URL into MY_USER MY_PW MY_HOST MY_PORT.
parse_mysql_url() {
    local re='^mysql://([^:@/]+):([^@/]*)@([^:/]+):([0-9]+)/?$'
    [[ $1 =~ $re ]] || die "MySQL admin URL must look like mysql://user:pw@host:port/"
    MY_USER=${BASH_REMATCH[1]} MY_PW=${BASH_REMATCH[2]} MY_HOST=${BASH_REMATCH[3]}
    MY_PORT=${BASH_REMATCH[4]}
}

start_servers() {
    if has_backend postgres; then
        if [ -z "$PG_ADMIN_URL" ]; then
            log "start PostgreSQL (tests/db/pg.sh, state in $STATE)"
            "$ROOT/tests/db/pg.sh" start
            PG_STARTED=1
            PG_ADMIN_URL=$("$ROOT/tests/db/pg.sh" url)
        fi
        PG_DB=usersvc_bench_$$
        # postgres://user:pw@host:port/postgres -> .../usersvc_bench_PID
        PG_URL=${PG_ADMIN_URL%/*}/$PG_DB
    fi
    if has_backend mysql; then
        if [ -z "$MY_ADMIN_URL" ]; then
            log "start MariaDB (tests/db/mariadb.sh, state in $STATE)"
            "$ROOT/tests/db/mariadb.sh" start
            MY_STARTED=1
            MY_ADMIN_URL=$("$ROOT/tests/db/mariadb.sh" url)
        fi
        parse_mysql_url "$MY_ADMIN_URL"
        MY_DB=usersvc_bench_$$
        MY_URL="mysql://$MY_USER:$MY_PW@$MY_HOST:$MY_PORT/$MY_DB"
    fi
}

pg_admin() { PGOPTIONS='-c client_min_messages=warning' psql "$PG_ADMIN_URL" -X -q -v ON_ERROR_STOP=1 "$@"; }
pg_bench_db() { psql "$PG_URL" -X -q -v ON_ERROR_STOP=1 "$@"; }
my_client() {
    mariadb --no-defaults -h "$MY_HOST" -P "$MY_PORT" -u "$MY_USER" -p"$MY_PW" "$@"
}

drop_databases() {
    if [ -n "$PG_DB" ]; then
        pg_admin -c "DROP DATABASE IF EXISTS $PG_DB" >/dev/null 2>&1 || true
        PG_DB=
    fi
    if [ -n "$MY_DB" ]; then
        my_client -e "DROP DATABASE IF EXISTS $MY_DB" >/dev/null 2>&1 || true
        MY_DB=
    fi
}

# ---------------------------------------------------------------------------
# Databases: create, migrate with usersvc, seed 10,000 users

# INSERT statements for users 1..N, 1000 rows each; $1 is the SQL expression
# of both timestamps. Logins user1..userN, names FirstK/LastK.
seed_sql() {
    awk -v ts="$1" -v n="$SEED_USERS" 'BEGIN {
        for (i = 1; i <= n; i++) {
            if (i % 1000 == 1)
                printf "INSERT INTO users (login, first_name, last_name, created_at, updated_at) VALUES\n"
            printf "(\047user%d\047, \047First%d\047, \047Last%d\047, %s, %s)%s\n", i, i, i, ts, ts,
                   (i % 1000 == 0 || i == n) ? ";" : ","
        }
    }'
}

migrate() {
    local url=$1 out
    if ! out=$(env -u DATABASE_URL "$SVC" migrate --database "$url" --log-level warn 2>&1); then
        echo "$out" >&2
        die "usersvc migrate failed"
    fi
}

# Prints the DATABASE_URL of a freshly migrated and seeded database for $1.
prepare_database() {
    local backend=$1 stamp
    # The service's canonical text: RFC 3339, UTC, microseconds, Z.
    stamp=$(date -u +%Y-%m-%dT%H:%M:%S.%6NZ)
    case "$backend" in
        sqlite)
            local file=$STATE/bench.db
            rm -f "$file" "$file-wal" "$file-shm"
            migrate "sqlite:$file"
            { echo "BEGIN;"; seed_sql "'$stamp'"; echo "COMMIT;"; } | sqlite3 "$file"
            echo "sqlite:$file"
            ;;
        postgres)
            pg_admin -c "DROP DATABASE IF EXISTS $PG_DB" -c "CREATE DATABASE $PG_DB" >/dev/null
            migrate "$PG_URL"
            seed_sql "'$stamp'" | pg_bench_db >/dev/null
            pg_bench_db -c "VACUUM ANALYZE users" >/dev/null
            echo "$PG_URL"
            ;;
        mysql)
            my_client -e "DROP DATABASE IF EXISTS $MY_DB; CREATE DATABASE $MY_DB CHARACTER SET utf8mb4"
            migrate "$MY_URL"
            { echo "SET @ts = STR_TO_DATE('$stamp', '%Y-%m-%dT%H:%i:%s.%fZ');"; seed_sql "@ts"; } \
                | my_client "$MY_DB"
            my_client "$MY_DB" -e "ANALYZE TABLE users" >/dev/null
            echo "$MY_URL"
            ;;
    esac
}

count_users() {
    case "$1" in
        sqlite) sqlite3 "$STATE/bench.db" "SELECT count(*) FROM users" ;;
        postgres) pg_bench_db -A -t -c "SELECT count(*) FROM users" ;;
        mysql) my_client -N "$MY_DB" -e "SELECT count(*) FROM users" ;;
    esac
}

# ---------------------------------------------------------------------------
# The service

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_service URL NAME [SERVE FLAGS...]: SVC_SCHEME (http or https) and
# SVC_CURL (curl flags of the readiness probe, e.g. --cacert) for HTTPS.
SVC_SCHEME=http
SVC_CURL=()
start_service() {
    local url=$1 name=$2 i
    shift 2
    PORT=$(free_port)
    SVC_LOG=$STATE/usersvc-$name.log
    # Only flags configure it: the caller's environment must not leak in.
    # shellcheck disable=SC2086
    env -u DATABASE_URL -u DATABASE_READ_URL -u HOST -u PORT -u DB_POOL_SIZE \
        -u DB_POOL_TIMEOUT_MS -u DB_IDLE_CHECK_MS -u MAX_BODY_BYTES -u MAX_CONNECTIONS \
        -u MAX_CONNECTIONS_PER_IP -u CONNECTION_TIMEOUT_S -u MAX_HEADER_BYTES -u THREAD_STACK_KB \
        -u SHUTDOWN_TIMEOUT_MS -u DRAIN_MS -u LOG_LEVEL -u LOG_FORMAT \
        -u TLS_CERT_FILE -u TLS_KEY_FILE -u TLS_CLIENT_CA_FILE \
        "$SVC" serve --database "$url" --host 127.0.0.1 --port "$PORT" \
        --log-level "$SVC_LOG_LEVEL" --max-connections 2048 $SERVE_ARGS "$@" \
        >"$SVC_LOG" 2>&1 &
    SVC_PID=$!
    BASE_URL=$SVC_SCHEME://127.0.0.1:$PORT
    for i in $(seq 1 100); do
        if curl -fsS -o /dev/null --max-time 1 ${SVC_CURL[@]+"${SVC_CURL[@]}"} \
                "$BASE_URL/healthz" 2>/dev/null; then
            return 0
        fi
        kill -0 "$SVC_PID" 2>/dev/null || break
        sleep 0.1
    done
    tail -n 20 "$SVC_LOG" >&2
    die "usersvc did not start on $BASE_URL"
}

service_alive() { [ -n "$SVC_PID" ] && kill -0 "$SVC_PID" 2>/dev/null; }

stop_service() {
    local rc=0 i
    [ -n "$SVC_PID" ] || return 0
    if kill -0 "$SVC_PID" 2>/dev/null; then
        kill -TERM "$SVC_PID" 2>/dev/null || true
        for i in $(seq 1 150); do
            kill -0 "$SVC_PID" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$SVC_PID" 2>/dev/null; then
            kill -KILL "$SVC_PID" 2>/dev/null || true
            error "usersvc did not stop within 15 s of SIGTERM"
        fi
    fi
    wait "$SVC_PID" 2>/dev/null || rc=$?
    SVC_PID=
    return "$rc"
}

# Peak RSS per step: VmHWM, reset before the step (clear_refs 5), plus a
# sampler of VmRSS every 100 ms as a cross-check where the reset is refused.
reset_peak() {
    echo 5 >"/proc/$SVC_PID/clear_refs" 2>/dev/null || true
    rm -f "$STATE/rss.max"
    start_sampler
}

start_sampler() {
    stop_sampler
    (
        max=0
        while kill -0 "$SVC_PID" 2>/dev/null; do
            v=$(awk '/^VmRSS:/ { print $2 }' "/proc/$SVC_PID/status" 2>/dev/null || echo 0)
            if [ "${v:-0}" -gt "$max" ]; then
                max=$v
                echo "$max" >"$STATE/rss.max"
            fi
            sleep 0.1
        done
    ) &
    SAMPLER_PID=$!
}

stop_sampler() {
    if [ -n "$SAMPLER_PID" ]; then
        kill "$SAMPLER_PID" 2>/dev/null || true
        wait "$SAMPLER_PID" 2>/dev/null || true
        SAMPLER_PID=
    fi
}

# Peak RSS of the step in KiB: the larger of VmHWM and the sampled VmRSS.
read_peak() {
    local hwm sampled
    stop_sampler
    hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$SVC_PID/status" 2>/dev/null || echo 0)
    sampled=$(cat "$STATE/rss.max" 2>/dev/null || echo 0)
    echo $(( ${hwm:-0} > ${sampled:-0} ? ${hwm:-0} : ${sampled:-0} ))
}

# ---------------------------------------------------------------------------
# CPU accounting: on a small shared host req/s moves with everything else
# that runs; CPU time per request does much less, and it says where the
# time goes. Ticks are utime + stime (+ reaped children) from /proc.

CLK_TCK=$(getconf CLK_TCK)

proc_ticks() {
    local t=0 p v
    for p in "$@"; do
        v=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 + $14 + $15 }' "/proc/$p/stat" 2>/dev/null) || continue
        t=$((t + ${v:-0}))
    done
    echo "$t"
}

# PIDs of the database server the current backend talks to (empty: unknown).
db_pids() {
    local pm
    case "$CUR_BACKEND" in
        postgres)
            [ "$PG_STARTED" = 1 ] || return 0
            pm=$(head -1 "$STATE/pg/data/postmaster.pid" 2>/dev/null) || return 0
            echo "$pm $(pgrep -P "$pm" | tr '\n' ' ')"
            ;;
        mysql)
            [ "$MY_STARTED" = 1 ] || return 0
            cat "$STATE/mariadb/mysqld.pid" 2>/dev/null || true
            ;;
    esac
}

# cpu_begin; ...; cpu_end REQUESTS CLIENT_SECONDS: sets R_CPU_SVC R_CPU_DB
# R_CPU_CLIENT (µs per request, "-" when unknown).
cpu_begin() {
    CPU_DB_PIDS=$(db_pids)
    CPU_SVC0=$( [ -n "$SVC_PID" ] && proc_ticks "$SVC_PID" || echo 0)
    # shellcheck disable=SC2086  # a list of PIDs
    CPU_DB0=$( [ -n "$CPU_DB_PIDS" ] && proc_ticks $CPU_DB_PIDS || echo 0)
}

cpu_end() {
    local n=$1 client_s=$2 svc db pids
    pids=$(db_pids)
    svc=$( [ -n "$SVC_PID" ] && proc_ticks "$SVC_PID" || echo 0)
    # Backends that exited during the step were reaped by the postmaster:
    # their time is in its cutime/cstime, so the sum stays consistent.
    # shellcheck disable=SC2086  # a list of PIDs
    db=$( [ -n "$CPU_DB_PIDS" ] && proc_ticks $pids || echo 0)
    per() { awk -v t="$1" -v n="$n" -v hz="$CLK_TCK" 'BEGIN { if (n > 0) printf "%.1f", t * 1e6 / hz / n; else print "-" }'; }
    R_CPU_SVC=$(per $((svc - CPU_SVC0)))
    R_CPU_DB=-
    [ -n "$CPU_DB_PIDS" ] && R_CPU_DB=$(per $((db - CPU_DB0)))
    [ "$CUR_BACKEND" = sqlite ] && R_CPU_DB=0
    R_CPU_CLIENT=$(awk -v s="$client_s" -v n="$n" 'BEGIN { if (n > 0 && s != "") printf "%.1f", s * 1e6 / n; else print "-" }')
}

# Seconds of CPU of the command run through /usr/bin/time -f "CPUTIME %U %S".
client_seconds() { awk '/^CPUTIME / { print $2 + $3 }' <<<"$1" | tail -1; }

# The open-loop load generator (bench/openloop.c): meson builds it beside
# the service (build*/bench/usersvc-openloop); when that one is missing or
# older than its source (e.g. --binary of another tree), it is compiled here.
OPENLOOP=
openloop_build() {
    local cand
    cand=$(dirname "$SVC")/bench/usersvc-openloop
    if [ -x "$cand" ] && [ "$cand" -nt "$BENCH/openloop.c" ]; then
        OPENLOOP=$cand
        return
    fi
    OPENLOOP=$STATE/usersvc-openloop
    cc -std=c11 -D_POSIX_C_SOURCE=200809L -O2 -o "$OPENLOOP" "$BENCH/openloop.c" \
        || die "cannot compile bench/openloop.c"
}

# ---------------------------------------------------------------------------
# Load generators. Each sets R_RPS R_P50 R_P99 (ms) R_ERR (count) R_NOTE and
# R_CPU_SVC R_CPU_DB R_CPU_CLIENT (CPU µs per request).

R_RPS=0 R_P50=- R_P99=- R_MAX=- R_ERR=0 R_NOTE='' R_CPU_SVC=- R_CPU_DB=- R_CPU_CLIENT=-
CUR_BACKEND=

# wrk_step CONNS SCRIPT [SCRIPT ARGS...]: warm-up, then the measured step.
wrk_step() {
    local c=$1 script=$2 t out line
    shift 2
    t=$(( c < 2 ? c : 2 ))
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    if [ "$WARMUP" -gt 0 ]; then
        # post_unique.lua: the warm-up's logins must not be the step's.
        local warm_args=("$@")
        [ "$script" = post_unique.lua ] && warm_args=("${1}w")
        wrk -t"$t" -c"$c" -d"${WARMUP}s" --timeout "$WRK_TIMEOUT" -s "$BENCH/$script" \
            "$BASE_URL" -- "${warm_args[@]}" >/dev/null 2>&1 || true
    fi
    reset_peak
    cpu_begin
    out=$(/usr/bin/time -f "CPUTIME %U %S" wrk -t"$t" -c"$c" -d"${DURATION}s" \
              --timeout "$WRK_TIMEOUT" --latency -s "$BENCH/$script" "$BASE_URL" -- "$@" 2>&1) || true
    R_RSS=$(read_peak)
    echo "$out" >>"$STATE/wrk.log"
    line=$(grep '^BENCH_RESULT' <<<"$out" || true)
    if [ -z "$line" ]; then
        echo "$out" >&2
        error "wrk $script with $c connections printed no result"
        R_RPS=0 R_P50=- R_P99=- R_MAX=- R_ERR=1 R_NOTE="wrk failed"
        return
    fi
    kv() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $line"; }
    R_RPS=$(kv rps)
    cpu_end "$(kv requests)" "$(client_seconds "$out")"
    R_P50=$(awk -v us="$(kv p50_us)" 'BEGIN { printf "%.2f", us / 1000 }')
    R_P99=$(awk -v us="$(kv p99_us)" 'BEGIN { printf "%.2f", us / 1000 }')
    R_MAX=$(awk -v us="$(kv max_us)" 'BEGIN { printf "%.0f", us / 1000 }')
    local non2xx sock
    non2xx=$(kv non2xx)
    sock=$(( $(kv connect) + $(kv read) + $(kv write) + $(kv timeout) ))
    R_ERR=$(( non2xx + sock ))
    R_NOTE=
    if [ "$non2xx" -gt 0 ]; then
        R_NOTE="$non2xx non-2xx (e.g. $(kv bad_status))"
        error "$script, $c connections: $non2xx non-2xx responses (e.g. status $(kv bad_status))"
    fi
    if [ "$sock" -gt 0 ]; then
        R_NOTE="${R_NOTE:+$R_NOTE; }socket errors connect $(kv connect) read $(kv read) write $(kv write) timeout $(kv timeout)"
        error "$script, $c connections: socket errors (connect $(kv connect), read $(kv read), write $(kv write), timeout $(kv timeout))"
    fi
    if ! service_alive; then
        error "usersvc died during $script with $c connections (see $SVC_LOG)"
        tail -n 20 "$SVC_LOG" >&2 || true
    fi
    note "$(printf '%-16s c=%-4s %8.0f req/s  p50 %6s ms  p99 %7s ms  max %5s ms  RSS %6d KiB  errors %s  CPU µs/req svc %s db %s client %s' \
        "$script" "$c" "$R_RPS" "$R_P50" "$R_P99" "$R_MAX" "$R_RSS" "$R_ERR" "$R_CPU_SVC" "$R_CPU_DB" "$R_CPU_CLIENT")"
}

# pgbench_step SCRIPT: the PostgreSQL limit, same client count, TCP loopback.
pgbench_step() {
    local script=$1 out tps failed lat
    local args=(-n -M prepared -c "$CONNS" -j 2 -f "$BENCH/$script")
    if [ "$WARMUP" -gt 0 ]; then
        pgbench "${args[@]}" -T "$WARMUP" "$PG_URL" >/dev/null 2>&1 || true
    fi
    cpu_begin
    out=$(/usr/bin/time -f "CPUTIME %U %S" pgbench "${args[@]}" -T "$DURATION" "$PG_URL" 2>&1) || {
        echo "$out" >&2
        error "pgbench $script failed"
    }
    echo "$out" >>"$STATE/pgbench.log"
    tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$out")
    failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' <<<"$out")
    lat=$(sed -n 's/^latency average = \([0-9.]*\) ms.*/\1/p' <<<"$out")
    cpu_end "$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out")" \
        "$(client_seconds "$out")"
    R_CPU_SVC=0
    R_RPS=${tps:-0} R_P50=- R_P99=- R_MAX=- R_ERR=${failed:-0} R_NOTE="latency avg ${lat:-?} ms"
    [ "${failed:-0}" = 0 ] || error "pgbench $script: $failed failed transactions"
    note "$(printf '%-16s c=%-4s %8.0f tx/s   avg %s ms  errors %s  CPU µs/tx db %s client %s' \
        "pgbench $script" "$CONNS" "$R_RPS" "${lat:-?}" "$R_ERR" "$R_CPU_DB" "$R_CPU_CLIENT")"
}

# sysbench_step SCRIPT [ARGS]: the MariaDB limit, same client count, TCP loopback.
sysbench_step() {
    local script=$1 out tps errs p99
    shift
    local args=("$BENCH/$script" --db-driver=mysql --mysql-host="$MY_HOST"
                --mysql-port="$MY_PORT" --mysql-user="$MY_USER" --mysql-password="$MY_PW"
                --mysql-db="$MY_DB" --threads="$CONNS" --percentile=99
                --events=0 "$@")
    if [ "$WARMUP" -gt 0 ]; then
        sysbench "${args[@]}" --time="$WARMUP" --nonce="w$RANDOM$$" run >/dev/null 2>&1 || true
    fi
    cpu_begin
    out=$(/usr/bin/time -f "CPUTIME %U %S" sysbench "${args[@]}" --time="$DURATION" \
              --nonce="m$RANDOM$$" run 2>&1) || {
        echo "$out" >&2
        error "sysbench $script $* failed"
    }
    echo "$out" >>"$STATE/sysbench.log"
    cpu_end "$(sed -n 's/^ *transactions: *\([0-9]*\) .*/\1/p' <<<"$out")" "$(client_seconds "$out")"
    R_CPU_SVC=0
    tps=$(sed -n 's/^ *transactions: *[0-9]* *(\([0-9.]*\) per sec.*/\1/p' <<<"$out")
    errs=$(sed -n 's/^ *ignored errors: *\([0-9]*\).*/\1/p' <<<"$out")
    p99=$(sed -n 's/^ *99th percentile: *\([0-9.]*\).*/\1/p' <<<"$out")
    R_RPS=${tps:-0} R_P50=- R_P99=${p99:--} R_MAX=- R_ERR=${errs:-0} R_NOTE=
    [ "${errs:-0}" = 0 ] || error "sysbench $script: $errs errors"
    note "$(printf '%-16s c=%-4s %8.0f tx/s   p99 %s ms  errors %s  CPU µs/tx db %s client %s' \
        "sysbench $script $*" "$CONNS" "$R_RPS" "${p99:-?}" "$R_ERR" "$R_CPU_DB" "$R_CPU_CLIENT")"
}

# openloop_step PCT MAX_RPS: GET /users/{id} at a fixed rate of PCT % of
# MAX_RPS (the closed-loop maximum just measured) on $CONNS connections for
# $DURATION s, latency from each request's intended send time. A request
# unanswered 10 s after the last one was due is a timeout (an error).
OPEN=()        # "backend|pct|rate|achieved|p50|p99|p999|max|errors|cpu: svc db client"
openloop_step() {
    local pct=$1 max=$2 rate out line err
    rate=$(awk -v m="$max" -v p="$pct" 'BEGIN { printf "%d", m * p / 100 }')
    if [ "$rate" -lt 1 ]; then
        note "open loop at $pct %: no maximum measured, skipped"
        return
    fi
    reset_peak
    cpu_begin
    out=$(/usr/bin/time -f "CPUTIME %U %S" "$OPENLOOP" -p "$PORT" -r "$rate" -d "$DURATION" \
              -c "$CONNS" -n "$SEED_USERS" -t 10 2>&1) || true
    R_RSS=$(read_peak)
    echo "$out" >>"$STATE/openloop.log"
    line=$(grep '^OPENLOOP_RESULT' <<<"$out" || true)
    if [ -z "$line" ]; then
        echo "$out" >&2
        error "open loop at $rate req/s printed no result"
        return
    fi
    kv() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $line"; }
    cpu_end "$(kv completed)" "$(client_seconds "$out")"
    err=$(( $(kv non2xx) + $(kv sockerr) + $(kv timeouts) ))
    [ "$(kv non2xx)" = 0 ] || error "open loop at $rate req/s: $(kv non2xx) non-2xx (e.g. status $(kv bad_status))"
    [ "$(kv sockerr)" = 0 ] || error "open loop at $rate req/s: $(kv sockerr) socket errors"
    [ "$(kv timeouts)" = 0 ] || error "open loop at $rate req/s: $(kv timeouts) requests unanswered 10 s after the end"
    service_alive || error "usersvc died during the open loop at $rate req/s (see $SVC_LOG)"
    ms() { awk -v us="$1" 'BEGIN { printf "%.2f", us / 1000 }'; }
    OPEN+=("$CUR_BACKEND|$pct|$rate|$(kv achieved_rps)|$(ms "$(kv p50_us)")|$(ms "$(kv p99_us)")|$(ms "$(kv p999_us)")|$(ms "$(kv max_us)")|$err|$R_CPU_SVC $R_CPU_DB $R_CPU_CLIENT")
    note "$(printf '%-16s c=%-4s %8s req/s (%s %% of %.0f) achieved %s  p50 %s ms  p99 %s ms  p99.9 %s ms  errors %s  CPU µs/req svc %s db %s client %s' \
        "open loop" "$CONNS" "$rate" "$pct" "$max" "$(kv achieved_rps)" "$(ms "$(kv p50_us)")" \
        "$(ms "$(kv p99_us)")" "$(ms "$(kv p999_us)")" "$err" "$R_CPU_SVC" "$R_CPU_DB" "$R_CPU_CLIENT")"
}

# sqlite_commit_step: the durable-commit rate of one writer on this disk:
# sqlite3 autocommit INSERTs in WAL mode with synchronous=FULL, as the
# service's connections run. Not a target, the reference for POST on SQLite.
# The first commits grow the new WAL file (every fdatasync then also
# commits file-system metadata, 10x slower here); the service's WAL has long
# reached its steady size, overwritten in place after each checkpoint. So
# the timed commits come after enough untimed ones to wrap the WAL once
# (auto-checkpoint at 1000 pages, about 3 pages per commit).
sqlite_commit_step() {
    local n=$(( SHORT ? 200 : 1000 )) warm=400 file=$STATE/commit.db i total
    rm -f "$file" "$file-wal" "$file-shm"
    migrate "sqlite:$file"
    {
        echo "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
        for ((i = 1; i <= warm + n; i++)); do
            [ "$i" = $((warm + 1)) ] && echo ".timer on"
            echo "INSERT INTO users (login, first_name, last_name, created_at, updated_at) VALUES ('cli$i', 'Bench', 'User', '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');"
        done
    } >"$STATE/commit.sql"
    sqlite3 "$file" <"$STATE/commit.sql" >"$STATE/commit.out" 2>&1 \
        || error "sqlite3 commit reference failed: $(head -3 "$STATE/commit.out")"
    # ".timer on" prints "Run Time: real S user S sys S" per statement.
    total=$(awk '/^Run Time: real/ { t += $4; n++ } END { printf "%.6f %d", t, n }' "$STATE/commit.out")
    R_RPS=$(awk -v t="${total% *}" -v k="${total#* }" 'BEGIN { printf "%.1f", (t > 0) ? k / t : 0 }')
    R_P50=- R_P99=- R_ERR=0 R_NOTE="$n commits, 1 writer" R_CPU_SVC=- R_CPU_DB=- R_CPU_CLIENT=-
    rm -f "$file" "$file-wal" "$file-shm"
    note "$(printf '%-16s c=%-4s %10.0f commits/s (one writer, WAL, synchronous=FULL)' \
        "sqlite3 CLI" 1 "$R_RPS")"
}

# ---------------------------------------------------------------------------
# Results

RESULTS=()     # "backend|op|svc_rps|p50|p99|err|rss|limit_name|limit_rps|target|svc cpu: svc db client|limit cpu: db client"
SCALE=()       # "backend|conns|rps|p50|p99|rss|err|cpu svc"

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# pair BACKEND OP TARGET LIMIT_NAME SVC_FN LIMIT_FN: run usersvc and the
# limit ROUNDS times, alternating; keep the medians.
pair() {
    local backend=$1 op=$2 target=$3 limit_name=$4 svc_fn=$5 limit_fn=$6 r
    local s_rps=() s_p50=() s_p99=() s_max=() s_rss=() l_rps=() errs=0
    local c_svc=() c_db=() c_cl=() l_svc=() l_db=() l_cl=()
    for ((r = 1; r <= ROUNDS; r++)); do
        $svc_fn
        s_rps+=("$R_RPS") s_p50+=("$R_P50") s_p99+=("$R_P99") s_max+=("${R_MAX:--}") s_rss+=("$R_RSS")
        c_svc+=("$R_CPU_SVC") c_db+=("$R_CPU_DB") c_cl+=("$R_CPU_CLIENT")
        errs=$((errs + R_ERR))
        $limit_fn
        l_rps+=("$R_RPS")
        l_svc+=("$R_CPU_SVC") l_db+=("$R_CPU_DB") l_cl+=("$R_CPU_CLIENT")
        errs=$((errs + R_ERR))
    done
    m() { local v; v=$(echo "$*" | tr ' ' '\n' | grep -v '^-$' | tr '\n' ' '); [ -n "${v// /}" ] && echo "$v" | median | awk '{ printf "%.2f", $1 }' || echo -; }
    RESULTS+=("$backend|$op|$(echo "${s_rps[*]}" | median)|$(m "${s_p50[*]}")|$(m "${s_p99[*]}") / $(m "${s_max[*]}" | sed 's/\.00$//')|$errs|$(echo "${s_rss[*]}" | median)|$limit_name|$(echo "${l_rps[*]}" | median)|$target|$(m "${c_svc[*]}") $(m "${c_db[*]}") $(m "${c_cl[*]}")|$(m "${l_svc[*]}") $(m "${l_db[*]}") $(m "${l_cl[*]}")")
}

NONCE=$(printf '%x' "$(( $(date +%s) % 1000000 ))")
POST_N=0
svc_get() { wrk_step "$CONNS" get_random.lua "$SEED_USERS"; }
svc_get_token() { wrk_step "$CONNS" get_random.lua "$SEED_USERS" "$AUTH_TOKEN"; }
# The unauthenticated GET of the same backend, measured just before.
plain_get() { nothing; R_RPS=$PLAIN_GET_RPS; }
svc_post() { POST_N=$((POST_N + 1)); wrk_step "$CONNS" post_unique.lua "$NONCE$POST_N"; }
svc_healthz() { wrk_step "$CONNS" healthz.lua; }
# Issue 17: POST with an Idempotency-Key (bench/post_idem.lua).
svc_post_idem() { POST_N=$((POST_N + 1)); wrk_step "$CONNS" post_idem.lua "$NONCE$POST_N"; }
pg_select() { pgbench_step pg_select.sql; }
pg_insert() { pgbench_step pg_insert.sql; }
my_select() { sysbench_step mysql_select.lua; }
my_insert() { sysbench_step mysql_insert.lua --insert-mode=returning; }
my_insert2() { sysbench_step mysql_insert.lua --insert-mode=select; }
sqlite_commit() { sqlite_commit_step; }
nothing() { R_RPS=0 R_P50=- R_P99=- R_MAX=- R_ERR=0 R_RSS=0 R_NOTE='' R_CPU_SVC=- R_CPU_DB=- R_CPU_CLIENT=-; }

# The model's ceiling on this backend's server: GET /healthz (no database)
# on the same usersvc, $CONNS connections, medians of ROUNDS. On SQLite it
# is the GET pair's limit, measured alternately with it.
CEIL=()        # "backend|healthz rps|usersvc CPU µs/req of a /healthz|load generator's"
measure_ceiling() {
    local backend=$1 r line b op lrps lc rps=() cpu=() cl=()
    if [ "$backend" = sqlite ]; then
        for line in "${RESULTS[@]}"; do
            IFS='|' read -r b op _ _ _ _ _ _ lrps _ _ lc <<<"$line"
            [ "$b|$op" = "sqlite|GET /users/{id}" ] && CEIL+=("sqlite|$lrps|${lc%% *}|${lc##* }")
        done
        return 0
    fi
    for ((r = 1; r <= ROUNDS; r++)); do
        svc_healthz
        rps+=("$R_RPS") cpu+=("$R_CPU_SVC") cl+=("$R_CPU_CLIENT")
    done
    CEIL+=("$backend|$(echo "${rps[*]}" | median)|$(echo "${cpu[*]}" | tr ' ' '\n' | grep -v -- '^-$' | median)|$(echo "${cl[*]}" | tr ' ' '\n' | grep -v -- '^-$' | median)")
}

# Field @2 (1-based, after the backend) of backend @1's CEIL row.
ceil_of() {
    local line
    for line in "${CEIL[@]}"; do
        [ "${line%%|*}" = "$1" ] && { cut -d'|' -f"$2" <<<"$line"; return; }
    done
    echo 0
}

# usersvc req/s of the first RESULTS row of backend @1 whose request is
# @2 ("GET /users/{id}", "POST /users"), its limit's req/s, and the CPU µs
# per request of usersvc, the database and the load generator.
result_rps() {
    local line b op rps lrps sc
    for line in "${RESULTS[@]}"; do
        IFS='|' read -r b op rps _ _ _ _ _ lrps _ sc _ <<<"$line"
        if [ "$b" = "$1" ] && [ "$op" = "$2" ] && [ "$rps" != 0 ]; then
            echo "$rps $lrps $sc"
            return
        fi
    done
    echo "0 0 - - -"
}

bench_backend() {
    local backend=$1 url c before after line b op rps
    CUR_BACKEND=$backend
    log "$backend: create, migrate, seed $SEED_USERS users"
    url=$(prepare_database "$backend")
    before=$(count_users "$backend")
    [ "$before" = "$SEED_USERS" ] || error "$backend: seeded $before users, expected $SEED_USERS"
    start_service "$url" "$backend"
    note "usersvc pid $SVC_PID on $BASE_URL ($SVC); log $SVC_LOG"
    case "$backend" in
        postgres)
            log "postgres: GET and POST vs pgbench -M prepared ($CONNS clients, TCP loopback)"
            pair postgres "GET /users/{id}" 0.60 "pgbench SELECT" svc_get pg_select
            pair postgres "POST /users" 0.90 "pgbench INSERT … RETURNING" svc_post pg_insert
            ;;
        mysql)
            log "mysql: GET and POST vs sysbench (prepared statements, $CONNS threads, TCP loopback)"
            pair mysql "GET /users/{id}" 0.75 "sysbench SELECT" svc_get my_select
            pair mysql "POST /users" 0.75 "sysbench INSERT … RETURNING" svc_post my_insert
            pair mysql "POST /users" - "sysbench INSERT + SELECT (usersvc's statements)" nothing my_insert2
            ;;
        sqlite)
            log "sqlite: GET vs /healthz on the same server; POST vs one sqlite3 writer"
            pair sqlite "GET /users/{id}" 0.75 "usersvc GET /healthz" svc_get svc_healthz
            pair sqlite "POST /users" - "sqlite3 CLI durable commits (1 writer)" svc_post sqlite_commit
            ;;
    esac
    # ---- issue 17: POST with an Idempotency-Key next to POST without one,
    # measured alternately in this run (a keyed create runs a key lookup
    # and a two-statement transaction; an unkeyed one is unchanged).
    log "$backend: POST with an Idempotency-Key vs without"
    pair "$backend" "POST /users, Idempotency-Key" - "usersvc POST without a key" \
        svc_post_idem svc_post
    # ---- end of issue 17's block
    # The GET pair's usersvc req/s, for the bearer-token ratio below.
    PLAIN_GET_RPS=0
    for line in "${RESULTS[@]}"; do
        IFS='|' read -r b op rps _ <<<"$line"
        if [ "$b|$op" = "$backend|GET /users/{id}" ]; then
            PLAIN_GET_RPS=$rps
        fi
    done
    log "$backend: the ceiling (GET /healthz on the same server, $CONNS connections)"
    measure_ceiling "$backend"
    log "$backend: open loop, GET at 50 % and 80 % of the measured maximum (${PLAIN_GET_RPS%.*} req/s)"
    openloop_step 50 "$PLAIN_GET_RPS"
    openloop_step 80 "$PLAIN_GET_RPS"
    if [ -n "$SCALING" ]; then
        log "$backend: GET scaling ($SCALING connections)"
        for c in $SCALING; do
            wrk_step "$c" get_random.lua "$SEED_USERS"
            SCALE+=("$backend|$c|$R_RPS|$R_P50|$R_P99|$R_RSS|$R_ERR|$R_CPU_SVC")
        done
    fi
    if [ -n "$AUTH_TOKEN" ]; then
        # Issue 15: a client that reuses its bearer token pays a cache lookup,
        # not a signature check: GET with a token >= 0.9 x GET without auth.
        stop_service || error "$backend: usersvc exited with an error on SIGTERM"
        start_service "$url" "$backend-auth" --auth-jwks "$AUTH_DIR/jwks.json"
        log "$backend: GET with a bearer token (ES256, cached after its first use) vs without"
        pair "$backend" "GET /users/{id}, bearer token" 0.90 "usersvc GET without auth (above)" \
            svc_get_token plain_get
    fi
    after=$(count_users "$backend")
    note "$backend: $((after - before)) users created by the POST steps"
    if ! service_alive; then
        error "$backend: usersvc is not running at the end (crashed?)"
    fi
    if ! stop_service; then
        error "$backend: usersvc exited with an error on SIGTERM (see $SVC_LOG)"
    fi
    if grep -qE ' (ERROR|WARN) ' "$SVC_LOG"; then
        note "$backend: the service logged warnings/errors:"
        grep -E ' (ERROR|WARN) ' "$SVC_LOG" | sort | uniq -c | sort -rn | head -5 >&2
    fi
}

# ---------------------------------------------------------------------------
# TLS: the same server binary over HTTP and over HTTPS, side by side on one
# SQLite database (TLS does not depend on the backend), measured
# alternately: keep-alive GET /users/{id} over both, HTTPS /healthz (this
# server's TLS limit: TLS and HTTP with no database work), a new connection
# per request (handshakes per second), and openssl speed for the crypto a
# record and a handshake cost on one core.

TLS_ROWS=()    # "what|rps|p50|p99|err|cpu svc µs/req"
TLS_SPEED=     # "aead_records_per_s x25519_per_s ecdsa_sign_per_s"

tls_row() { TLS_ROWS+=("$1|$R_RPS|$R_P50|$R_P99|$R_ERR|$R_CPU_SVC"); }

# openssl speed, one core: AES-128-GCM on 256-byte records (records/s),
# X25519 key agreements/s, ECDSA P-256 signatures/s.
tls_speed() {
    local s=$(( SHORT ? 1 : 3 )) aead x ec
    aead=$(openssl speed -seconds "$s" -bytes 256 -evp aes-128-gcm 2>/dev/null \
           | awk '/^(aes-128-gcm|AES-128-GCM)/ { v = $NF; sub(/k$/, "", v); printf "%.0f", v * 1000 / 256 }')
    x=$(openssl speed -seconds "$s" ecdhx25519 2>/dev/null | awk '/ecdh \(X25519\)/ { print $NF }')
    ec=$(openssl speed -seconds "$s" ecdsap256 2>/dev/null | awk '/ecdsa \(nistp256\)/ { print $(NF-1) }')
    TLS_SPEED="${aead:--} ${x:--} ${ec:--}"
    note "openssl speed (one core): AES-128-GCM ${aead:-?} 256-byte records/s, X25519 ${x:-?}/s, ECDSA P-256 sign ${ec:-?}/s"
}

bench_tls() {
    local url dir=$STATE/tls r p_pid p_url t_pid t_url
    CUR_BACKEND=sqlite
    log "tls: HTTPS vs HTTP (one SQLite database, $CONNS connections), handshakes, openssl speed"
    mkdir -p "$dir"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -keyout "$dir/server.key" -out "$dir/server.pem" -subj "/CN=127.0.0.1" \
        -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null || { error "tls: openssl req failed"; return; }
    url=$(prepare_database sqlite)
    start_service "$url" tls-http
    p_pid=$SVC_PID p_url=$BASE_URL
    SVC_SCHEME=https SVC_CURL=(--cacert "$dir/server.pem")
    start_service "$url" tls-https --tls-cert "$dir/server.pem" --tls-key "$dir/server.key"
    SVC_SCHEME=http SVC_CURL=()
    t_pid=$SVC_PID t_url=$BASE_URL
    note "HTTP pid $p_pid on $p_url, HTTPS pid $t_pid on $t_url"
    for ((r = 1; r <= ROUNDS; r++)); do
        SVC_PID=$p_pid BASE_URL=$p_url
        svc_get; tls_row "HTTP keep-alive GET /users/{id}"
        SVC_PID=$t_pid BASE_URL=$t_url
        svc_get; tls_row "HTTPS keep-alive GET /users/{id}"
        svc_healthz; tls_row "HTTPS keep-alive GET /healthz (TLS limit of this server)"
        wrk_step "$CONNS" healthz.lua close; tls_row "HTTPS new connection per request (handshakes)"
        SVC_PID=$p_pid BASE_URL=$p_url
        wrk_step "$CONNS" healthz.lua close; tls_row "HTTP new connection per request"
    done
    tls_speed
    for SVC_PID in $p_pid $t_pid; do
        service_alive || error "tls: usersvc $SVC_PID is not running at the end (crashed?)"
        stop_service || error "tls: usersvc exited with an error on SIGTERM"
    done
}

# The median req/s (and the rest of its row) of step WHAT.
tls_median() {
    local what=$1 line rps=()
    for line in "${TLS_ROWS[@]}"; do
        [ "${line%%|*}" = "$what" ] && rps+=("$(cut -d'|' -f2 <<<"$line")")
    done
    [ ${#rps[@]} -gt 0 ] && echo "${rps[*]}" | median || echo 0
}

# usersvc CPU µs/request of the first HTTP GET row over the first HTTPS one.
tls_cpu_ratio() {
    local line h='' t=''
    for line in "${TLS_ROWS[@]}"; do
        case "$line" in
            "HTTP keep-alive GET /users/{id}|"*) [ -n "$h" ] || h=${line##*|} ;;
            "HTTPS keep-alive GET /users/{id}|"*) [ -n "$t" ] || t=${line##*|} ;;
        esac
    done
    awk -v h="$h" -v t="$t" 'BEGIN { if (h == "" || t == "" || h == "-" || t == "-" || t == 0) print "-"; else printf "%.2f (%s vs %s µs)", h / t, h, t }'
}

tls_report() {
    local line what rps p50 p99 err cpu http https limit hs aead x ec
    [ ${#TLS_ROWS[@]} -gt 0 ] || return 0
    echo
    echo "## HTTPS (usersvc over TLS 1.3, AES-128-GCM, ECDSA P-256; SQLite; $CONNS connections)"
    echo
    echo "| step | req/s | p50 ms | p99 ms | errors | usersvc CPU µs/req |"
    echo "|---|---:|---:|---:|---:|---:|"
    for line in "${TLS_ROWS[@]}"; do
        IFS='|' read -r what rps p50 p99 err cpu <<<"$line"
        printf '| %s | %.0f | %s | %s | %s | %s |\n' "$what" "$rps" "$p50" "$p99" "$err" "$cpu"
    done
    http=$(tls_median "HTTP keep-alive GET /users/{id}")
    https=$(tls_median "HTTPS keep-alive GET /users/{id}")
    limit=$(tls_median "HTTPS keep-alive GET /healthz (TLS limit of this server)")
    hs=$(tls_median "HTTPS new connection per request (handshakes)")
    read -r aead x ec <<<"$TLS_SPEED"
    echo
    echo "- HTTPS keep-alive GET / plain HTTP GET: **$(fmt_ratio "$https" "$http")**"
    echo "  (usersvc's own CPU per request, HTTP over HTTPS: $(tls_cpu_ratio); the rest of the gap is the load generator's TLS work on the same cores)"
    echo "- HTTPS keep-alive GET / HTTPS /healthz (the TLS limit measured here): **$(fmt_ratio "$https" "$limit")**"
    printf -- '- handshakes per second (full handshakes: no resumption): **%.0f**\n' "$hs"
    echo "- openssl speed, one core: AES-128-GCM $aead records/s of 256 bytes; X25519 $x/s; ECDSA P-256 $ec signatures/s."
    if [ "$x" != - ] && [ "$ec" != - ]; then
        echo "  A server's handshake needs one X25519 key pair and agreement (~2 X25519 operations) and one signature:"
        echo "  at most $(awk -v x="$x" -v e="$ec" 'BEGIN { printf "%.0f", 1 / (2 / x + 1 / e) }') handshakes/s per core for the crypto alone, $(awk -v x="$x" -v e="$ec" -v n="$(nproc)" 'BEGIN { printf "%.0f", n / (2 / x + 1 / e) }') on $(nproc) cores shared with the load generator."
    fi
}

# The model's ceiling: every backend's GET and POST over usersvc's own
# GET /healthz on the same server (target: GET >= 0.75).
ceiling_report() {
    local b get post ceil cpu hcl g_svc g_db g_cl
    [ ${#CEIL[@]} -gt 0 ] || return 0
    echo
    echo "## The model's ceiling: usersvc's own \`GET /healthz\` ($CONNS connections, same server, same run)"
    echo
    echo "\`/healthz\` does no database work: the most a request can reach in the"
    echo "thread-per-connection model on this host at this moment."
    echo
    echo "The CPU-cost ratio compares CPU per request, all processes counted: a"
    echo "\`/healthz\` (usersvc + load generator) over a GET (usersvc + database + load"
    echo "generator); it moves far less than req/s with the host's other load."
    echo
    echo "| backend | /healthz req/s | CPU µs per /healthz: usersvc, load generator | GET req/s | GET ÷ /healthz | target | CPU-cost ratio | POST req/s | POST ÷ /healthz |"
    echo "|---|---:|---:|---:|---:|---|---:|---:|---:|"
    for b in $BACKENDS; do
        ceil=$(ceil_of "$b" 2)
        cpu=$(ceil_of "$b" 3)
        hcl=$(ceil_of "$b" 4)
        read -r get _ g_svc g_db g_cl <<<"$(result_rps "$b" "GET /users/{id}")"
        read -r post _ <<<"$(result_rps "$b" "POST /users")"
        printf '| %s | %.0f | %s, %s | %.0f | **%s** | ≥ 0.75: %s | %s | %.0f | %s |\n' "$b" "$ceil" \
            "${cpu:--}" "${hcl:--}" "$get" "$(fmt_ratio "$get" "$ceil")" \
            "$(verdict "$(fmt_ratio "$get" "$ceil")" 0.75)" \
            "$(awk -v a="$cpu" -v b="$hcl" -v s="$g_svc" -v d="$g_db" -v c="$g_cl" 'BEGIN { if (a == "" || b == "" || s == "-" || d == "-" || c == "-" || s + d + c == 0) print "-"; else printf "%.2f", (a + b) / (s + d + c) }')" \
            "$post" "$(fmt_ratio "$post" "$ceil")"
    done
}

open_report() {
    local line b pct rate got p50 p99 p999 max err cpu svc db cl
    [ ${#OPEN[@]} -gt 0 ] || return 0
    echo
    echo "## Open loop: \`GET /users/{id}\` at a fixed rate ($CONNS connections, latency from the intended send time)"
    echo
    echo "bench/openloop.c sends request k at t0 + k / rate whatever came back before, and"
    echo "measures each from that moment: queueing in the client counts (no coordinated omission)."
    echo
    echo "| backend | % of max | rate req/s | achieved | p50 ms | p99 ms | p99.9 ms | max ms | errors | CPU µs/req usersvc | database | load generator |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for line in "${OPEN[@]}"; do
        IFS='|' read -r b pct rate got p50 p99 p999 max err cpu <<<"$line"
        read -r svc db cl <<<"$cpu"
        printf '| %s | %s %% | %s | %.0f | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$b" "$pct" "$rate" \
            "$got" "$p50" "$p99" "$p999" "$max" "$err" "$svc" "$db" "$cl"
    done
}

# plot_scaling BASE: BASE.svg and BASE.png, req/s and p99 of the scaling
# table (8 connections and up) per backend, with the /healthz ceiling and
# the database's GET limit (measured at $CONNS connections) as flat lines.
PLOT_NAME=
plot_scaling() {
    local base=$1 dir=$STATE/plot b line bb c rps p50 p99 ceil limit color=0 tput='' lat='' xt=''
    local -A seen=()
    [ ${#SCALE[@]} -gt 0 ] || return 0
    if ! command -v gnuplot >/dev/null; then
        note "gnuplot is missing (apt-get install gnuplot-nox): no plot"
        return 0
    fi
    mkdir -p "$dir"
    for b in $BACKENDS; do
        : >"$dir/$b.dat"
        for line in "${SCALE[@]}"; do
            IFS='|' read -r bb c rps p50 p99 _ <<<"$line"
            [ "$bb" = "$b" ] && [ "$c" -ge 8 ] || continue
            echo "$c $rps $p99" >>"$dir/$b.dat"
            [ -n "${seen[$c]:-}" ] || { seen[$c]=1; xt="${xt:+$xt, }$c"; }
        done
        [ -s "$dir/$b.dat" ] || continue
        color=$((color + 1))
        ceil=$(ceil_of "$b" 2)
        read -r _ limit _ <<<"$(result_rps "$b" "GET /users/{id}")"
        tput="${tput:+$tput, }'$dir/$b.dat' using 1:2 with linespoints lw 2 pt 7 lc $color title '$b GET'"
        tput="$tput, $ceil with lines dt 2 lw 1.5 lc $color title '$b /healthz (ceiling, c=$CONNS)'"
        if [ "$b" != sqlite ] && [ "${limit%.*}" -gt 0 ]; then
            tput="$tput, $limit with lines dt 3 lw 1.5 lc $color title '$b database limit (c=$CONNS)'"
        fi
        lat="${lat:+$lat, }'$dir/$b.dat' using 1:3 with linespoints lw 2 pt 7 lc $color title '$b GET p99'"
    done
    [ -n "$tput" ] || return 0
    local common
    common="set multiplot layout 2,1 title 'usersvc GET /users/{id}, commit $COMMIT, $(date -u '+%Y-%m-%d %H:%M UTC')'
set lmargin 10
set rmargin at screen 0.62
set logscale x 2
set xrange [6:700]
set xtics ($xt)
set grid
set key outside right top
set xlabel 'connections'
set ylabel 'req/s'
set yrange [0:*]
set offsets 0, 0, graph 0.08, 0
plot $tput
set offsets 0, 0, 0, 0
set ylabel 'p99 ms'
set logscale y
set yrange [*:*]
plot $lat
unset multiplot"
    if printf 'set terminal svg size 1100,900 dynamic noenhanced background rgb "white"\nset output "%s.svg"\n%s\n' "$base" "$common" | gnuplot 2>"$dir/gnuplot.err" &&
       printf 'set terminal pngcairo size 1100,900 noenhanced\nset output "%s.png"\n%s\n' "$base" "$common" | gnuplot 2>>"$dir/gnuplot.err" &&
       [ -s "$base.svg" ] && [ -s "$base.png" ]; then
        PLOT_NAME=$(basename "$base")
        note "plot: $base.svg, $base.png"
    else
        cat "$dir/gnuplot.err" >&2
        error "gnuplot could not draw the scaling plot"
    fi
}

fmt_ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
verdict() {
    awk -v r="$1" -v t="$2" 'BEGIN { if (t == "-" || r == "-") print "—"; else if (r + 0 >= t + 0) print "met"; else print "MISSED" }'
}

report() {
    local line b op rps p50 p99 err rss lname lrps target ratio
    echo "# usersvc benchmark — $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "- mode: $([ "$SHORT" = 1 ] && echo "short (smoke)" || echo full); $CONNS connections; ${WARMUP} s warm-up + ${DURATION} s per step; $ROUNDS round(s), medians"
    echo "- host: $(nproc) CPUs ($(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo); load average at start $LOAD_START, at end $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- usersvc: \`$SVC\` ($( [ -n "$BINARY" ] && echo "given binary" || echo "meson release build")), commit $COMMIT, LOG_LEVEL=$SVC_LOG_LEVEL, extra flags: \`--max-connections 2048 ${SERVE_ARGS}\`"
    echo "- load: wrk $(wrk -v 2>&1 | sed -n 's/^wrk \([^ ]*\).*/\1/p' | head -1) (keep-alive, 2 threads); limits: $(has_backend postgres && pgbench --version | head -1); $(has_backend mysql && sysbench --version | head -1); servers: $(has_backend postgres && psql "$PG_ADMIN_URL" -X -A -t -c 'SHOW server_version' 2>/dev/null | head -1 | sed 's/^/PostgreSQL /'); $(has_backend mysql && my_client -N -e 'SELECT VERSION()' 2>/dev/null | sed 's/^/MariaDB /'); SQLite $(sqlite3 --version | cut -d' ' -f1)"
    echo
    echo "## usersvc vs the limit ($CONNS connections)"
    echo
    echo "| backend | request | usersvc req/s | p50 ms | p99 / max ms | errors | peak RSS | limit | limit/s | ratio | target |"
    echo "|---|---|---:|---:|---:|---:|---:|---|---:|---:|---|"
    for line in "${RESULTS[@]}"; do
        IFS='|' read -r b op rps p50 p99 err rss lname lrps target _ _ <<<"$line"
        if [ "$rps" = "0" ]; then
            printf '| %s | %s | | | | %s | | %s | %.0f | | |\n' "$b" "$op" "$err" "$lname" "$lrps"
            continue
        fi
        ratio=$(fmt_ratio "$rps" "$lrps")
        printf '| %s | %s | %.0f | %s | %s | %s | %.1f MiB | %s | %.0f | %s | %s |\n' "$b" "$op" \
            "$rps" "$p50" "$p99" "$err" "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')" \
            "$lname" "$lrps" "$ratio" \
            "$( [ "$target" = - ] && echo "report" || echo "≥ $target: $(verdict "$ratio" "$target")")"
    done
    echo
    echo "Peak RSS at $CONNS connections (target ≤ 32 MiB): $(for line in "${RESULTS[@]}"; do
        IFS='|' read -r b op rps p50 p99 err rss _ <<<"$line"
        [ "$rps" = 0 ] && continue
        printf '%s %s %.1f MiB (%s); ' "$b" "${op%% *}" "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')" \
            "$(awk -v k="$rss" 'BEGIN { print (k <= 32768) ? "met" : "MISSED" }')"
    done)"
    ceiling_report
    echo
    echo "## Where the CPU goes (µs of CPU time per request)"
    echo
    echo "On a 2-core host that also runs the load generator and the database, req/s"
    echo "follows CPU cost: the *CPU-cost ratio* (limit's CPU per operation over"
    echo "usersvc's, all processes counted) is the throughput ratio a dedicated"
    echo "CPU-bound host would show, and it moves far less with other load than req/s."
    echo
    echo "| backend | request | usersvc | database | load generator | total | limit: service | limit: database | limit: client | limit total | CPU-cost ratio |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for line in "${RESULTS[@]}"; do
        local sc lc s_svc s_db s_cl l_svc l_db l_cl tot ltot
        IFS='|' read -r b op rps p50 p99 err rss lname lrps target sc lc <<<"$line"
        read -r s_svc s_db s_cl <<<"$sc"
        read -r l_svc l_db l_cl <<<"$lc"
        tot=$(awk -v a="$s_svc" -v b="$s_db" -v c="$s_cl" 'BEGIN { if (a == "-" || b == "-" || c == "-") print "-"; else printf "%.1f", a + b + c }')
        ltot=$(awk -v a="$l_svc" -v b="$l_db" -v c="$l_cl" 'BEGIN { if (a == "-" || b == "-" || c == "-") print "-"; else printf "%.1f", a + b + c }')
        [ "$rps" = 0 ] && tot=-
        printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$b" "$op" \
            "$( [ "$rps" = 0 ] && echo || echo "$s_svc")" "$( [ "$rps" = 0 ] && echo || echo "$s_db")" \
            "$( [ "$rps" = 0 ] && echo || echo "$s_cl")" "$tot" "$l_svc" "$l_db" "$l_cl" "$ltot" \
            "$(awk -v t="$tot" -v l="$ltot" 'BEGIN { if (t == "-" || l == "-" || t == 0) print "-"; else printf "%.2f", l / t }')"
    done
    open_report
    if [ ${#SCALE[@]} -gt 0 ]; then
        echo
        echo "## GET /users/{id} scaling"
        echo
        if [ -n "$PLOT_NAME" ]; then
            echo "![throughput and p99 against connections]($PLOT_NAME.svg)"
            echo "([SVG]($PLOT_NAME.svg), [PNG]($PLOT_NAME.png): req/s and p99 against connections per backend,"
            echo "with each backend's \`/healthz\` ceiling and database limit at $CONNS connections as flat lines)"
            echo
        fi
        echo "| backend | connections | req/s | p50 ms | p99 ms | peak RSS | errors | usersvc CPU µs/req |"
        echo "|---|---:|---:|---:|---:|---:|---:|---:|"
        for line in "${SCALE[@]}"; do
            IFS='|' read -r b c rps p50 p99 rss err cpu <<<"$line"
            printf '| %s | %s | %.0f | %s | %s | %.1f MiB | %s | %s |\n' "$b" "$c" "$rps" "$p50" "$p99" \
                "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')" "$err" "$cpu"
        done
        echo
        echo "Per-connection memory (peak RSS at the largest minus the smallest step, per extra connection):"
        for b in $BACKENDS; do
            local lo_c='' lo_r='' hi_c='' hi_r=''
            for line in "${SCALE[@]}"; do
                IFS='|' read -r bb c rps p50 p99 rss err _ <<<"$line"
                [ "$bb" = "$b" ] || continue
                if [ -z "$lo_c" ] || [ "$c" -lt "$lo_c" ]; then lo_c=$c lo_r=$rss; fi
                if [ -z "$hi_c" ] || [ "$c" -gt "$hi_c" ]; then hi_c=$c hi_r=$rss; fi
            done
            [ -n "$lo_c" ] && [ "$hi_c" -gt "$lo_c" ] && printf -- '- %s: %.1f KiB per connection (%s → %s connections)\n' "$b" \
                "$(awk -v a="$hi_r" -v b="$lo_r" -v n=$((hi_c - lo_c)) 'BEGIN { print (a - b) / n }')" "$lo_c" "$hi_c"
        done
    fi
    tls_report
    echo
    if [ "$ERRORS" -eq 0 ]; then
        echo "Errors: none (no non-2xx response, no socket error, no crash, no tool failure)."
    else
        echo "Errors: $ERRORS"
        for line in "${ERROR_LINES[@]}"; do echo "- $line"; done
    fi
}

# ---------------------------------------------------------------------------

trap cleanup EXIT
trap 'echo "bench: interrupted" >&2; exit 130' INT TERM

deps
build
command -v wrk >/dev/null || die "wrk is missing"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
# The commit measured, and whether the tree differed from it, as at the
# start (the run's own results files must not count as local changes).
COMMIT="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo ?)$( [ -n "$(git -C "$ROOT" status --porcelain 2>/dev/null | head -1)" ] && echo " + local changes" || true)"
start_state
openloop_build
# Bearer-token keys and one token for the authenticated GET step (PyJWT, as
# the tests mint them); without python3-jwt that step is left out.
AUTH_TOKEN=
AUTH_DIR=$STATE/auth
# shellcheck source=tests/auth/python.sh
if . "$ROOT/tests/auth/python.sh" && "$JWT_PYTHON" "$ROOT/tests/auth/mint.py" keys "$AUTH_DIR"; then
    AUTH_TOKEN=$("$JWT_PYTHON" "$ROOT/tests/auth/mint.py" token "$AUTH_DIR" --key ec \
        --scope "users:read" --exp 86400)
else
    note "no python3 with PyJWT: the bearer-token GET step is skipped"
fi
start_servers
for b in sqlite postgres mysql; do
    has_backend "$b" && bench_backend "$b"
done
bench_tls

log "plot"
if [ -n "$REPORT" ]; then
    mkdir -p "$(dirname "$REPORT")"
    plot_scaling "${REPORT%.md}"
else
    plot_scaling "$STATE/scaling"
    PLOT_NAME=   # in $STATE, gone at exit: not linked
fi

log "report"
TEXT=$(report)
echo "$TEXT"
if [ -n "$REPORT" ]; then
    mkdir -p "$(dirname "$REPORT")"
    printf '%s\n' "$TEXT" >"$REPORT.tmp" && mv "$REPORT.tmp" "$REPORT"
    echo >&2
    echo "bench: report written to $REPORT" >&2
fi
if [ "$ERRORS" -gt 0 ]; then
    echo "bench: FAILED with $ERRORS error(s)" >&2
    exit 1
fi
echo "bench: OK (no errors)" >&2
