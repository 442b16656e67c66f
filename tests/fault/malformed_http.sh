#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Fault: malformed HTTP over raw sockets (issue 5).
#
# Each case writes bytes no well-behaved client sends: conflicting framing
# (Content-Length with Transfer-Encoding, two Content-Lengths), bad chunk
# sizes, headers beyond --max-header-bytes, NUL bytes in the request line
# and in headers, a missing Host, garbage, absurd request lines. Each must
# get a 4xx (for an unsupported HTTP version: 505) or a closed connection,
# never a crash, and after each one GET /healthz still answers 200. Two
# well-formed cases check what must keep working: HTTP/1.0 without Host and
# pipelined requests, answered in order. Requests that were refused store
# nothing.
#
# Responses made by usersvc itself get lib.sh's audit (JSON, no internals);
# libmicrohttpd's built-in error pages (HTML) are listed as a note at the end.
# The backend does not matter here; the test runs on whichever is chosen.
. "$(dirname "$0")/lib.sh"
need_python

MAX_HEADER=16384
start_server --max-header-bytes "$MAX_HEADER" --connection-timeout-s 10
create_user pipe1 Pipe Line
ID=$USER_ID
[ -n "$ID" ] && [ "$ID" != null ] || bail "a first user exists"

CRLF='\r\n'
H="Host: 127.0.0.1${CRLF}"
J="Content-Type: application/json${CRLF}"

# judge DESC ACCEPT: checks the outcome of the last raw_send.
#   4xx        a 4xx status, or the connection closed without an answer
#   4xx-close  the same, and the connection closed after a 4xx
#   400-close  exactly 400, and the connection closed
#   4xx/505-close  as 4xx-close, 505 allowed (unsupported HTTP version)
#   4xx-or-200 as 4xx, or 200 where RFC 9112 lets the server repair the input
# then checks that usersvc is alive and answers GET /healthz with 200.
judge() {
    local desc=$1 accept=$2 st=$RAW_STATUS res=$RAW_RESULT pass=0 hz
    case "$accept" in
        4xx)
            { [[ $st == 4?? ]] || { [ "$st" = 000 ] && [ "$res" = closed ]; }; } && pass=1 ;;
        4xx-close)
            { [[ $st == 4?? ]] || [ "$st" = 000 ]; } && [ "$res" = closed ] && pass=1 ;;
        4xx/505-close)
            { [[ $st == 4?? ]] || [ "$st" = 505 ] || [ "$st" = 000 ]; } && [ "$res" = closed ] \
                && pass=1 ;;
        400-close)
            [ "$st" = 400 ] && [ "$res" = closed ] && pass=1 ;;
        4xx-or-200)
            { [[ $st == 4?? ]] || [ "$st" = 200 ] || { [ "$st" = 000 ] && [ "$res" = closed ]; }; } \
                && pass=1 ;;
    esac
    local got="status $st, connection $res"
    [ "$st" = 000 ] && got="no answer, connection $res"
    note_mhd_page "$desc"
    if [ "$pass" = 1 ]; then
        ok "$desc -> $got"
    else
        not_ok "$desc -> $got (want: $accept)"
        diag_file response "$TMP/raw.out"
    fi
    hz=$(hit GET /healthz "" 3 | cut -d'|' -f1)
    if server_alive && [ "$hz" = 200 ]; then
        ok "after '$desc': usersvc is alive, GET /healthz -> 200"
    else
        not_ok "after '$desc': usersvc is alive, GET /healthz -> 200 (got $hz)"
        server_alive || bail "usersvc died after '$desc'"
    fi
}

# --- framing: Content-Length vs Transfer-Encoding --------------------------
raw_send "POST /users HTTP/1.1${CRLF}${H}${J}Content-Length: 4${CRLF}Transfer-Encoding: chunked${CRLF}${CRLF}11${CRLF}{\"login\":\"smug1\"}${CRLF}0${CRLF}${CRLF}"
judge "Content-Length and Transfer-Encoding: chunked" 400-close
raw_send "POST /users HTTP/1.1${CRLF}${H}${J}Transfer-Encoding: chunked${CRLF}Content-Length: 17${CRLF}${CRLF}{\"login\":\"smug2\"}"
judge "Transfer-Encoding: chunked, then Content-Length" 400-close
raw_send "POST /users HTTP/1.1${CRLF}${H}${J}Content-Length: 17${CRLF}Content-Length: 16${CRLF}${CRLF}{\"login\":\"smug3\"}"
judge "two different Content-Length values" 400-close
raw_send "POST /users HTTP/1.1${CRLF}${H}${J}Content-Length: abc${CRLF}${CRLF}{}"
judge "Content-Length: abc" 4xx-close
raw_send "POST /users HTTP/1.1${CRLF}${H}${J}Content-Length: -1${CRLF}${CRLF}{}"
judge "Content-Length: -1" 4xx-close
raw_send "POST /users HTTP/1.1${CRLF}${H}${J}Content-Length: 99999999999999999999999${CRLF}${CRLF}{}"
judge "Content-Length beyond 64 bits" 4xx-close
raw_send "POST /users HTTP/1.1${CRLF}${H}${J}Expect: 100-continue${CRLF}Content-Length: 10000000${CRLF}${CRLF}"
judge "Expect: 100-continue with 10 MB declared" 4xx-close

# --- chunk sizes -------------------------------------------------------------
TE="Transfer-Encoding: chunked${CRLF}"
raw_send "POST /users HTTP/1.1${CRLF}${H}${J}${TE}${CRLF}zz${CRLF}{\"login\":\"chunk1\"}${CRLF}0${CRLF}${CRLF}"
judge "chunk size 'zz'" 4xx-close
raw_send "POST /users HTTP/1.1${CRLF}${H}${J}${TE}${CRLF}FFFFFFFFFFFFFFFFFFFFFFFF${CRLF}{\"login\":\"chunk2\"}${CRLF}0${CRLF}${CRLF}"
judge "chunk size beyond 64 bits" 4xx-close
raw_send "POST /users HTTP/1.1${CRLF}${H}${J}${TE}${CRLF}-10${CRLF}{\"login\":\"chunk3\"}${CRLF}0${CRLF}${CRLF}"
judge "negative chunk size" 4xx-close
raw_send "POST /users HTTP/1.1${CRLF}${H}${J}${TE}${CRLF}7FFFFFFFFFFFFFFF${CRLF}{\"login\":\"chunk4\"}" --half-close
judge "chunk size 2^63-1, then end of input" 4xx-close
raw_send "POST /users HTTP/1.1${CRLF}${H}${J}${TE}${CRLF}5${CRLF}{\"login\":\"chunk5\"}${CRLF}0${CRLF}${CRLF}"
judge "chunk longer than its size" 4xx-close

# --- sizes beyond --max-header-bytes ----------------------------------------
big=$(head -c 20000 /dev/zero | tr '\0' a)
raw_send "GET /healthz HTTP/1.1${CRLF}${H}X-Big: ${big}${CRLF}${CRLF}"
judge "one 20000-byte header (limit $MAX_HEADER)" 4xx-close
{ printf 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n'
  for i in $(seq 1 2000); do printf 'X-H%d: v\r\n' "$i"; done
  printf '\r\n'; } >"$TMP/many.req"
raw_send_file "$TMP/many.req"
judge "2000 headers" 4xx-close
{ printf 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Huge: '
  head -c 1000000 /dev/zero | tr '\0' a
  printf '\r\n\r\n'; } >"$TMP/huge.req"
raw_send_file "$TMP/huge.req"
judge "a 1 MB header" 4xx-close
raw_send "GET /${big} HTTP/1.1${CRLF}${H}${CRLF}"
judge "a 20000-byte request target" 4xx-close
raw_send "${big} /healthz HTTP/1.1${CRLF}${H}${CRLF}"
judge "a 20000-byte method" 4xx-close

# --- NUL bytes ---------------------------------------------------------------
raw_send "GET /healthz\0/x HTTP/1.1${CRLF}${H}Connection: close${CRLF}${CRLF}"
judge "NUL in the request target" 4xx
raw_send "GE\0T /healthz HTTP/1.1${CRLF}${H}Connection: close${CRLF}${CRLF}"
judge "NUL in the method" 4xx
raw_send "GET /healthz HTTP/1.1\0${CRLF}${H}Connection: close${CRLF}${CRLF}"
judge "NUL after the HTTP version" 4xx
raw_send "GET /healthz HTTP/1.1${CRLF}${H}X-\0Name: v${CRLF}Connection: close${CRLF}${CRLF}"
judge "NUL in a header name" 4xx
raw_send "GET /healthz HTTP/1.1${CRLF}Host: 127.0.0.1\0evil.example${CRLF}Connection: close${CRLF}${CRLF}"
judge "NUL in the Host value" 4xx
raw_send "POST /users HTTP/1.1${CRLF}${H}${J}Content-Length: 17\0 999${CRLF}Connection: close${CRLF}${CRLF}{\"login\":\"nul01\"}"
judge "NUL in the Content-Length value" 4xx
raw_send "GET /healthz HTTP/1.1${CRLF}${H}Connection: close${CRLF}X-Ok: a\0b${CRLF}${CRLF}"
judge "NUL in another header's value" 4xx

# --- Host ----------------------------------------------------------------------
raw_send "GET /healthz HTTP/1.1${CRLF}Connection: close${CRLF}${CRLF}"
judge "HTTP/1.1 without Host" 400-close
raw_send "POST /users HTTP/1.1${CRLF}${J}Content-Length: 17${CRLF}${CRLF}{\"login\":\"nohst\"}"
judge "HTTP/1.1 POST without Host" 400-close
raw_send "GET /healthz HTTP/1.0${CRLF}${CRLF}"
expect_eq "$RAW_STATUS" 200 "HTTP/1.0 without Host is fine -> 200"
expect_json .status ok "HTTP/1.0 without Host: the /healthz body"

# --- pipelining ------------------------------------------------------------------
raw_send "GET /healthz HTTP/1.1${CRLF}${H}${CRLF}GET /users/${ID} HTTP/1.1${CRLF}${H}${CRLF}GET /nope HTTP/1.1${CRLF}${H}Connection: close${CRLF}${CRLF}"
expect_eq "$RAW_STATUSES" "200 200 404" "three pipelined GETs in one write: three answers, in order"
expect_json .status ok "pipelined: the first answer is /healthz's"
if grep -aq '"login":"pipe1"' "$TMP/raw.out"; then
    ok "pipelined: the second answer is user $ID"
else
    not_ok "pipelined: the second answer is user $ID"
fi
expect_eq "$RAW_RESULT" closed "pipelined: Connection: close on the last request is honoured"
raw_send "POST /users HTTP/1.1${CRLF}${H}${J}Content-Length: 17${CRLF}${CRLF}{\"login\":\"pipe2\"}GET /users?login=pipe2 HTTP/1.1${CRLF}${H}Connection: close${CRLF}${CRLF}"
expect_eq "$RAW_STATUSES" "201 200" "a POST and a GET pipelined: 201, then 200"
if grep -aq '"items":\[{"id":[0-9]*,"login":"pipe2"' "$TMP/raw.out"; then
    ok "pipelined: the GET sees the user the POST before it created"
else
    not_ok "pipelined: the GET sees the user the POST before it created"
    diag_file response "$TMP/raw.out"
fi

# --- garbage and absurd request lines ----------------------------------------
"$PYTHON" -c 'import random, sys
r = random.Random(20261121)
sys.stdout.buffer.write(bytes(r.randrange(256) for _ in range(512)) + b"\r\n\r\n")' >"$TMP/garbage.req"
raw_send_file "$TMP/garbage.req"
judge "512 random bytes" 4xx-close
raw_send '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\x8a\x1b\x00\x00\x02\x13\x01\x01\x00' --half-close
judge "a TLS ClientHello, then end of input" 4xx-close
raw_send "${CRLF}${CRLF}${CRLF}${CRLF}" --half-close
judge "empty lines only, then end of input" 4xx-close
raw_send "GET /healthz HTTP/1.1${CRLF}Host: 127.0.0.1" --half-close
judge "an unfinished request, then end of input" 4xx-close
raw_send "GET${CRLF}${CRLF}"
judge "request line 'GET'" 4xx-close
raw_send "GET / FOO/1.1${CRLF}${H}${CRLF}"
judge "request line 'GET / FOO/1.1'" 4xx-close
raw_send "GET /healthz HTTP/9.9${CRLF}${H}${CRLF}"
judge "HTTP/9.9" 4xx/505-close
raw_send "GET /heal\rthz HTTP/1.1${CRLF}${H}Connection: close${CRLF}${CRLF}"
judge "a bare CR in the request target" 4xx
# RFC 9112 5.2: reject with 400, or replace the fold by spaces.
raw_send "GET /healthz HTTP/1.1${CRLF}${H}X-Folded: a${CRLF} continued${CRLF}Connection: close${CRLF}${CRLF}"
judge "an obsolete folded header line" 4xx-or-200
raw_send "GET /healthz HTTP/1.1${CRLF}${H}No colon here${CRLF}${CRLF}"
judge "a header line without a colon" 4xx-close

# --- nothing refused was stored ------------------------------------------------
STORED=$(db_exec "SELECT login FROM users ORDER BY login" | tr '\n' ' ' | sed 's/ $//')
expect_eq "$STORED" "pipe1 pipe2" "requests that were refused stored nothing (users: $STORED)"
expect_eq "$(log_5xx)" "" "the access log has no 5xx but 503"
