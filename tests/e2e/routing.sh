#!/usr/bin/env bash
# Unknown paths are 404; known paths with a wrong method are 405 with Allow
# (second stage: GET/PATCH/DELETE on /users/{id}, GET/POST on /users).
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

# allow_is METHODS...: the Allow header lists exactly METHODS (any order).
allow_is() {
    local got want
    got=$(header_value Allow | tr ',' '\n' | tr -d ' ' | grep -v '^$' | sort | tr '\n' ' ')
    want=$(printf '%s\n' "$@" | sort | tr '\n' ' ')
    [ "$got" = "$want" ]
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

# Second stage: /users answers GET (list), HEAD and POST; /users/{id} answers
# GET, HEAD, PATCH and DELETE. PUT (a full replacement) is not offered.
for m in PUT POST OPTIONS; do
    request "$m" "/users/$id"
    expect_problem 405 "$m /users/$id"
    check "$m /users/$id: Allow is GET, HEAD, PATCH, DELETE ($(header_value Allow))" \
        allow_is GET HEAD PATCH DELETE
done
request PUT /users/1 -H 'Content-Type: application/json' --data-binary '{"login":"put"}'
expect_problem 405 "PUT /users/1 with a body"
check "PUT /users/1: Allow is GET, HEAD, PATCH, DELETE ($(header_value Allow))" \
    allow_is GET HEAD PATCH DELETE
get '/users?login=put'
expect_json '.items | length' 0 "the PUT stored nothing"
for m in PUT PATCH DELETE; do
    request "$m" /users
    expect_problem 405 "$m /users"
    check "$m /users: Allow is GET, HEAD, POST ($(header_value Allow))" allow_is GET HEAD POST
done
# The second-stage methods are routed (not 405) on /users/{id}...
request PATCH /users/424242 -H 'Content-Type: application/merge-patch+json' --data-binary '{}'
expect_problem 404 "PATCH of a missing user is routed: 404, not 405"
request DELETE /users/424242
expect_problem 404 "DELETE of a missing user is routed: 404, not 405"
get /users
expect_status 200 "GET /users is routed: 200, not 405"
# ...and the list is a path of its own: /users/ is still unknown.
request PATCH /users/ -H 'Content-Type: application/merge-patch+json' --data-binary '{}'
expect_problem 404 "PATCH /users/ (no id) is an unknown path"
request DELETE "/users/$id/"
expect_problem 404 "DELETE /users/$id/ (trailing slash) is an unknown path"
get "/users/$id"
expect_status 200 "user $id untouched by the routing checks"
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
