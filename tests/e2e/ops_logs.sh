#!/usr/bin/env bash
# Structured logs: with LOG_FORMAT=json every line the server writes is one
# JSON object (ts, level, component, msg), one line per request with method,
# path, route, status, bytes, duration_ms and request_id; X-Request-Id is
# honoured when sane, generated otherwise, and echoed; LOG_LEVEL filters;
# a password in DATABASE_URL never reaches stdout or stderr.
. "$(dirname "$0")/lib.sh"

RID_RE='^[A-Za-z0-9._-]{1,31}$'
TS_RE='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z$'

# all_json FILE: every line is a JSON object with the four common members.
all_json() {
    local line n=0 bad=0
    while IFS= read -r line; do
        n=$((n + 1))
        if ! jq -e --arg ts "$TS_RE" 'type == "object"
                and (.ts | type == "string" and test($ts))
                and (.level | IN("error", "warn", "info", "debug"))
                and (.component | type == "string" and length > 0)
                and (.msg | type == "string")' <<<"$line" >/dev/null 2>&1; then
            bad=$((bad + 1))
            [ "$bad" -le 5 ] && diag "not a log object: $line"
        fi
    done <"$1"
    [ "$n" -gt 0 ] && [ "$bad" -eq 0 ]
}

# jq_true EXPR TEXT: EXPR is true for the JSON TEXT.
jq_true() {
    jq -e "$1" <<<"$2" >/dev/null 2>&1
}

# info_logged ERE FILE: an info line's msg matches ERE.
info_logged() {
    jq -e -s --arg m "$1" 'any(.[]; .level == "info" and (.msg | test($m)))' "$2" >/dev/null 2>&1
}

# log_for RID: the request lines of the last server's log with that request_id.
log_for() {
    jq -c --arg rid "$1" 'select(.msg == "request" and .request_id == $rid)' "$SERVER_LOG"
}

# ---------------------------------------------------------------------------
# JSON logs of a serving process

LOG_FORMAT=json start_server
LOG1=$SERVER_LOG

get /healthz -H 'X-Request-Id: ops-logs.1_A'
expect_header X-Request-Id '^ops-logs\.1_A$' "a sane X-Request-Id is echoed"
long31=abcdefghijklmnopqrstuvwxyz01234
get /healthz -H "X-Request-Id: $long31"
expect_header X-Request-Id "^$long31\$" "a 31-character X-Request-Id is honoured"
get /healthz -H "X-Request-Id: ${long31}5"
rid_long=$(header_value X-Request-Id)
expect_match "$rid_long" "$RID_RE" "a 32-character X-Request-Id is replaced by a generated one"
check "... which differs from the one sent" test "$rid_long" != "${long31}5"
get /healthz -H 'X-Request-Id: bad id;<script>'
rid_bad=$(header_value X-Request-Id)
expect_match "$rid_bad" "$RID_RE" "an X-Request-Id with other characters is replaced"
check "... by a generated one" test "$rid_bad" != 'bad id;<script>'
get /healthz
rid_none=$(header_value X-Request-Id)
expect_match "$rid_none" "$RID_RE" "without X-Request-Id one is generated and sent"
get /healthz
check "generated request ids differ per request ($rid_none, $(header_value X-Request-Id))" \
    test "$rid_none" != "$(header_value X-Request-Id)"
post /users '{"login":"logs1"}' application/json -H 'X-Request-Id: ops-create-1'
expect_status 201 "POST /users with X-Request-Id"
expect_header X-Request-Id '^ops-create-1$' "201: X-Request-Id echoed"
id=$(json_get .id)
get "/users/$id" -H 'X-Request-Id: ops-get-1'
expect_header X-Request-Id '^ops-get-1$' "200: X-Request-Id echoed"
get /nope -H 'X-Request-Id: ops-404'
expect_status 404 "GET /nope"
expect_header X-Request-Id '^ops-404$' "404 problem: X-Request-Id echoed"
post /users '{"login":"bad login"}' application/json -H 'X-Request-Id: ops-422'
expect_header X-Request-Id '^ops-422$' "422 problem: X-Request-Id echoed"
stop_server

check "LOG_FORMAT=json: every line the server wrote is a JSON object with ts, level, component, msg" \
    all_json "$LOG1"

# One line per request, with the request's fields.
n_req=$(jq -s '[.[] | select(.msg == "request")] | length' "$LOG1")
n_rid=$(jq -s '[.[] | select(.msg == "request") | .request_id] | unique | length' "$LOG1")
expect_eq "$n_req" "$n_rid" "one request line per request id ($n_req lines)"
SERVER_LOG=$LOG1
for spec in 'ops-logs.1_A|GET|/healthz|/healthz|200' \
            'ops-create-1|POST|/users|/users|201' \
            "ops-get-1|GET|/users/$id|/users/{id}|200" \
            'ops-404|GET|/nope|-|404' \
            'ops-422|POST|/users|/users|422' \
            "$rid_long|GET|/healthz|/healthz|200" \
            "$rid_bad|GET|/healthz|/healthz|200" \
            "$rid_none|GET|/healthz|/healthz|200"; do
    IFS='|' read -r rid method path route status <<<"$spec"
    lines=$(log_for "$rid")
    expect_eq "$(grep -c . <<<"$lines")" 1 "exactly one request line for request_id $rid"
    expect_eq "$(jq -c '[.method, .path, .route, .status]' <<<"$lines" 2>/dev/null | head -n 1)" \
        "[\"$method\",\"$path\",\"$route\",$status]" \
        "request $rid: method, path, route, status"
    check "request $rid: level info, component http, bytes and duration_ms are numbers" \
        jq_true '.level == "info" and .component == "http" and (.bytes | type == "number")
                 and (.duration_ms | type == "number" and . >= 0 and . < 60000)' "$lines"
done
# Lifecycle events are JSON lines too.
for m in 'starting' 'listening on http://127\.0\.0\.1:[0-9]+' 'SIGTERM received' '^stopped$'; do
    check "lifecycle event /$m/ is logged as JSON" info_logged "$m" "$LOG1"
done
check "no request body or header value reaches the log" \
    bash -c "! grep -q 'bad login\|<script>' '$LOG1'"

# ---------------------------------------------------------------------------
# LOG_LEVEL and the text format

# At LOG_LEVEL=warn the "listening on" line is not written, so this server
# gets a port of our choosing instead of launch_server's port 0.
port=$(free_port)
LOG_FORMAT=json LOG_LEVEL=warn "$USERSVC_BIN" serve --database "$DB_URL" --host 127.0.0.1 \
    --port "$port" >"$TMP/quiet.out" 2>"$TMP/quiet.log" </dev/null &
quiet_pid=$!
for i in $(seq 1 100); do
    c=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 -H 'X-Request-Id: ops-quiet' \
        "http://127.0.0.1:$port/healthz")
    [ "$c" = 200 ] && break
    kill -0 "$quiet_pid" 2>/dev/null || break
    sleep 0.1
done
expect_eq "$c" 200 "LOG_LEVEL=warn: the server answers"
kill -TERM "$quiet_pid"
wait "$quiet_pid"
expect_eq "$?" 0 "LOG_LEVEL=warn: the server exits 0 on SIGTERM"
check "LOG_LEVEL=warn: no request lines" bash -c "! grep -q 'ops-quiet' '$TMP/quiet.log'"
check "LOG_LEVEL=warn: no info lines" bash -c "! grep -q '\"level\":\"info\"' '$TMP/quiet.log'"

launch_server serve --database "$DB_URL" --host 127.0.0.1 --port 0 --log-format text
get /healthz -H 'X-Request-Id: ops-text'
stop_server
check "--log-format text: no JSON lines" bash -c "! grep -q '^{' '$SERVER_LOG'"
check "--log-format text: the request line carries method, route, status and request_id" \
    grep -Eq 'INFO http request method=GET path=/healthz route=/healthz status=200 .*request_id=ops-text' \
    "$SERVER_LOG"

# ---------------------------------------------------------------------------
# Passwords in DATABASE_URL never reach the output. The servers are
# unreachable (a closed port), so the URL is logged (redacted) and the
# connection error too; neither may carry the password.

PW='Ops-S3cr3t-pw-9f27'
dead=$(free_port)
for url in "postgres://usersvc:$PW@127.0.0.1:$dead/usersvc?connect_timeout=2" \
           "postgresql://usersvc@127.0.0.1:$dead/usersvc?password=$PW&connect_timeout=2" \
           "mysql://usersvc:$PW@127.0.0.1:$dead/usersvc"; do
    scheme=${url%%:*}
    for fmt in json text; do
        LOG_FORMAT=$fmt DATABASE_URL=$url run_cli -t 30 serve --host 127.0.0.1 --port 0
        expect_cli_fails "$scheme ($fmt): serve on an unreachable database fails"
        expect_output_not_contains "$PW" "$scheme ($fmt): serve: the password appears nowhere in stdout/stderr"
        if [ "$fmt" = json ]; then
            check "$scheme (json): serve's stderr is JSON lines" all_json "$CLI_ERR"
        fi
        if grep -q 'starting; database' "$CLI_ERR"; then
            check "$scheme ($fmt): the logged URL is redacted (***)" \
                grep -q 'starting; database [a-z]*://usersvc[:@].*\*\*\*' "$CLI_ERR"
        fi
        LOG_FORMAT=$fmt run_cli -t 30 migrate status --database "$url"
        expect_cli_fails "$scheme ($fmt): migrate status on an unreachable database fails"
        expect_output_not_contains "$PW" \
            "$scheme ($fmt): migrate status: the password appears nowhere in stdout/stderr"
        LOG_FORMAT=$fmt DATABASE_URL=$url run_cli -t 30 migrate up
        expect_output_not_contains "$PW" \
            "$scheme ($fmt): migrate up: the password appears nowhere in stdout/stderr"
    done
done

# On a real PostgreSQL/MariaDB test database, the JSON log of a serving
# process never shows its password (lib.sh's final check covers every server
# log of this test as well).
if [ -n "$DB_SECRET" ]; then
    LOG_FORMAT=json LOG_LEVEL=debug start_server
    get /readyz
    expect_status 200 "readyz on $BACKEND with LOG_LEVEL=debug"
    stop_server
    if grep -Fq -- "$DB_SECRET" "$SERVER_LOG"; then
        not_ok "$BACKEND: the database password is not in the debug JSON log"
    else
        ok "$BACKEND: the database password is not in the debug JSON log"
    fi
    check "$BACKEND: the JSON log shows the URL redacted" grep -q 'starting; database .*\*\*\*' "$SERVER_LOG"
fi
