#!/usr/bin/env bash
# GET /users/{id}: 200 with the user; 404 for ids that do not exist or are not
# a positive 63-bit decimal; leading zeros accepted; a trailing slash is 404.
. "$(dirname "$0")/lib.sh"
start_server

create_user gina Gina Get
id=$(json_get .id)
cp "$RESP_BODY" "$TMP/created.json"

get "/users/$id"
expect_status 200
expect_user "GET /users/$id"
expect_json .login gina
expect_json .first_name Gina
expect_json .last_name Get
expect_json .id "$id"

# Leading zeros name the same user.
for zeros in 0 00 000000000000000000000000000000; do
    get "/users/$zeros$id"
    expect_status 200 "GET /users/$zeros$id is user $id"
    expect_eq "$(jq -cS . "$RESP_BODY")" "$(jq -cS . "$TMP/created.json")" \
        "GET /users/$zeros$id returns the same body"
done

# Not a positive 63-bit decimal, or no such user.
for p in abc 0 00 -1 "-$id" "+$id" "%20$id" "${id}abc" "${id}.0" 1e3 0x1 \
         99999999999999999999 9223372036854775808 18446744073709551616 \
         9223372036854775807 123456789 "$((id + 1000))" ""; do
    get "/users/$p"
    expect_problem 404 "GET /users/$p"
done

# Trailing slash and extra segments are other (unknown) paths.
get "/users/$id/"
expect_problem 404 "GET /users/$id/ (trailing slash)"
get "/users/$id/extra"
expect_problem 404 "GET /users/$id/extra"
get "/users//$id"
expect_problem 404 "GET /users//$id"

# A second user has a different id and body.
create_user hugo
get "/users/$USER_ID"
expect_status 200
expect_json .login hugo "GET of the second user"
check "ids differ" test "$USER_ID" != "$id"

# A query string does not change which user is read.
get "/users/$id?x=1"
if [ "$RESP_STATUS" = 200 ] || [ "$RESP_STATUS" = 400 ]; then
    ok "GET /users/$id?x=1 is 200 or 400, not a crash"
else
    not_ok "GET /users/$id?x=1 is 200 or 400"; diag "got $RESP_STATUS"
fi
