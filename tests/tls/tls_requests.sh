#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Over HTTPS (curl --cacert), the API works as over HTTP: create, read, list,
# change and delete a user; a keep-alive connection carries several requests;
# without mutual TLS the access log has no client_cert field.
source "$(dirname "$0")/lib.sh"

tls_ca ca
tls_cert ca server "/CN=localhost" server
start_tls_server

expect_match "$BASE_URL" '^https://127\.0\.0\.1:[0-9]+$' "the tests talk to https://"
create_user alice Alice Liddell
id=$USER_ID
expect_header Location "^/users/$id\$"
get "/users/$id"
expect_status 200 "GET over HTTPS"
expect_json .login alice
etag=$(header_value ETag)
patch "/users/$id" '{"first_name":"Alicia"}' application/merge-patch+json -H "If-Match: $etag"
expect_status 200 "PATCH over HTTPS"
expect_json .first_name Alicia
get /users
expect_status 200 "GET /users over HTTPS"
expect_json '.items | length' 1
request HEAD "/users/$id"
expect_status 200 "HEAD over HTTPS"
delete "/users/$id"
expect_status 204 "DELETE over HTTPS"
get "/users/$id"
expect_status 404 "the deleted user is gone"

# Keep-alive: curl reuses one TLS connection for the three transfers.
out=$(curl -sS --max-time 10 "${CURL_TLS[@]}" -o /dev/null -o /dev/null -o /dev/null -w '%{http_code} %{num_connects}\n' \
      "$BASE_URL/healthz" "$BASE_URL/users" "$BASE_URL/healthz" 2>&1)
expect_eq "$(printf '%s\n' "$out" | tr '\n' ' ')" "200 1 200 0 200 0 " \
    "three requests over one kept-alive TLS connection"

# An unverified client (no CA given to curl) fails: the certificate is ours.
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$BASE_URL/healthz" 2>/dev/null)
expect_eq "$code" 000 "curl without the CA does not trust the test certificate"

check "access log lines carry no client_cert without mutual TLS" \
    bash -c "! grep -q 'client_cert=' '$SERVER_LOG'"
check "access log lines are written over HTTPS" \
    grep -q 'INFO http request method=DELETE' "$SERVER_LOG"
