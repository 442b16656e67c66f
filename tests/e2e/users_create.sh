#!/usr/bin/env bash
# POST /users: 201, Location, the exact user shape, created_at format and that
# the created_at of the 201 body is byte-for-byte what later GETs return;
# updated_at (second stage) equals created_at at creation.
. "$(dirname "$0")/lib.sh"
start_server

before=$(date -u +%s)
post /users '{"login":"alice","first_name":"Alice","last_name":"Liddell"}'
expect_status 201
expect_user "POST /users"
expect_header Location '^/users/[0-9]+$' "Location is the relative path /users/{id}"
expect_json .login alice
expect_json .first_name Alice
expect_json .last_name Liddell
id1=$(json_get .id)
expect_eq "$(header_value Location)" "/users/$id1" "Location names the id of the body"
created_raw=$(raw_json_member created_at)
cp "$RESP_BODY" "$TMP/created.json"
# Second stage: updated_at equals created_at at creation, byte for byte.
expect_eq "$(raw_json_member updated_at | sed 's/^"updated_at"/"created_at"/')" "$created_raw" \
    "updated_at of the 201 is byte-for-byte its created_at"

# created_at is "now" (within a minute of the test's clock), in UTC.
ts=$(json_get .created_at)
epoch=$(date -u -d "$(printf '%s' "$ts" | sed 's/T/ /; s/Z$//')" +%s 2>/dev/null || echo 0)
after=$(date -u +%s)
check "created_at is the insert time in UTC (±60 s)" \
    test "$epoch" -ge $((before - 60)) -a "$epoch" -le $((after + 60))

get "/users/$id1"
expect_status 200
expect_user "GET /users/$id1"
expect_eq "$(raw_json_member created_at)" "$created_raw" \
    "created_at of GET is byte-for-byte the one of the 201"
expect_eq "$(jq -cS . "$RESP_BODY")" "$(jq -cS . "$TMP/created.json")" \
    "GET returns the same user as the 201 body"
sleep 1
get "/users/$id1"
expect_eq "$(raw_json_member created_at)" "$created_raw" "created_at unchanged a second later"

# Absent names are null; explicit null is accepted; login is kept as given.
post /users '{"login":"MiXeD.Case_9-z"}'
expect_status 201
expect_user "POST without names"
expect_json .login MiXeD.Case_9-z "login is returned exactly as given"
expect_json .first_name null "absent first_name is null"
expect_json .last_name null "absent last_name is null"
id2=$(json_get .id)
check "ids grow: second id > first id" test "$id2" -gt "$id1"

post /users '{"login":"bob","first_name":null,"last_name":null}'
expect_status 201 "explicit null names accepted"
expect_json .first_name null
expect_json .last_name null

post /users '{"last_name":"Order","login":"carol","first_name":"Keys"}'
expect_status 201 "member order does not matter"
expect_json .login carol

# Insignificant whitespace around tokens is fine JSON.
post /users $' \n\t{ "login" : "dave" ,\r\n "first_name" : "D" } \n'
expect_status 201 "JSON with insignificant whitespace"
expect_json .first_name D

get "/users/$id2"
expect_status 200
expect_json .login MiXeD.Case_9-z "GET returns login as stored"
expect_json .first_name null
