# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# Shared helpers for the end-to-end tests: sourced by every tests/e2e/*.sh.
#
# A test starts a real usersvc on 127.0.0.1 against a database of its own,
# talks to it with curl (or raw bytes for HTTP framing) and reports TAP-like
# lines: `ok N - what` / `not ok N - what`. The script exits non-zero when any
# check failed, 77 (meson's SKIP) when it cannot run here.
#
# Environment:
#   USERSVC_BIN             the binary (default: build/usersvc of this checkout)
#   USERSVC_TEST_BACKEND    sqlite (default) | postgres | mysql
#   USERSVC_TEST_PG_URL     postgres: admin URL of a server where we may CREATE
#                           DATABASE, e.g. postgres://usersvc:pw@127.0.0.1:5432/postgres
#                           (tests/db/pg.sh url prints one)
#   USERSVC_TEST_MYSQL_URL  mysql: admin URL over TCP, mysql://user:pw@127.0.0.1:3306/
#                           (tests/db/mariadb.sh url prints one). Sockets are not
#                           supported; the password is used as written (no %-decoding).
#   USERSVC_TEST_KEEP=1     keep the temporary directory (logs, sqlite file) and database
#
# Over TLS (tests/tls): a server started with --tls-cert/--tls-key prints
# "listening on https://…", and BASE_URL becomes https://127.0.0.1:PORT; the
# array CURL_TLS holds the curl arguments every request (and the start-up
# probe) adds, e.g. CURL_TLS=(--cacert ca.pem --cert client.pem --key client.key).
#
# Helpers (see each function's comment):
#   server    start_server [ARGS], launch_server ARGS, stop_server, new_database,
#             db_exec SQL, free_port, server_alive
#   HTTP      request METHOD PATH [CURL ARGS], get PATH, post PATH BODY [CT|-],
#             post_file PATH FILE [CT|-], patch PATH BODY [CT|-], patch_file PATH FILE [CT|-],
#             delete PATH [CURL ARGS], raw_request BYTES [WAIT_S], header_value NAME
#   checks    expect_status, expect_header, expect_no_header, expect_json, expect_jq,
#             expect_problem, expect_user, expect_body_contains,
#             expect_body_not_contains, expect_eq, expect_match, check DESC CMD...
#   CLI       run_cli [-t S] ARGS, expect_cli_rc, expect_cli_fails, expect_output,
#             expect_stdout, expect_output_not_contains
#   TAP       ok, not_ok, diag, skip_all, bail
# The server is a child of the test shell: wait on specific PIDs only (a bare
# `wait` would also wait for the server, i.e. forever).
#
# Every test gets a fresh database (a sqlite file in its temp dir, or a new
# PostgreSQL/MariaDB database with a unique name), and everything is removed by
# an EXIT trap, which also stops the server with SIGTERM and checks it exits 0.
#
# Besides the explicit checks, every HTTP response a test receives is audited
# at the end: its Content-Type must be application/json or
# application/problem+json, its body must be JSON, and an error body must not
# contain SQL, driver messages, file paths or credentials.

set -u
# pipefail: a failing producer fails the pipeline. Hence no `producer | grep -q`
# here: grep -q exits at the first match and the producer may die of SIGPIPE.
set -o pipefail

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TEST_NAME=$(basename "$0" .sh)
USERSVC_BIN=${USERSVC_BIN:-$E2E_DIR/../../build/usersvc}
BACKEND=${USERSVC_TEST_BACKEND:-sqlite}
CURL_MAX_TIME=${CURL_MAX_TIME:-5}

# Options the service reads from the environment must come from the test only.
unset DATABASE_URL HOST PORT DB_POOL_SIZE DB_POOL_TIMEOUT_MS MAX_BODY_BYTES LOG_LEVEL \
    DB_IDLE_CHECK_MS MAX_CONNECTIONS MAX_CONNECTIONS_PER_IP CONNECTION_TIMEOUT_S MAX_HEADER_BYTES \
    THREAD_STACK_KB SHUTDOWN_TIMEOUT_MS AUTH_JWKS_FILE AUTH_ISSUER AUTH_AUDIENCE AUTH_LEEWAY_S \
    ALLOW_UNAUTHENTICATED TLS_CERT_FILE TLS_KEY_FILE TLS_CLIENT_CA_FILE

T_N=0
T_FAILED=0
T_SKIP_ALL=
SERVER_PID=
SERVER_N=0
SERVER_LOG=/dev/null
PORT_NUM=
BASE_URL=
CURL_TLS=()
DB_URL=
DB_NAMES=()
DB_SECRET=
RESP_STATUS=
REQ_DESC=
CLI_RC=

TMP=$(mktemp -d "${TMPDIR:-/tmp}/usersvc-e2e.XXXXXX") || { echo "Bail out! mktemp"; exit 1; }
RESP_HEADERS=$TMP/resp.headers
RESP_BODY=$TMP/resp.body
CLI_OUT=$TMP/cli.out
CLI_ERR=$TMP/cli.err
AUDIT_LOG=$TMP/audit.log
: >"$AUDIT_LOG"
: >"$RESP_HEADERS"
: >"$RESP_BODY"

# Words that must never reach a client in an error body (case-insensitive ERE).
LEAK_RE='select .* from|insert into|update .* set|delete from|create table|drop table|alter table|'
LEAK_RE+='sqlite|postgres|mysql|mariadb|libpq|sqlstate|constraint|syntax error|relation "|'
LEAK_RE+='duplicate entry|no such table|no such column|errno|/tmp/|/usr/|/home/|/work/|/var/|'
LEAK_RE+='\.c:[0-9]|\.sql|password|usersvc-pw|s3cr3tpw|backtrace|segmentation|assert'

# ---------------------------------------------------------------------------
# TAP output

diag() {
    local line
    while IFS= read -r line; do
        printf '#   %s\n' "$line"
    done <<<"$*"
}

# Shows at most 600 bytes of a file as diagnostics, non-printable bytes escaped.
diag_file() {
    local label=$1 file=$2
    [ -s "$file" ] || { diag "$label: (empty)"; return; }
    diag "$label: $(head -c 600 "$file" | LC_ALL=C cat -v)"
}

ok() {
    T_N=$((T_N + 1))
    echo "ok $T_N - $*"
}

not_ok() {
    T_N=$((T_N + 1))
    T_FAILED=$((T_FAILED + 1))
    echo "not ok $T_N - $*"
}

# check DESC CMD...: passes when CMD exits 0.
check() {
    local desc=$1
    shift
    if "$@"; then ok "$desc"; else not_ok "$desc"; diag "command failed: $*"; fi
}

# expect_eq ACTUAL EXPECTED DESC
expect_eq() {
    if [ "$1" == "$2" ]; then
        ok "$3"
    else
        not_ok "$3"
        diag "expected: $2"
        diag "got:      $1"
    fi
}

# expect_match ACTUAL ERE DESC
expect_match() {
    if printf '%s' "$1" | grep -E -- "$2" >/dev/null; then
        ok "$3"
    else
        not_ok "$3"
        diag "expected to match: $2"
        diag "got: $1"
    fi
}

skip_all() {
    T_SKIP_ALL=$*
    exit 77
}

bail() {
    not_ok "$*"
    echo "Bail out! $*"
    [ -s "$SERVER_LOG" ] && { diag "server log (tail):"; diag "$(tail -n 30 "$SERVER_LOG")"; }
    exit 1
}

# ---------------------------------------------------------------------------
# Databases

# Unique database name for this test (lower case, at most 63 bytes).
_db_name() {
    local base
    base=$(printf '%s' "$TEST_NAME" | tr 'A-Z' 'a-z' | tr -c 'a-z0-9' '_' | cut -c1-30)
    echo "usv_${base}_$$_${RANDOM}_${#DB_NAMES[@]}"
}

# Splits $USERSVC_TEST_MYSQL_URL into MY_USER MY_PASS MY_HOST MY_PORT.
_mysql_parse() {
    local re='^mysql://([^:@/]+)(:([^@/]*))?@([^:/?]+)(:([0-9]+))?(/[^?]*)?(\?.*)?$'
    [[ ${USERSVC_TEST_MYSQL_URL:-} =~ $re ]] \
        || bail "USERSVC_TEST_MYSQL_URL is not mysql://user[:pw]@host[:port]/"
    MY_USER=${BASH_REMATCH[1]}
    MY_PASS=${BASH_REMATCH[3]}
    MY_HOST=${BASH_REMATCH[4]}
    MY_PORT=${BASH_REMATCH[6]:-3306}
}

_mysql_client() {
    local client
    client=$(command -v mariadb || command -v mysql) || bail "no mariadb/mysql client"
    MYSQL_PWD=$MY_PASS "$client" --no-defaults --protocol=TCP -h "$MY_HOST" -P "$MY_PORT" \
        -u "$MY_USER" --connect-timeout=5 --batch --skip-column-names "$@"
}

_pg_base() {
    local re='^(postgres(ql)?://[^/?]+)(/[^?]*)?(\?.*)?$'
    [[ ${USERSVC_TEST_PG_URL:-} =~ $re ]] \
        || bail "USERSVC_TEST_PG_URL is not postgres://user[:pw]@host[:port]/db"
    PG_BASE=${BASH_REMATCH[1]}
    PG_QUERY=${BASH_REMATCH[4]}
    local cre='^postgres(ql)?://[^:@/]+:([^@/]*)@'
    [[ $USERSVC_TEST_PG_URL =~ $cre ]] && DB_SECRET=${BASH_REMATCH[2]}
    return 0
}

_pg_admin() {
    timeout 30 psql -X -q -w -v ON_ERROR_STOP=1 "$USERSVC_TEST_PG_URL" "$@"
}

# new_database: creates a fresh, empty database and sets DB_URL to it.
new_database() {
    local name
    case "$BACKEND" in
        sqlite)
            DB_URL="sqlite:$TMP/db${#DB_NAMES[@]}.sqlite"
            DB_NAMES+=("$DB_URL")
            ;;
        postgres|postgresql|pg)
            [ -n "${USERSVC_TEST_PG_URL:-}" ] || skip_all "USERSVC_TEST_PG_URL not set"
            command -v psql >/dev/null || skip_all "psql not installed"
            _pg_base
            name=$(_db_name)
            _pg_admin -c "CREATE DATABASE \"$name\"" >/dev/null 2>"$TMP/createdb.err" \
                || { diag_file createdb "$TMP/createdb.err"; bail "CREATE DATABASE $name"; }
            DB_NAMES+=("$name")
            DB_URL="$PG_BASE/$name$PG_QUERY"
            ;;
        mysql|mariadb)
            [ -n "${USERSVC_TEST_MYSQL_URL:-}" ] || skip_all "USERSVC_TEST_MYSQL_URL not set"
            _mysql_parse
            DB_SECRET=$MY_PASS
            name=$(_db_name)
            _mysql_client -e "CREATE DATABASE \`$name\` CHARACTER SET utf8mb4" \
                >/dev/null 2>"$TMP/createdb.err" \
                || { diag_file createdb "$TMP/createdb.err"; bail "CREATE DATABASE $name"; }
            DB_NAMES+=("$name")
            if [ -n "$MY_PASS" ]; then
                DB_URL="mysql://$MY_USER:$MY_PASS@$MY_HOST:$MY_PORT/$name"
            else
                DB_URL="mysql://$MY_USER@$MY_HOST:$MY_PORT/$name"
            fi
            ;;
        *)
            bail "unknown USERSVC_TEST_BACKEND '$BACKEND' (sqlite, postgres, mysql)"
            ;;
    esac
}

# db_exec SQL: runs SQL on the current test database (DB_URL), prints rows.
db_exec() {
    case "$BACKEND" in
        sqlite)
            command -v sqlite3 >/dev/null || { echo "no sqlite3 CLI" >&2; return 1; }
            sqlite3 -batch "${DB_URL#sqlite:}" "$1"
            ;;
        postgres|postgresql|pg)
            timeout 30 psql -X -q -w -A -t -v ON_ERROR_STOP=1 "$DB_URL" -c "$1"
            ;;
        mysql|mariadb)
            _mysql_client -D "${DB_NAMES[-1]}" -e "$1"
            ;;
    esac
}

_drop_databases() {
    local name
    [ "${USERSVC_TEST_KEEP:-}" = 1 ] && return 0
    for name in "${DB_NAMES[@]}"; do
        case "$BACKEND" in
            postgres|postgresql|pg)
                _pg_admin -c "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)" >/dev/null 2>&1 \
                    || echo "# warning: could not drop database $name"
                ;;
            mysql|mariadb)
                _mysql_client -e "DROP DATABASE IF EXISTS \`$name\`" >/dev/null 2>&1 \
                    || echo "# warning: could not drop database $name"
                ;;
        esac
    done
}

# ---------------------------------------------------------------------------
# The server

# Prints a TCP port on 127.0.0.1 that nothing listens on right now, below
# the kernel's ephemeral range (where port-0 servers and clients land).
free_port() {
    local i p low=32768
    read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || low=32768
    [ "$low" -gt 12000 ] 2>/dev/null || low=32768
    for i in $(seq 1 50); do
        p=$(( 10000 + (RANDOM % (low - 12000)) ))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

# launch_server ARGS...: runs "$USERSVC_BIN ARGS..." in the background (with the
# caller's environment), waits for the "listening on http://127.0.0.1:PORT" line
# (or https://) and for /healthz. Sets SERVER_PID, SERVER_LOG, PORT_NUM and BASE_URL.
launch_server() {
    local i port= code scheme=http
    [ -n "$SERVER_PID" ] && stop_server
    [ -x "$USERSVC_BIN" ] || bail "no executable $USERSVC_BIN (build first)"
    SERVER_N=$((SERVER_N + 1))
    SERVER_LOG=$TMP/server.$SERVER_N.log
    "$USERSVC_BIN" "$@" >"$TMP/server.$SERVER_N.out" 2>"$SERVER_LOG" </dev/null &
    SERVER_PID=$!
    for i in $(seq 1 150); do
        port=$(grep -Eo 'listening on https?://127\.0\.0\.1:[0-9]+' "$SERVER_LOG" 2>/dev/null \
               | head -n 1)
        [ "${port#listening on https}" != "$port" ] && scheme=https
        port=${port##*:}
        [ -n "$port" ] && break
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            wait "$SERVER_PID"
            code=$?
            SERVER_PID=
            bail "server started (it exited with $code before listening)"
        fi
        sleep 0.1
    done
    [ -n "$port" ] || bail "server printed 'listening on http(s)://127.0.0.1:PORT' within 15 s"
    PORT_NUM=$port
    BASE_URL="$scheme://127.0.0.1:$PORT_NUM"
    for i in $(seq 1 50); do
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 ${CURL_TLS[@]+"${CURL_TLS[@]}"} \
               "$BASE_URL/healthz" 2>/dev/null)
        [ "$code" = 200 ] && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    bail "server answers GET /healthz with 200 (last: $code)"
}

# start_server [ARGS...]: a server with --migrate on this test's database
# (created on first use) and an OS-chosen port; ARGS are added to `serve`.
start_server() {
    [ -n "$DB_URL" ] || new_database
    launch_server serve --database "$DB_URL" --host 127.0.0.1 --port 0 --migrate "$@"
}

# stop_server: SIGTERM, bounded wait, checks the exit status is 0.
stop_server() {
    local pid=$SERVER_PID i code
    [ -n "$pid" ] || return 0
    SERVER_PID=
    if ! kill -0 "$pid" 2>/dev/null; then
        wait "$pid" 2>/dev/null
        code=$?
        not_ok "server was still running when the test ended (it had exited: status $code)"
        diag "server log (tail):"
        diag "$(tail -n 30 "$SERVER_LOG")"
        return
    fi
    kill -TERM "$pid" 2>/dev/null
    for i in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        not_ok "server exits within 10 s of SIGTERM"
        return
    fi
    wait "$pid"
    code=$?
    expect_eq "$code" 0 "server exits 0 on SIGTERM"
    [ "$code" = 0 ] || diag "$(tail -n 20 "$SERVER_LOG")"
}

server_alive() {
    [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null
}

# ---------------------------------------------------------------------------
# HTTP

# Records the response just received for the end-of-test audit.
_audit() {
    local ct
    ct=$(header_value Content-Type)
    if [ -s "$RESP_BODY" ] || [ -n "$ct" ]; then
        if ! [[ ${ct,,} =~ ^application/(problem\+)?json( *;.*)?$ ]]; then
            echo "$REQ_DESC -> $RESP_STATUS: Content-Type '$ct'" >>"$AUDIT_LOG"
        elif [ -s "$RESP_BODY" ] && ! jq . <"$RESP_BODY" >/dev/null 2>&1; then
            echo "$REQ_DESC -> $RESP_STATUS: body is not JSON" >>"$AUDIT_LOG"
        fi
    fi
    if [ "${RESP_STATUS:-0}" -ge 400 ] 2>/dev/null \
            && grep -Eiq -- "$LEAK_RE" "$RESP_BODY"; then
        echo "$REQ_DESC -> $RESP_STATUS: error body leaks internals: $(head -c 300 "$RESP_BODY")" \
            >>"$AUDIT_LOG"
    fi
    if [ -n "$DB_SECRET" ] && grep -Fq -- "$DB_SECRET" "$RESP_BODY" "$RESP_HEADERS"; then
        echo "$REQ_DESC -> $RESP_STATUS: response contains the database password" >>"$AUDIT_LOG"
    fi
}

# request METHOD PATH [CURL ARGS...]: one request; sets RESP_STATUS and fills
# $RESP_HEADERS / $RESP_BODY. RESP_STATUS is 000 when curl got no response.
request() {
    local method=$1 path=$2
    shift 2
    REQ_DESC="$method $path"
    : >"$RESP_HEADERS"
    : >"$RESP_BODY"
    local out=$RESP_BODY mflag=(-X "$method")
    # curl -I writes the headers where the body would go.
    [ "$method" = HEAD ] && { out=/dev/null; mflag=(-I); }
    RESP_STATUS=$(curl -sS --max-time "$CURL_MAX_TIME" --path-as-is "${mflag[@]}" \
        ${CURL_TLS[@]+"${CURL_TLS[@]}"} -o "$out" -D "$RESP_HEADERS" -w '%{http_code}' "$@" "$BASE_URL$path" \
        2>"$TMP/curl.err")
    [ -n "$RESP_STATUS" ] || RESP_STATUS=000
    if [ "$RESP_STATUS" = 000 ]; then
        echo "$REQ_DESC: no response ($(head -c 200 "$TMP/curl.err"))" >>"$AUDIT_LOG"
    else
        _audit
        # tests/openapi/run.sh: one JSON line per response, validated later
        # against openapi.json (the raw header block; the body as text).
        if [ -n "${USERSVC_RECORD_DIR:-}" ]; then
            jq -cn --arg test "$TEST_NAME" --arg method "$method" --arg path "$path" \
                --argjson status "$RESP_STATUS" --arg ct "$(header_value Content-Type)" \
                --rawfile headers "$RESP_HEADERS" --rawfile body "$RESP_BODY" \
                '{test: $test, method: $method, path: $path, status: $status,
                  content_type: $ct, headers: $headers, body: $body}' \
                >>"$USERSVC_RECORD_DIR/$TEST_NAME.jsonl"
        fi
    fi
}

get() {
    local path=$1
    shift
    request GET "$path" "$@"
}

# post PATH BODY [CONTENT-TYPE [CURL ARGS...]]: BODY is sent byte for byte.
# CONTENT-TYPE defaults to application/json; "-" sends no Content-Type at all.
post() {
    local path=$1 body=$2
    printf '%s' "$body" >"$TMP/req.body"
    shift 2
    post_file "$path" "$TMP/req.body" "$@"
}

# post_file PATH FILE [CONTENT-TYPE [CURL ARGS...]]
post_file() {
    local path=$1 file=$2 ct=${3-application/json}
    shift 2
    [ $# -gt 0 ] && shift
    if [ "$ct" = - ]; then
        request POST "$path" -H 'Content-Type:' --data-binary "@$file" "$@"
    else
        request POST "$path" -H "Content-Type: $ct" --data-binary "@$file" "$@"
    fi
}

# patch PATH BODY [CONTENT-TYPE [CURL ARGS...]]: like post, with PATCH.
# CONTENT-TYPE defaults to application/merge-patch+json; "-" sends none.
# Extra curl arguments carry conditions, e.g. -H 'If-Match: "…"'.
patch() {
    local path=$1 body=$2
    printf '%s' "$body" >"$TMP/req.body"
    shift 2
    patch_file "$path" "$TMP/req.body" "$@"
}

# patch_file PATH FILE [CONTENT-TYPE [CURL ARGS...]]
patch_file() {
    local path=$1 file=$2 ct=${3-application/merge-patch+json}
    shift 2
    [ $# -gt 0 ] && shift
    if [ "$ct" = - ]; then
        request PATCH "$path" -H 'Content-Type:' --data-binary "@$file" "$@"
    else
        request PATCH "$path" -H "Content-Type: $ct" --data-binary "@$file" "$@"
    fi
}

# delete PATH [CURL ARGS...]
delete() {
    local path=$1
    shift
    request DELETE "$path" "$@"
}

# raw_request BYTES [WAIT_S]: writes BYTES (printf %b escapes are expanded, so
# '\r\n' is CRLF) to a fresh TCP connection and reads until the server closes
# it or WAIT_S (default 3) seconds pass. Sets RESP_STATUS, $RESP_HEADERS,
# $RESP_BODY and RAW_CLOSED (1 when the server closed the connection).
#
# A server that answers and closes before reading all of BYTES can make the
# kernel reset the connection, and the reset may destroy the answer before we
# read it. Such an empty exchange is retried twice (and reported as a diag).
raw_request() {
    local data=$1 wait=${2:-3} rc try
    REQ_DESC="raw $(printf '%b' "$data" | head -n 1 | tr -d '\r')"
    for try in 1 2 3; do
        : >"$TMP/raw.out"
        (
            exec 3<>"/dev/tcp/127.0.0.1/$PORT_NUM" || exit 90
            # The server may answer and close before reading everything: a
            # write then fails with EPIPE, which must not kill us before we
            # read the answer.
            trap '' PIPE
            printf '%b' "$data" >&3 2>/dev/null
            timeout "$wait" cat <&3 >"$TMP/raw.out" 2>/dev/null
        )
        rc=$?
        [ -s "$TMP/raw.out" ] && break
        echo "# $REQ_DESC: no response (try $try, status $rc)"
    done
    RAW_CLOSED=0
    [ "$rc" = 0 ] && RAW_CLOSED=1
    # Split the first response into headers (without CR) and body.
    sed -n '1,/^\r\{0,1\}$/p' "$TMP/raw.out" | tr -d '\r' >"$RESP_HEADERS"
    sed '1,/^\r\{0,1\}$/d' "$TMP/raw.out" >"$RESP_BODY"
    RESP_STATUS=$(head -n 1 "$RESP_HEADERS" | awk '{print $2}')
    [ -n "$RESP_STATUS" ] || RESP_STATUS=000
    if [ "$RESP_STATUS" != 000 ]; then
        local len
        len=$(header_value Content-Length)
        if [ -n "$len" ] && [ "$len" -ge 0 ] 2>/dev/null; then
            head -c "$len" "$RESP_BODY" >"$RESP_BODY.tmp" && mv "$RESP_BODY.tmp" "$RESP_BODY"
        fi
        _audit
    fi
}

# header_value NAME: value of NAME in the last response (final header block),
# without CR; empty when absent. Several fields are joined with ", ".
header_value() {
    awk -v want="$(printf '%s' "$1" | tr 'A-Z' 'a-z')" '
        /^HTTP\// { n = 0; delete v; next }
        {
            sub(/\r$/, "")
            i = index($0, ":")
            if (i == 0) next
            name = tolower(substr($0, 1, i - 1))
            val = substr($0, i + 1)
            sub(/^[ \t]+/, "", val); sub(/[ \t]+$/, "", val)
            if (name == want) v[n++] = val
        }
        END { s = ""; for (j = 0; j < n; j++) s = s (j ? ", " : "") v[j]; print s }
    ' "$RESP_HEADERS"
}

_resp_diag() {
    diag "request: $REQ_DESC -> $RESP_STATUS"
    diag_file body "$RESP_BODY"
}

# expect_status N [DESC]
expect_status() {
    local desc=${2:-$REQ_DESC -> $1}
    if [ "$RESP_STATUS" = "$1" ]; then
        ok "$desc"
    else
        not_ok "$desc"
        diag "expected status $1, got $RESP_STATUS"
        diag_file body "$RESP_BODY"
    fi
}

# expect_header NAME ERE [DESC]: the header exists and its value matches ERE.
expect_header() {
    local name=$1 re=$2 desc=${3:-$REQ_DESC: header $1 ~ /$2/} val
    val=$(header_value "$name")
    if [ -n "$(grep -i "^$name:" "$RESP_HEADERS")" ] && printf '%s' "$val" | grep -E -- "$re" >/dev/null; then
        ok "$desc"
    else
        not_ok "$desc"
        diag "header $name: '${val}' (status $RESP_STATUS)"
    fi
}

# expect_no_header NAME [DESC]
expect_no_header() {
    local desc=${2:-$REQ_DESC: no $1 header}
    if grep -iq "^$1:" "$RESP_HEADERS"; then
        not_ok "$desc"
        diag "got: $(header_value "$1")"
    else
        ok "$desc"
    fi
}

# json_get JQ_EXPR [FILE]: strings print raw, everything else as compact JSON.
json_get() {
    jq -r "($1) | if type == \"string\" then . else tojson end" <"${2:-$RESP_BODY}" 2>/dev/null \
        || echo "<not JSON or jq error>"
}

# expect_json JQ_EXPR EXPECTED [DESC]: a string result is compared raw
# (`.login` vs alice), anything else as compact JSON (`.errors|length` vs 2).
expect_json() {
    local expr=$1 want=$2 desc=${3:-$REQ_DESC: $1 == $2} got
    got=$(json_get "$expr")
    if [ "$got" == "$want" ]; then
        ok "$desc"
    else
        not_ok "$desc"
        diag "expected: $want"
        diag "got:      $got"
        _resp_diag
    fi
}

# expect_jq JQ_BOOL_EXPR [DESC]: passes when the expression yields true.
# An empty body fails (jq 1.6 -e exits 0 when it reads no input at all).
expect_jq() {
    local expr=$1 desc=${2:-$REQ_DESC: $1}
    if [ -s "$RESP_BODY" ] && jq -e "$expr" <"$RESP_BODY" >/dev/null 2>&1; then
        ok "$desc"
    else
        not_ok "$desc"
        _resp_diag
    fi
}

expect_body_contains() {
    local desc=${2:-$REQ_DESC: body contains '$1'}
    if grep -Fq -- "$1" "$RESP_BODY"; then ok "$desc"; else not_ok "$desc"; _resp_diag; fi
}

expect_body_not_contains() {
    local desc=${2:-$REQ_DESC: body does not contain '$1'}
    if grep -Fiq -- "$1" "$RESP_BODY"; then not_ok "$desc"; _resp_diag; else ok "$desc"; fi
}

# expect_problem STATUS [DESC]: status, problem+json media type and an RFC 9457
# body (type, title, status == STATUS, detail).
expect_problem() {
    local st=$1 desc=${2:-$REQ_DESC}
    expect_status "$st" "$desc -> $st"
    expect_header Content-Type '^application/problem\+json( *;.*)?$' "$desc: problem+json"
    expect_jq "(.status == $st) and (.type | type == \"string\") and (.title | type == \"string\")
               and (.title | length > 0) and (.detail | type == \"string\")" \
        "$desc: problem body has type, title, status $st, detail"
    if [ "$st" != 422 ]; then
        expect_jq 'has("errors") | not' "$desc: no 'errors' member outside 422"
    fi
}

# The exact key set of a user object (second stage: updated_at came with
# migration 0002).
USER_KEYS='["created_at","first_name","id","last_name","login","updated_at"]'
CREATED_AT_RE='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z$'

# expect_user [DESC]: the body is a user object with exactly the six keys.
expect_user() {
    local desc=${1:-$REQ_DESC}
    expect_header Content-Type '^application/json( *;.*)?$' "$desc: Content-Type application/json"
    expect_json 'keys' "$USER_KEYS" "$desc: body has exactly the 6 user keys"
    expect_jq '(.id | type == "number") and .id >= 1 and (.id | floor == .)' \
        "$desc: id is a positive integer"
    expect_match "$(json_get .created_at)" "$CREATED_AT_RE" \
        "$desc: created_at is YYYY-MM-DDTHH:MM:SS.ffffffZ"
    expect_match "$(json_get .updated_at)" "$CREATED_AT_RE" \
        "$desc: updated_at is YYYY-MM-DDTHH:MM:SS.ffffffZ"
}

# raw_json_member NAME [FILE]: the bytes of "NAME":"..." exactly as sent.
raw_json_member() {
    grep -ao "\"$1\"[[:space:]]*:[[:space:]]*\"[^\"]*\"" "${2:-$RESP_BODY}" | head -n 1
}

# create_user LOGIN [FIRST [LAST]]: POST and expect 201; sets USER_ID.
create_user() {
    local body
    body=$(jq -cn --arg l "$1" --arg f "${2-}" --arg s "${3-}" \
        '{login: $l} + (if $f == "" then {} else {first_name: $f} end)
                     + (if $s == "" then {} else {last_name: $s} end)')
    post /users "$body"
    expect_status 201 "create user $1"
    USER_ID=$(json_get .id)
}

# ---------------------------------------------------------------------------
# The command line

# run_cli [-t SECONDS] ARGS...: runs the binary in the foreground (bounded,
# default 30 s); stdout in $CLI_OUT, stderr in $CLI_ERR, status in CLI_RC.
run_cli() {
    local t=30
    if [ "${1:-}" = -t ]; then t=$2; shift 2; fi
    [ -x "$USERSVC_BIN" ] || bail "no executable $USERSVC_BIN (build first)"
    timeout -k 5 "$t" "$USERSVC_BIN" "$@" >"$CLI_OUT" 2>"$CLI_ERR" </dev/null
    CLI_RC=$?
}

cli_diag() {
    diag "exit status $CLI_RC"
    diag_file stdout "$CLI_OUT"
    diag_file stderr "$CLI_ERR"
}

expect_cli_rc() {
    local desc=${2:-exit status $1}
    if [ "$CLI_RC" = "$1" ]; then ok "$desc"; else not_ok "$desc"; cli_diag; fi
}

# Non-zero, but not a timeout (124/137) nor a crash by signal (> 128).
expect_cli_fails() {
    local desc=${1:-exits non-zero}
    if [ "$CLI_RC" != 0 ] && [ "$CLI_RC" -lt 124 ]; then ok "$desc"; else not_ok "$desc"; cli_diag; fi
}

# The files' text with this test's database names and temp dir replaced by
# "<db>", so that a pattern cannot match them (they contain the test's name).
_scrubbed() {
    local text name
    text=$(cat "$@" 2>/dev/null)
    for name in "${DB_NAMES[@]}" "$TMP"; do
        name=${name#sqlite:}
        text=${text//"$name"/<db>}
    done
    printf '%s\n' "$text"
}

# expect_output ERE [DESC] / expect_stdout ERE [DESC]: case-insensitive match
# in stdout+stderr / in stdout only.
expect_output() {
    local desc=${2:-output matches /$1/}
    if _scrubbed "$CLI_OUT" "$CLI_ERR" | grep -Ei -- "$1" >/dev/null; then
        ok "$desc"
    else
        not_ok "$desc"; cli_diag
    fi
}

expect_stdout() {
    local desc=${2:-stdout matches /$1/}
    if _scrubbed "$CLI_OUT" | grep -Ei -- "$1" >/dev/null; then ok "$desc"; else not_ok "$desc"; cli_diag; fi
}

expect_output_not_contains() {
    local desc=${2:-output does not contain '$1'}
    if grep -Fq -- "$1" "$CLI_OUT" "$CLI_ERR"; then not_ok "$desc"; cli_diag; else ok "$desc"; fi
}

# ---------------------------------------------------------------------------
# End of test

_finish() {
    local rc=$? f
    trap - EXIT INT TERM
    if [ -n "$T_SKIP_ALL" ]; then
        [ -n "$SERVER_PID" ] && kill -KILL "$SERVER_PID" 2>/dev/null
        _drop_databases
        [ "${USERSVC_TEST_KEEP:-}" = 1 ] || rm -rf "$TMP"
        echo "1..0 # SKIP $T_SKIP_ALL"
        exit 77
    fi
    if [ "$rc" != 0 ] && [ "$T_FAILED" = 0 ]; then
        not_ok "test script ran to its end (it stopped with status $rc)"
    fi
    stop_server
    if [ "$SERVER_N" -gt 0 ]; then
        if [ -s "$AUDIT_LOG" ]; then
            not_ok "every response: JSON Content-Type and body, no internals in error bodies"
            diag "$(head -n 20 "$AUDIT_LOG")"
        else
            ok "every response: JSON Content-Type and body, no internals in error bodies"
        fi
        if [ -n "$DB_SECRET" ]; then
            f=$(grep -lF -- "$DB_SECRET" "$TMP"/server.*.log "$TMP"/server.*.out 2>/dev/null)
            expect_eq "$f" "" "the database password never appears in the server's output"
        fi
    fi
    if [ "$T_FAILED" -gt 0 ] && [ -s "$SERVER_LOG" ]; then
        diag "server log (tail):"
        diag "$(tail -n 20 "$SERVER_LOG")"
    fi
    _drop_databases
    if [ "${USERSVC_TEST_KEEP:-}" = 1 ]; then
        echo "# kept $TMP"
    else
        rm -rf "$TMP"
    fi
    echo "1..$T_N"
    if [ "$T_FAILED" -gt 0 ]; then
        echo "# $T_FAILED of $T_N checks failed"
        exit 1
    fi
    exit 0
}
trap _finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if ! command -v jq >/dev/null || ! command -v curl >/dev/null; then
    skip_all "jq and curl are needed (scripts/install-deps.sh test)"
fi
