#!/usr/bin/env bash
# POST /users: absurdly deep nesting is 400 or 422, never a crash or a hang.
. "$(dirname "$0")/lib.sh"

deep() {  # DESC FILE
    post_file /users "$2"
    if [ "$RESP_STATUS" = 400 ] || [ "$RESP_STATUS" = 422 ]; then
        ok "$1 -> 400 or 422"
    else
        not_ok "$1 -> 400 or 422"
        diag "got $RESP_STATUS"
    fi
    expect_header Content-Type '^application/problem\+json' "$1: problem+json"
    get /healthz
    expect_status 200 "server alive after $1"
}

# nest N: prints N '[', a value, N ']'.
nest() {
    head -c "$1" /dev/zero | tr '\0' '['
    printf '1'
    head -c "$1" /dev/zero | tr '\0' ']'
}

start_server
# Within the default 64 KiB limit: ~30000 levels.
{ printf '{"login":"deep1","first_name":'; nest 30000; printf '}'; } >"$TMP/arr.json"
deep "30000 nested arrays in first_name" "$TMP/arr.json"
{ printf '{"login":"deep2","first_name":'
  for i in $(seq 1 6000); do printf '{"a":'; done; printf '1'
  head -c 6000 /dev/zero | tr '\0' '}'; printf '}'; } >"$TMP/obj.json"
deep "6000 nested objects in first_name" "$TMP/obj.json"
{ nest 30000; } >"$TMP/top.json"
deep "30000 nested arrays as the whole body" "$TMP/top.json"
{ head -c 40000 /dev/zero | tr '\0' '['; } >"$TMP/open.json"
deep "40000 unclosed brackets" "$TMP/open.json"

# With a big body limit: a million levels.
start_server --max-body-bytes 4000000
{ printf '{"login":"deep3","first_name":'; nest 1000000; printf '}'; } >"$TMP/big.json"
deep "1000000 nested arrays (limit raised to 4 MB)" "$TMP/big.json"

post /users '{"login":"deep1"}'
expect_status 201 "nothing stored by the rejected deep bodies"
