#!/usr/bin/env bash
# HTTP/1.1 message framing (RFC 9112) with raw bytes on a TCP connection:
# ambiguous framing and missing Host are 400 and close the connection.
. "$(dirname "$0")/lib.sh"
start_server

CRLF='\r\n'
J='Content-Type: application/json\r\n'

expect_closed() {
    expect_eq "$RAW_CLOSED" 1 "$1: server closed the connection"
}

# Both Content-Length and Transfer-Encoding (request smuggling vector).
raw_request "POST /users HTTP/1.1${CRLF}Host: 127.0.0.1${CRLF}${J}Content-Length: 4${CRLF}Transfer-Encoding: chunked${CRLF}${CRLF}11${CRLF}{\"login\":\"smug1\"}${CRLF}0${CRLF}${CRLF}"
expect_problem 400 "POST with Content-Length and Transfer-Encoding"
expect_closed "CL+TE"
raw_request "POST /users HTTP/1.1${CRLF}Host: 127.0.0.1${CRLF}${J}Transfer-Encoding: chunked${CRLF}Content-Length: 17${CRLF}${CRLF}{\"login\":\"smug2\"}"
expect_problem 400 "POST with Transfer-Encoding before Content-Length"
expect_closed "TE+CL"
raw_request "GET /healthz HTTP/1.1${CRLF}Host: 127.0.0.1${CRLF}Content-Length: 0${CRLF}Transfer-Encoding: chunked${CRLF}${CRLF}0${CRLF}${CRLF}"
expect_problem 400 "GET with Content-Length and Transfer-Encoding"
expect_closed "GET CL+TE"

# HTTP/1.1 without Host, or with two.
raw_request "GET /healthz HTTP/1.1${CRLF}${CRLF}"
expect_problem 400 "HTTP/1.1 GET without Host"
expect_closed "no Host"
raw_request "POST /users HTTP/1.1${CRLF}${J}Content-Length: 18${CRLF}${CRLF}{\"login\":\"nohost\"}"
expect_problem 400 "HTTP/1.1 POST without Host"
expect_closed "POST without Host"
raw_request "GET /healthz HTTP/1.1${CRLF}Host: a${CRLF}Host: b${CRLF}${CRLF}"
expect_problem 400 "HTTP/1.1 request with two Host headers"

# Conflicting Content-Length values.
raw_request "POST /users HTTP/1.1${CRLF}Host: a${CRLF}${J}Content-Length: 17${CRLF}Content-Length: 16${CRLF}${CRLF}{\"login\":\"smug3\"}"
expect_problem 400 "two different Content-Length values"
expect_closed "two Content-Lengths"

# Nothing of the above was stored.
for l in smug1 smug2 nohost smug3; do
    post /users "{\"login\":\"$l\"}"
    expect_status 201 "login $l was not stored by the rejected request"
done

# Well-formed raw requests work.
raw_request "GET /healthz HTTP/1.0${CRLF}${CRLF}"
expect_status 200 "HTTP/1.0 without Host is fine"
expect_json .status ok "HTTP/1.0 /healthz body"
raw_request "POST /users HTTP/1.1${CRLF}Host: 127.0.0.1${CRLF}${J}Connection: close${CRLF}Transfer-Encoding: chunked${CRLF}${CRLF}5${CRLF}{\"log${CRLF}c${CRLF}in\":\"chunk\"}${CRLF}0${CRLF}${CRLF}"
expect_status 201 "chunked POST split over two chunks"
expect_json .login chunk "chunked body reassembled"

# Keep-alive: two pipelined requests on one connection get two responses.
raw_request "GET /healthz HTTP/1.1${CRLF}Host: a${CRLF}${CRLF}GET /readyz HTTP/1.1${CRLF}Host: a${CRLF}Connection: close${CRLF}${CRLF}"
expect_eq "$(grep -ao 'HTTP/1.1 200 ' "$TMP/raw.out" | wc -l)" 2 "two pipelined requests, two 200 responses"
expect_closed "Connection: close honoured"

get /healthz
expect_status 200 "server alive after the framing tests"
