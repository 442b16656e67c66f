#!/usr/bin/env bash
# Unknown paths are 404; known paths with a wrong method are 405 with Allow.
. "$(dirname "$0")/lib.sh"
start_server
create_user route
id=$USER_ID

for p in / /nope /user /Users /USERS/1 /healthz/ /readyz/x /users/ "/users/$id/" \
         "/users/$id/x" /api/users /favicon.ico /users.json /..%2fhealthz; do
    get "$p"
    expect_problem 404 "GET $p"
done
# A NUL byte in the path must not be cut off to "/healthz".
get "/healthz%00"
if [ "$RESP_STATUS" = 404 ] || [ "$RESP_STATUS" = 400 ]; then
    ok "GET /healthz%00 is 404 or 400 (not /healthz)"
else
    not_ok "GET /healthz%00 is 404 or 400 (not /healthz)"; diag "got $RESP_STATUS"
fi
get "/users/$id%00"
if [ "$RESP_STATUS" = 404 ] || [ "$RESP_STATUS" = 400 ]; then
    ok "GET /users/$id%00 is 404 or 400 (not user $id)"
else
    not_ok "GET /users/$id%00 is 404 or 400 (not user $id)"; diag "got $RESP_STATUS"
fi
request POST /nope -H 'Content-Type: application/json' --data-binary '{}'
expect_problem 404 "POST /nope"
request DELETE /nope/1
expect_problem 404 "DELETE /nope/1"

# allow_has METHOD: the Allow header lists METHOD as a token.
allow_has() {
    header_value Allow | tr ',' '\n' | tr -d ' ' | grep -x -- "$1" >/dev/null
}

wrong() {  # METHOD PATH MUST_ALLOW
    request "$1" "$2"
    expect_problem 405 "$1 $2"
    check "$1 $2: Allow lists $3 ($(header_value Allow))" allow_has "$3"
    if allow_has "$1"; then
        not_ok "$1 $2: Allow does not list $1"
    else
        ok "$1 $2: Allow does not list $1"
    fi
}

wrong PUT /users POST
wrong DELETE /users POST
wrong PATCH /users POST
wrong DELETE /healthz GET
wrong POST /healthz GET
wrong PUT /readyz GET
wrong POST "/users/$id" GET
wrong PUT "/users/$id" GET
wrong POST /users/1 GET
wrong PUT /users/abc GET
# The method token is case-sensitive: "get" is not GET.
request get "/users/$id"
if [ "$RESP_STATUS" = 405 ] || [ "$RESP_STATUS" = 400 ] || [ "$RESP_STATUS" = 501 ]; then
    ok "lower-case method 'get' is not GET (405/400/501)"
else
    not_ok "lower-case method 'get' is not GET"; diag "got $RESP_STATUS"
fi

# HEAD of a GET resource: no body, but the same status.
request HEAD /healthz
expect_status 200 "HEAD /healthz"
expect_header Content-Type '^application/json' "HEAD /healthz: Content-Type of the GET"
