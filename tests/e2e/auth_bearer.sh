#!/usr/bin/env bash
# Bearer JWTs (API.md "Authentication and authorization", issue 15) over real
# HTTP, with keys and tokens from an independent implementation: PyJWT and
# python3-cryptography (tests/auth/mint.py), generated for this run. RS256,
# ES256 and EdDSA accepted; every failure of the issue refused with 401
# invalid_token; scopes per route (403 insufficient_scope, a prefix is not
# the scope); public health and OpenAPI routes; the order 404, 401/403,
# 405, 413; the subject in the access log and the token nowhere; iss/aud
# when configured; SIGHUP swaps the key set (and a broken file keeps it).
. "$(dirname "$0")/lib.sh"
. "$E2E_DIR/../auth/python.sh" || skip_all "no python3 with PyJWT (python3-jwt)"
MINT=$E2E_DIR/../auth/mint.py
KEYS=$TMP/keys
"$JWT_PYTHON" "$MINT" keys "$KEYS" || bail "mint.py generates keys"
"$JWT_PYTHON" "$MINT" cases "$KEYS" "$(date +%s)" || bail "mint.py mints the cases"
cp "$KEYS/jwks.json" "$TMP/served.json"

# token NAME: a case minted above.
token() { cat "$KEYS/cases/$1.jwt"; }
# mint ARGS...: a token minted now (mint.py token options).
mint() { "$JWT_PYTHON" "$MINT" token "$KEYS" "$@"; }
# as TOKEN METHOD PATH [CURL ARGS...]: a request with that bearer token.
as() {
    local t=$1 method=$2 path=$3
    shift 3
    request "$method" "$path" -H "Authorization: Bearer $t" "$@"
}
expect_invalid_token() {
    expect_problem 401 "$1"
    expect_header WWW-Authenticate '^Bearer realm="usersvc", error="invalid_token"$' \
        "$1: WWW-Authenticate names invalid_token"
    check "$1: the problem body does not echo the token" \
        test "$(grep -cF -- "${2:0:40}" "$RESP_BODY")" = 0
}

start_server --auth-jwks "$TMP/served.json" --auth-leeway-s 30

# --- the three algorithms ------------------------------------------------
for c in rs256 es256 eddsa typ_at_jwt typ_absent expired_within_leeway; do
    as "$(token $c)" GET /users
    expect_status 200 "GET /users with a valid token ($c) -> 200"
done
as "$(token eddsa)" HEAD /users
expect_status 200 "HEAD /users with users:read -> 200"
post /users '{"login":"alice"}' application/json -H "Authorization: Bearer $(token es256)"
expect_status 201 "POST /users with users:write (ES256) -> 201"
id=$(json_get .id)
as "$(token rs256)" GET "/users/$id"
expect_status 200 "GET /users/{id} with users:read -> 200"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
    -H "Authorization: Bearer $(token eddsa)" "$BASE_URL/metrics")
expect_eq "$code" 200 "GET /metrics with metrics:read -> 200"

# --- no token, and every failure --------------------------------------------
get /users
expect_problem 401 "GET /users without a token"
expect_header WWW-Authenticate '^Bearer realm="usersvc"$' "no token: a bare Bearer challenge"
get /users -H "Authorization: Basic YWxpY2U6c2VjcmV0"
expect_status 401 "GET /users with Basic credentials -> 401"
for c in expired not_yet_valid iat_future no_exp wrong_key unknown_kid no_kid \
         kid_of_other_type alg_none hs256_public_key ps256 crit typ_other tampered \
         truncated_signature extra_segment padded_segment huge duplicate_claims \
         duplicate_header deep_header; do
    t=$(token $c)
    as "$t" GET /users
    expect_invalid_token "GET /users with a token that is $c" "$t"
done
as "not-a-jwt" GET /users
expect_invalid_token "a token that is not a JWT" "not-a-jwt"

# --- scopes -------------------------------------------------------------------
read_only=$(mint --key ed --scope "users:read")
as "$read_only" GET /users
expect_status 200 "users:read alone may list"
post /users '{"login":"bob"}' application/json -H "Authorization: Bearer $read_only"
expect_problem 403 "POST /users with users:read only"
expect_header WWW-Authenticate \
    '^Bearer realm="usersvc", error="insufficient_scope", scope="users:write"$' \
    "403 names the scope users:write"
as "$read_only" PATCH "/users/$id" -H 'Content-Type: application/merge-patch+json' \
    --data '{"first_name":"x"}'
expect_status 403 "PATCH with users:read only -> 403"
as "$read_only" DELETE "/users/$id"
expect_status 403 "DELETE with users:read only -> 403"
as "$read_only" GET /metrics
expect_status 403 "GET /metrics without metrics:read -> 403"
expect_header WWW-Authenticate 'scope="metrics:read"' "403 names the scope metrics:read"
as "$(token scope_prefix)" GET /users
expect_status 403 "scope 'users:rea users:readx' is not users:read -> 403"
as "$(token no_scope)" GET /users/1
expect_status 403 "a token without a scope claim -> 403"

# --- public routes and the order 404, 401/403, 405, 413 ---------------------
for p in /healthz /readyz /openapi.json; do
    get "$p"
    expect_status 200 "GET $p needs no token"
done
get /nope
expect_status 404 "an unknown path without a token is 404, not 401"
request PUT /users
expect_status 401 "PUT /users without a token -> 401 before 405"
as "$read_only" PUT /users
expect_status 405 "PUT /users with a valid token -> 405"
expect_header Allow 'GET, HEAD, POST'
request POST /healthz
expect_status 405 "POST /healthz (public path) -> 405 without a token"
big=$(head -c 70000 /dev/zero | tr '\0' a)
post /users "{\"login\":\"$big\"}"
expect_status 401 "an oversized POST without a token -> 401 before 413"
post /users "{\"login\":\"$big\"}" application/json -H "Authorization: Bearer $read_only"
expect_status 403 "an oversized POST without users:write -> 403 before 413"
post /users "{\"login\":\"$big\"}" application/json -H "Authorization: Bearer $(token rs256)"
expect_status 413 "an oversized POST with users:write -> 413"

# --- the access log -----------------------------------------------------------
long=$(mint --sub "$(printf 'x%.0s' $(seq 1 244)) status=200")
as "$long" GET /users
expect_status 200 "a 255-byte sub (OpenID Connect's longest) is accepted"
too_long=$(mint --sub "$(printf 'x%.0s' $(seq 1 256))")
as "$too_long" GET /users
expect_status 401 "a 256-byte sub is refused, never cut (it scopes idempotency keys)"
forged=$(mint --sub 'eve status=500 request_id=forged')
as "$forged" GET /users
sleep 0.2
check "the access log carries subject=alice" grep -q 'subject=alice ' "$SERVER_LOG"
check "a 255-byte subject is logged whole, quoted, as one field" \
    grep -qE 'subject="x{244} status=200" ' "$SERVER_LOG"
check "a subject with spaces is quoted, not a field" \
    grep -qF 'subject="eve status=500 request_id=forged"' "$SERVER_LOG"
leaks=0
for c in rs256 es256 eddsa expired tampered hs256_public_key; do
    t=$(token $c)
    grep -qF -- "${t:0:60}" "$SERVER_LOG" && leaks=$((leaks + 1))
    grep -qF -- "${t: -40}" "$SERVER_LOG" && leaks=$((leaks + 1))
done
expect_eq "$leaks" 0 "no token (nor its signature) is ever logged"

# --- SIGHUP: a new key set replaces the old one; a broken one is refused -----
cp "$KEYS/ec.json" "$TMP/served.json"
kill -HUP "$SERVER_PID"
ec_only=$(mint --key ec --kid none)
for i in $(seq 1 50); do
    as "$ec_only" GET /users
    [ "$RESP_STATUS" = 200 ] && break
    sleep 0.1
done
expect_status 200 "after SIGHUP the new one-key set accepts its key without kid"
as "$(token rs256)" GET /users
expect_status 401 "after SIGHUP the RSA key is gone (and its cached token with it)"
printf '{"keys": [' >"$TMP/served.json"
kill -HUP "$SERVER_PID"
for i in $(seq 1 50); do
    grep -q 'reload failed' "$SERVER_LOG" && break
    sleep 0.1
done
check "a broken key set on SIGHUP is logged" grep -q 'key set reload failed' "$SERVER_LOG"
check "... naming the file" grep -qF "$TMP/served.json" "$SERVER_LOG"
as "$ec_only" GET /users
expect_status 200 "a failed reload keeps the previous key set"
check "the server survived both reloads" server_alive

# --- iss and aud when configured ------------------------------------------------
cp "$KEYS/jwks.json" "$TMP/served.json"
start_server --auth-jwks "$TMP/served.json" --auth-issuer https://issuer.test \
    --auth-audience usersvc
as "$(mint --iss https://issuer.test --aud usersvc)" GET /users
expect_status 200 "iss and aud as configured -> 200"
as "$(mint --iss https://evil.test --aud usersvc)" GET /users
expect_status 401 "wrong issuer -> 401"
as "$(mint --iss https://issuer.test --aud other)" GET /users
expect_status 401 "wrong audience -> 401"
as "$(mint --aud usersvc)" GET /users
expect_status 401 "no iss when one is required -> 401"
as "$(token audience_array_ok)" GET /users
expect_status 401 "aud array without iss -> 401"
