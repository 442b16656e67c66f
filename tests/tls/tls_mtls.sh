#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Mutual TLS (TLS_CLIENT_CA_FILE): a client certificate that chains to the CA
# is required. A good one works and its subject is in the access log, escaped;
# no certificate, a certificate of another CA (same subject), an expired one
# or a server certificate (no clientAuth purpose) fail the handshake, over
# TLS 1.2 and 1.3, before any request is served.
source "$(dirname "$0")/lib.sh"

tls_ca ca
tls_ca other
tls_cert ca server "/CN=localhost" server
tls_cert ca client "/CN=client one/O=Acme \"Q\"" client
tls_cert other foreign "/CN=client one/O=Acme \"Q\"" client
tls_cert ca expired "/CN=client one/O=Acme \"Q\"" client 20200101000000Z 20200102000000Z
tls_cert ca server2 "/CN=not a client" server

CURL_TLS_EXTRA=(--cert "$CERTS/client.pem" --key "$CERTS/client.key")
start_tls_server --tls-client-ca "$CERTS/ca.pem"

create_user bob Bob
get "/users/$USER_ID"
expect_status 200 "a client with a good certificate is served"
line=$(grep 'INFO http request method=GET path=/users/' "$SERVER_LOG" | tail -n 1)
expect_match "$line" ' client_cert="O=Acme \\\\\\"Q\\\\\\",CN=client one"$' \
    "the access log names the client's subject, quoted and escaped (its quotes cannot end the value)"

# refused DESC CURL-ARGS...: the transfer gets no HTTP response, and the
# server served no request: each attempt asks for a path of its own
# (/users/9000N), which no access log line may then show.
PROBE=90000
refused() {
    local desc=$1 code
    shift
    PROBE=$((PROBE + 1))
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --cacert "$CERTS/ca.pem" "$@" \
           "$BASE_URL/users/$PROBE" 2>/dev/null)
    expect_eq "$code" 000 "$desc: no HTTP response"
    sleep 0.3
    expect_eq "$(grep -c "path=/users/$PROBE " "$SERVER_LOG")" 0 "$desc: no request was served"
}

for v in 1.2 1.3; do
    pin=(--tlsv$v --tls-max $v)
    refused "TLS $v without a client certificate" "${pin[@]}"
    refused "TLS $v, a certificate of another CA" "${pin[@]}" \
        --cert "$CERTS/foreign.pem" --key "$CERTS/foreign.key"
    refused "TLS $v, an expired client certificate" "${pin[@]}" \
        --cert "$CERTS/expired.pem" --key "$CERTS/expired.key"
    refused "TLS $v, a server certificate as a client certificate" "${pin[@]}" \
        --cert "$CERTS/server2.pem" --key "$CERTS/server2.key"
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "${pin[@]}" "${CURL_TLS[@]}" \
           "$BASE_URL/healthz" 2>/dev/null)
    expect_eq "$code" 200 "TLS $v with the good certificate works"
done
check "the log says why the foreign certificate was refused" \
    grep -q 'client certificate refused: .*issuer is unknown' "$SERVER_LOG"
check "the log says why the expired certificate was refused" \
    grep -q 'client certificate refused: .*expired' "$SERVER_LOG"

# openssl s_client sends a request: answered only with the certificate.
s_client_get() {
    { printf 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n'; sleep 1; } \
        | timeout 10 openssl s_client -connect "127.0.0.1:$PORT_NUM" -CAfile "$CERTS/ca.pem" \
            -quiet "$@" 2>/dev/null | head -n 1 | tr -d '\r'
}
for v in -tls1_2 -tls1_3; do
    expect_eq "$(s_client_get "$v")" "" "openssl s_client $v without a certificate: no answer"
    expect_eq "$(s_client_get "$v" -cert "$CERTS/client.pem" -key "$CERTS/client.key")" \
        "HTTP/1.1 200 OK" "openssl s_client $v with the certificate: 200"
done
