# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# Helpers for the scale-out / high-availability tests (issue 8): sourced by
# tests/ha/*.sh.
#
# Everything generic (TAP output, $TMP, new_database on the throwaway
# PostgreSQL server of $USERSVC_TEST_PG_URL, cleanup by trap) comes from
# tests/e2e/lib.sh. This file adds what several usersvc instances, a load
# balancer and database clusters of our own need:
#
#   - instances: inst_start NAME ARGS..., inst_term NAME, inst_wait_exit NAME S,
#     inst_port NAME, inst_pid NAME (any number of usersvc processes at once);
#   - background load workers (load_worker) bounded in requests and in time,
#     stopped by a stop file, each request one line in $TMP/load.W:
#       "T0_MS T1_MS STATUS RETRY_AFTER METHOD LOGIN ID"
#     (STATUS 000 when no response came: refused, reset or timed out);
#   - PostgreSQL servers run as an unprivileged user (as_owner, pg_owner_dir),
#     because PostgreSQL refuses to run as root;
#   - cleanup that ends only what this test started, by PID or by the process
#     group id of a process it started with setsid.
#
# Environment, besides lib.sh's (USERSVC_BIN, USERSVC_TEST_PG_URL, USERSVC_TEST_KEEP):
#   USERSVC_TEST_STATE   state dir of the throwaway servers (scripts/test.sh).
#   PG_BINDIR            PostgreSQL server binaries (default: newest /usr/lib/postgresql/*/bin).

export USERSVC_TEST_BACKEND=postgres
HA_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../e2e/lib.sh
. "$HA_DIR/../e2e/lib.sh"
unset DATABASE_READ_URL DRAIN_MS

# Our own EXIT trap runs first, then lib.sh's (_finish reads $? first thing).
# shellcheck disable=SC2154
trap '_ha_rc=$?; _ha_cleanup; (exit $_ha_rc); _finish' EXIT

# The private area for servers that run as another user: $TMP is ours only.
HA_ROOT=$(mktemp -d /tmp/usersvc-ha.XXXXXX) || bail "mktemp"
chmod 755 "$HA_ROOT"
STOP_FILE=$TMP/workers.stop
HA_RUN_AS=usersvc-test
HA_WORKERS=()          # PIDs of load workers (children of this shell)
HA_GROUPS=()           # process group ids started with setsid (database nodes)
HA_PGCTL_DIRS=()       # data directories started with pg_ctl (stopped at exit)
HA_PG_STATES=()        # state dirs of private tests/db/pg.sh servers
declare -A INST_PID=() INST_PORT=() INST_N=()

# ---------------------------------------------------------------------------
# Time

# Milliseconds since the epoch, without forking: sets NOW_MS.
now() {
    local t=${EPOCHREALTIME//[.,]/}
    NOW_MS=$((t / 1000))
}

# ---------------------------------------------------------------------------
# usersvc instances

# inst_launch NAME ARGS...: starts "usersvc ARGS..." (ARGS normally begin
# with serve) in the background and returns at once; inst_ready NAME waits
# for its "listening on" line and /healthz. inst_start NAME ARGS... does both.
# The same NAME may be started again after it exited (a restart).
inst_launch() {
    local name=$1
    shift
    [ -x "$USERSVC_BIN" ] || bail "no executable $USERSVC_BIN (build first)"
    INST_N[$name]=$(( ${INST_N[$name]:-0} + 1 ))
    INST_PORT[$name]=
    "$USERSVC_BIN" "$@" >"$TMP/inst.$name.${INST_N[$name]}.out" \
        2>"$TMP/inst.$name.${INST_N[$name]}.log" </dev/null &
    INST_PID[$name]=$!
}

inst_ready() {
    local name=$1 i port='' code log
    log=$TMP/inst.$name.${INST_N[$name]}.log
    for i in $(seq 1 200); do
        port=$(grep -Eo 'listening on http://127\.0\.0\.1:[0-9]+' "$log" 2>/dev/null \
               | head -n 1 | sed 's/.*://')
        [ -n "$port" ] && break
        if ! kill -0 "${INST_PID[$name]}" 2>/dev/null; then
            wait "${INST_PID[$name]}"
            code=$?
            INST_PID[$name]=
            diag "instance $name exited with status $code before listening:"
            diag "$(tail -n 15 "$log")"
            return 1
        fi
        sleep 0.1
    done
    [ -n "$port" ] || { diag "instance $name: no 'listening on' line in 20 s"; return 1; }
    INST_PORT[$name]=$port
    for i in $(seq 1 50); do
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
            "http://127.0.0.1:$port/healthz" 2>/dev/null)
        [ "$code" = 200 ] && return 0
        sleep 0.1
    done
    diag "instance $name: /healthz answered '$code'"
    return 1
}

inst_start() {
    inst_launch "$@"
    inst_ready "$1"
}

inst_pid() { echo "${INST_PID[$1]:-}"; }
inst_port() { echo "${INST_PORT[$1]:-}"; }
inst_log() { echo "$TMP/inst.$1.${INST_N[$1]}.log"; }

inst_alive() {
    [ -n "${INST_PID[$1]:-}" ] && kill -0 "${INST_PID[$1]}" 2>/dev/null
}

inst_term() {
    [ -n "${INST_PID[$1]:-}" ] && kill -TERM "${INST_PID[$1]}" 2>/dev/null
}

# inst_wait_exit NAME SECONDS: waits for the instance to exit; sets
# INST_CODE to its exit status (or "timeout", after which it is killed).
inst_wait_exit() {
    local name=$1 limit=$2 pid=${INST_PID[$1]:-} i
    INST_CODE=
    [ -n "$pid" ] || { INST_CODE=none; return 1; }
    for i in $(seq 1 $((limit * 20))); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        INST_PID[$name]=
        INST_CODE=timeout
        return 1
    fi
    wait "$pid"
    INST_CODE=$?
    INST_PID[$name]=
    [ "$INST_CODE" = 0 ]
}

# ---------------------------------------------------------------------------
# Load

# load_worker W URL MAX_REQUESTS DEADLINE_MS MAX_TIME_S [GET_ID]: until the
# stop file, MAX_REQUESTS requests or the deadline, alternately POSTs a new
# user (login hW_N) and GETs the user it created last (or GET_ID before the
# first 201). One line per request in $TMP/load.W:
#   "T0_MS T1_MS STATUS RETRY_AFTER METHOD LOGIN ID [VALUE]"
# With LOAD_MIX=1 (issue 18) each worker cycles through every kind of
# request on a user of its own: POST, GET, PATCH (first_name = VALUE, once
# per user), a list page (METHOD LIST), and DELETE of every second user
# (the others stay); a step that has no user of its own (its POST failed,
# or it was deleted) POSTs instead. check_acknowledged checks the outcome.
# ra_of RETRY_AFTER: its digits, or "-".
ra_of() {
    local r=${1//[^0-9]/}
    echo "${r:--}"
}

load_worker() {
    local w=$1 url=$2 max=$3 deadline=$4 maxt=$5 last_id=${6:-} i=0 t0 out code ra loc id login
    local f=$TMP/load.$w mix=${LOAD_MIX:-0} cur='' cur_login='' step=0 users=0 val
    : >"$f"
    while [ ! -e "$STOP_FILE" ] && [ "$i" -lt "$max" ]; do
        now
        [ "$NOW_MS" -lt "$deadline" ] || break
        t0=$NOW_MS
        i=$((i + 1))
        if [ "$mix" = 1 ]; then
            [ -n "$cur" ] || step=0
            case $step in
                0)  login="h${w}n$i"
                    out=$(curl -s -o /dev/null --max-time "$maxt" -X POST \
                        -H 'Content-Type: application/json' --data-binary "{\"login\":\"$login\"}" \
                        -w '%{http_code}|%header{retry-after}|%header{location}' "$url/users" 2>/dev/null)
                    IFS='|' read -r code ra loc <<<"$out"
                    id=${loc##*/}
                    id=${id//[^0-9]/}
                    if [ "${code:-000}" = 201 ] && [ -n "$id" ]; then
                        cur=$id cur_login=$login step=1 users=$((users + 1))
                    fi
                    now
                    echo "$t0 $NOW_MS ${code:-000} $(ra_of "$ra") POST $login ${id:--}" >>"$f" ;;
                1|3)
                    if [ "$step" = 1 ]; then
                        out=$(curl -s -o /dev/null --max-time "$maxt" \
                            -w '%{http_code}|%header{retry-after}' "$url/users/$cur" 2>/dev/null)
                        method=GET
                    else
                        out=$(curl -s -o /dev/null --max-time "$maxt" \
                            -w '%{http_code}|%header{retry-after}' \
                            "$url/users?after=$((cur - 1))&limit=5" 2>/dev/null)
                        method=LIST
                    fi
                    IFS='|' read -r code ra <<<"$out"
                    now
                    echo "$t0 $NOW_MS ${code:-000} $(ra_of "$ra") $method $cur_login $cur" >>"$f"
                    step=$((step + 1)) ;;
                2)  val="p${w}x$i"
                    out=$(curl -s -o /dev/null --max-time "$maxt" -X PATCH \
                        -H 'Content-Type: application/merge-patch+json' \
                        --data-binary "{\"first_name\":\"$val\"}" \
                        -w '%{http_code}|%header{retry-after}' "$url/users/$cur" 2>/dev/null)
                    IFS='|' read -r code ra <<<"$out"
                    now
                    echo "$t0 $NOW_MS ${code:-000} $(ra_of "$ra") PATCH $cur_login $cur $val" >>"$f"
                    step=3 ;;
                4)  if [ $((users % 2)) = 0 ]; then
                        out=$(curl -s -o /dev/null --max-time "$maxt" -X DELETE \
                            -w '%{http_code}|%header{retry-after}' "$url/users/$cur" 2>/dev/null)
                        IFS='|' read -r code ra <<<"$out"
                        now
                        echo "$t0 $NOW_MS ${code:-000} $(ra_of "$ra") DELETE $cur_login $cur" >>"$f"
                    else
                        i=$((i - 1))
                    fi
                    cur='' step=0 ;;
            esac
            continue
        fi
        if [ $((i % 2)) = 1 ] || [ -z "$last_id" ]; then
            login="h${w}n$i"
            out=$(curl -s -o /dev/null --max-time "$maxt" -X POST \
                -H 'Content-Type: application/json' --data-binary "{\"login\":\"$login\"}" \
                -w '%{http_code}|%header{retry-after}|%header{location}' "$url/users" 2>/dev/null)
            IFS='|' read -r code ra loc <<<"$out"
            id=${loc##*/}
            id=${id//[^0-9]/}
            [ "${code:-000}" = 201 ] && [ -n "$id" ] && last_id=$id
            now
            ra=${ra//[^0-9]/}
            echo "$t0 $NOW_MS ${code:-000} ${ra:--} POST $login ${id:--}" >>"$f"
        else
            out=$(curl -s -o /dev/null --max-time "$maxt" \
                -w '%{http_code}|%header{retry-after}' "$url/users/$last_id" 2>/dev/null)
            IFS='|' read -r code ra <<<"$out"
            now
            ra=${ra//[^0-9]/}
            echo "$t0 $NOW_MS ${code:-000} ${ra:--} GET - $last_id" >>"$f"
        fi
    done
}

# check_acknowledged: after a LOAD_MIX=1 load (load_stop done), checks in
# the database (db_exec) that no acknowledged write was lost: every user
# created (201) and not deleted (204) exists, with the first_name of its
# acknowledged PATCH (200); no user deleted with 204 exists. A write that
# got no answer or a 503 may or may not have happened: not checked. Prints
# "created N, patched N, deleted N, lost N"; returns non-zero when lost > 0.
check_acknowledged() {
    local rows lost
    db_exec "SELECT concat(login, ' ', id, ' ', coalesce(first_name, '-')) FROM users WHERE login LIKE 'h%n%'" \
        >"$TMP/ack.db" 2>"$TMP/ack.err" || { diag_file db_exec "$TMP/ack.err"; return 1; }
    awk '
        FNR == NR { have[$1] = $3; next }
        $5 == "POST" && $3 == 201 { made[$6] = 1 }
        $5 == "PATCH" && $3 == 200 { patched[$6] = $8 }
        $5 == "DELETE" && $3 == 204 { gone[$6] = 1 }
        $5 == "DELETE" && $3 != 204 { maybe_gone[$6] = 1 }
        END {
            lost = 0; np = 0; nd = 0; nc = 0
            for (l in made) {
                nc++
                if (l in gone) { nd++; if (l in have) { print "# deleted (204) but present: " l; lost++ } ; continue }
                if (!(l in have)) {
                    if (!(l in maybe_gone)) { print "# created (201) but missing: " l; lost++ }
                    continue
                }
                if (l in patched) { np++; if (have[l] != patched[l]) { print "# PATCH " patched[l] " acknowledged, found " have[l] ": " l; lost++ } }
            }
            printf "created %d, patched %d, deleted %d, lost %d\n", nc, np, nd, lost
            exit lost > 0
        }' "$TMP/ack.db" "$TMP/load.all"
}

# load_start N URL MAX_REQUESTS SECONDS MAX_TIME_S [GET_ID]: N workers.
# URL may be several, separated by spaces: worker W gets the W-th, round robin.
load_start() {
    local n=$1 max=$3 secs=$4 maxt=$5 get_id=${6:-} w urls
    read -r -a urls <<<"$2"
    rm -f "$STOP_FILE" "$TMP"/load.*
    now
    for w in $(seq 1 "$n"); do
        load_worker "$w" "${urls[$(( (w - 1) % ${#urls[@]} ))]}" "$max" \
            $((NOW_MS + secs * 1000)) "$maxt" "$get_id" &
        HA_WORKERS+=($!)
    done
}

# load_stop [SECONDS]: stop file, bounded wait, then kill by PID.
load_stop() {
    local limit=${1:-15} pid i alive
    touch "$STOP_FILE"
    for i in $(seq 1 $((limit * 10))); do
        alive=0
        for pid in "${HA_WORKERS[@]}"; do
            kill -0 "$pid" 2>/dev/null && alive=1
        done
        [ "$alive" = 0 ] && break
        sleep 0.1
    done
    for pid in "${HA_WORKERS[@]}"; do
        kill -0 "$pid" 2>/dev/null && { echo "# worker $pid still running; killing it"; kill -TERM "$pid"; }
        wait "$pid" 2>/dev/null
    done
    HA_WORKERS=()
    cat "$TMP"/load.[0-9]* 2>/dev/null | sort -n >"$TMP/load.all"
}

# status_counts: "200=12 201=12 503=4" over $TMP/load.all.
status_counts() {
    awk '{ n[$3]++ } END { for (k in n) print k "=" n[k] }' "$TMP/load.all" | sort | tr '\n' ' ' \
        | sed 's/ $//'
}

# ---------------------------------------------------------------------------
# PostgreSQL as an unprivileged user

pg_bindir() {
    local d
    if [ -n "${PG_BINDIR:-}" ]; then echo "$PG_BINDIR"; return; fi
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        [ -x "$d/pg_ctl" ] && { echo "$d"; return; }
    done
    d=$(command -v pg_ctl 2>/dev/null) && { dirname "$d"; return; }
    return 1
}

# as_owner CMD...: runs CMD as the database servers' owner (ourselves unless root).
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u "$HA_RUN_AS" -- "$@"
    else
        "$@"
    fi
}

ensure_owner() {
    [ "$(id -u)" -eq 0 ] || return 0
    getent passwd "$HA_RUN_AS" >/dev/null && return 0
    useradd --system --no-create-home --shell /usr/sbin/nologin "$HA_RUN_AS" 2>/dev/null \
        || getent passwd "$HA_RUN_AS" >/dev/null
}

# pg_owner_dir NAME: creates $HA_ROOT/NAME owned by the servers' owner; prints it.
pg_owner_dir() {
    local d=$HA_ROOT/$1
    mkdir -m 700 "$d" || return 1
    [ "$(id -u)" -eq 0 ] && chown "$HA_RUN_AS:" "$d"
    echo "$d"
}

# ha_private_pg NAME: starts a private throwaway PostgreSQL with
# tests/db/pg.sh (state in $HA_ROOT/NAME, stopped at exit, its databases with
# it) and points $USERSVC_TEST_PG_URL at it. Sets HA_PG_STATE and HA_PG_PORT
# (used by callers).
ha_private_pg() {
    HA_PG_STATE=$HA_ROOT/$1
    HA_PG_STATES+=("$HA_PG_STATE")
    USERSVC_TEST_STATE=$HA_PG_STATE timeout 120 "$HA_DIR/../db/pg.sh" start \
        >"$TMP/pg.$1.start" 2>&1 \
        || { diag_file pg.sh "$TMP/pg.$1.start"; bail "private PostgreSQL ($1) starts"; }
    USERSVC_TEST_PG_URL=$(USERSVC_TEST_STATE=$HA_PG_STATE "$HA_DIR/../db/pg.sh" url)
    # shellcheck disable=SC2034
    HA_PG_PORT=$(cat "$HA_PG_STATE/pg/port")
    export USERSVC_TEST_PG_URL
}

# ha_pg_url: makes sure $USERSVC_TEST_PG_URL names a server: the caller's
# (scripts/test.sh) or a private one.
ha_pg_url() {
    [ -n "${USERSVC_TEST_PG_URL:-}" ] && return 0
    echo "# USERSVC_TEST_PG_URL not set: starting a private PostgreSQL (tests/db/pg.sh)"
    ha_private_pg pg
}

# remember_group PID: remembers the process group of PID (started with setsid).
remember_group() {
    local pgid
    pgid=$(ps -o pgid= -p "$1" 2>/dev/null | tr -d ' ')
    if [ -z "$pgid" ] || [ "$pgid" != "$1" ]; then
        diag "process $1 is not a group leader (${pgid:-gone})"
        return 1
    fi
    HA_GROUPS+=("$pgid")
}

group_alive() {
    kill -0 -- "-$1" 2>/dev/null
}

# kill_group PGID SIGNAL
kill_group() {
    kill "-$2" -- "-$1" 2>/dev/null
}

# ---------------------------------------------------------------------------
# Cleanup: workers, instances, balancer, database nodes: only what we started.

HA_CLEANUP_HOOKS=()

_ha_cleanup() {
    local name pid g i hook d
    trap - INT TERM
    [ "${#HA_WORKERS[@]}" -gt 0 ] && load_stop 10
    for hook in "${HA_CLEANUP_HOOKS[@]}"; do
        "$hook"
    done
    for name in "${!INST_PID[@]}"; do
        pid=${INST_PID[$name]}
        [ -n "$pid" ] || continue
        kill -TERM "$pid" 2>/dev/null
    done
    for name in "${!INST_PID[@]}"; do
        pid=${INST_PID[$name]}
        [ -n "$pid" ] || continue
        for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        INST_PID[$name]=
    done
    # Databases are dropped by lib.sh while their server still runs.
    for g in "${HA_GROUPS[@]}"; do
        group_alive "$g" && kill_group "$g" TERM
    done
    for g in "${HA_GROUPS[@]}"; do
        for i in $(seq 1 100); do group_alive "$g" || break; sleep 0.1; done
        group_alive "$g" && kill_group "$g" KILL
    done
    HA_GROUPS=()
    for d in "${HA_PGCTL_DIRS[@]}"; do
        [ -d "$d" ] || continue
        as_owner timeout 30 "$(pg_bindir)/pg_ctl" -D "$d" -m immediate -w -t 20 stop \
            >/dev/null 2>&1 || true
    done
    HA_PGCTL_DIRS=()
    if [ "${#HA_PG_STATES[@]}" -gt 0 ]; then
        # Their databases go with them.
        DB_NAMES=()
        for d in "${HA_PG_STATES[@]}"; do
            USERSVC_TEST_STATE=$d timeout 60 "$HA_DIR/../db/pg.sh" stop >/dev/null 2>&1
        done
    fi
    if [ "${USERSVC_TEST_KEEP:-}" = 1 ]; then
        echo "# kept $HA_ROOT"
    else
        rm -rf "$HA_ROOT"
    fi
}
