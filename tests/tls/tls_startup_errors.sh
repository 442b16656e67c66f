#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A TLS configuration error stops `serve` with exit status 2 and a message
# naming the file, before it listens: it never falls back to plain HTTP.
source "$(dirname "$0")/lib.sh"

tls_ca ca
tls_cert ca server "/CN=localhost" server
tls_cert ca other "/CN=localhost" server
tls_cert ca old "/CN=localhost" server 20200101000000Z 20200102000000Z
echo 'not a certificate' >"$CERTS/garbage.pem"
: >"$CERTS/empty.pem"
head -c 200 "$CERTS/server.pem" >"$CERTS/truncated.pem"
[ -n "$DB_URL" ] || new_database

# fails_with DESC ERE ARGS...: serve ARGS exits 2, says ERE, never listens.
fails_with() {
    local desc=$1 re=$2
    shift 2
    run_cli -t 20 serve --database "$DB_URL" --migrate --host 127.0.0.1 --port 0 "$@"
    expect_cli_rc 2 "$desc: exit status 2"
    expect_output "$re" "$desc: the message names the file"
    expect_output_not_contains "listening on" "$desc: never listens"
}

C=(--tls-cert "$CERTS/server.pem")
K=(--tls-key "$CERTS/server.key")
fails_with "certificate without key" "TLS_CERT_FILE is set but TLS_KEY_FILE is not" "${C[@]}"
fails_with "key without certificate" "TLS_KEY_FILE is set but TLS_CERT_FILE is not" "${K[@]}"
fails_with "client CA without certificate and key" "TLS_CLIENT_CA_FILE needs TLS_CERT_FILE" \
    --tls-client-ca "$CERTS/ca.pem"
fails_with "missing certificate file" "cannot read certificate file .*/nope\.pem: no such file" \
    --tls-cert "$CERTS/nope.pem" "${K[@]}"
fails_with "missing key file" "cannot read key file .*/nope\.key: no such file" \
    "${C[@]}" --tls-key "$CERTS/nope.key"
fails_with "a directory as certificate" "cannot read certificate file .*/certs" \
    --tls-cert "$CERTS" "${K[@]}"
if [ "$(id -u)" != 0 ]; then
    cp "$CERTS/server.key" "$CERTS/locked.key"
    chmod 000 "$CERTS/locked.key"
    fails_with "unreadable key file" "cannot read key file .*/locked\.key: permission denied" \
        "${C[@]}" --tls-key "$CERTS/locked.key"
fi
fails_with "malformed certificate" "certificate file .*/garbage\.pem holds no valid PEM" \
    --tls-cert "$CERTS/garbage.pem" "${K[@]}"
fails_with "truncated certificate" "certificate file .*/truncated\.pem holds no valid PEM" \
    --tls-cert "$CERTS/truncated.pem" "${K[@]}"
fails_with "a key as certificate" "certificate file .*/server\.key holds no valid PEM" \
    --tls-cert "$CERTS/server.key" "${K[@]}"
fails_with "malformed key" "key file .*/garbage\.pem holds no valid unencrypted PEM private key" \
    "${C[@]}" --tls-key "$CERTS/garbage.pem"
fails_with "a certificate as key" "key file .*/server\.pem holds no valid" \
    "${C[@]}" --tls-key "$CERTS/server.pem"
fails_with "key of another certificate" \
    "key in .*/other\.key does not match the certificate in .*/server\.pem" \
    "${C[@]}" --tls-key "$CERTS/other.key"
fails_with "expired certificate" "certificate in .*/old\.pem expired on 2020-01-02T00:00:00Z" \
    --tls-cert "$CERTS/old.pem" --tls-key "$CERTS/old.key"
fails_with "missing client CA" "cannot read client CA file .*/nope-ca\.pem" \
    "${C[@]}" "${K[@]}" --tls-client-ca "$CERTS/nope-ca.pem"
fails_with "malformed client CA" "client CA file .*/garbage\.pem holds no valid PEM certificate" \
    "${C[@]}" "${K[@]}" --tls-client-ca "$CERTS/garbage.pem"
fails_with "empty client CA" "client CA file .*/empty\.pem holds no valid PEM certificate" \
    "${C[@]}" "${K[@]}" --tls-client-ca "$CERTS/empty.pem"

# The environment variables work the same way.
TLS_CERT_FILE=$CERTS/server.pem TLS_KEY_FILE=$CERTS/other.key \
    fails_with "TLS_CERT_FILE/TLS_KEY_FILE" "key in .*/other\.key does not match" 

# And the good pair starts, over HTTPS only.
start_tls_server
expect_match "$BASE_URL" '^https://' "the good certificate and key serve HTTPS"
