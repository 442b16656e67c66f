#!/usr/bin/env bash
# POST /users: bodies over the limit (64 KiB by default, --max-body-bytes
# otherwise) are 413, chunked or not, and nothing is stored.
. "$(dirname "$0")/lib.sh"

# body_of_size LOGIN SIZE: a valid JSON object of exactly SIZE bytes (padding is
# insignificant whitespace), so only its size can make it fail.
body_of_size() {
    local head="{\"login\":\"$1\"" pad
    pad=$(( $2 - ${#head} - 1 ))
    { printf '%s' "$head"; head -c "$pad" /dev/zero | tr '\0' ' '; printf '}'; } >"$TMP/sized.json"
    [ "$(wc -c <"$TMP/sized.json")" -eq "$2" ] || bail "body_of_size $2"
}

start_server
body_of_size big1 65537
post_file /users "$TMP/sized.json"
expect_problem 413 "65537-byte body (default limit 64 KiB)"
body_of_size big1 65536
post_file /users "$TMP/sized.json"
expect_status 201 "65536-byte body is within the default limit"
expect_json .login big1 "the 65536-byte body was stored"

body_of_size big2 1000000
post_file /users "$TMP/sized.json"
expect_problem 413 "1 MB body"
head -c 20000000 /dev/zero | tr '\0' ' ' >"$TMP/huge.json"
post_file /users "$TMP/huge.json"
if [ "$RESP_STATUS" = 413 ] || [ "$RESP_STATUS" = 000 ]; then
    ok "20 MB body refused (413 or connection closed)"
else
    not_ok "20 MB body refused (413 or connection closed)"; diag "got $RESP_STATUS"
fi
get /healthz
expect_status 200 "server alive after a 20 MB body"

# Chunked bodies follow the same limit.
body_of_size chunky1 70000
post_file /users "$TMP/sized.json" application/json -H 'Transfer-Encoding: chunked'
expect_problem 413 "chunked 70000-byte body"
body_of_size chunky1 65537
post_file /users "$TMP/sized.json" application/json -H 'Transfer-Encoding: chunked'
expect_problem 413 "chunked 65537-byte body"
post /users '{"login":"chunky1","first_name":"Chunk"}' application/json -H 'Transfer-Encoding: chunked'
expect_status 201 "small chunked body accepted (and the over-limit one stored nothing)"
expect_json .first_name Chunk
body_of_size chunky2 60000
post_file /users "$TMP/sized.json" application/json -H 'Transfer-Encoding: chunked'
expect_status 201 "chunked 60000-byte body under the limit accepted"
expect_json .login chunky2

# A configured limit.
start_server --max-body-bytes 1024
body_of_size small1 1025
post_file /users "$TMP/sized.json"
expect_problem 413 "1025 bytes with --max-body-bytes 1024"
post_file /users "$TMP/sized.json" application/json -H 'Transfer-Encoding: chunked'
expect_problem 413 "chunked 1025 bytes with --max-body-bytes 1024"
body_of_size small1 1024
post_file /users "$TMP/sized.json"
expect_status 201 "1024 bytes with --max-body-bytes 1024"
expect_json .login small1

# A raised limit lets through what the default refuses.
start_server --max-body-bytes 200000
body_of_size big3 100000
post_file /users "$TMP/sized.json"
expect_status 201 "100000 bytes with --max-body-bytes 200000"

# Nothing from the refused bodies was stored.
post /users '{"login":"big2"}'
expect_status 201 "login of the refused 1 MB body is free"
