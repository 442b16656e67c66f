#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# SIGHUP reloads certificate, key and client CA without a restart and
# without dropping a connection: under a load of kept-alive and new
# connections the certificate is swapped with zero failed requests; new
# connections then see the new certificate; a broken file (or a key that
# does not match) on reload keeps the old ones serving and the log says why.
# With mutual TLS a new client CA is taken the same way.
source "$(dirname "$0")/lib.sh"

tls_ca ca
tls_cert ca a "/CN=usersvc-a" server
tls_cert ca b "/CN=usersvc-b" server
tls_cert ca c "/CN=usersvc-c" server

# install NAME: make NAME's certificate and key the live files (each by an
# atomic rename, as a deployment tool would).
install() {
    cp "$CERTS/$1.pem" "$CERTS/live.pem.tmp" && mv "$CERTS/live.pem.tmp" "$CERTS/live.pem"
    cp "$CERTS/$1.key" "$CERTS/live.key.tmp" && mv "$CERTS/live.key.tmp" "$CERTS/live.key"
}

# The subject CN a new connection is shown.
served_cn() {
    timeout 10 openssl s_client -connect "127.0.0.1:$PORT_NUM" -CAfile "$CERTS/ca.pem" \
        ${S_CLIENT_EXTRA[@]+"${S_CLIENT_EXTRA[@]}"} </dev/null 2>/dev/null \
        | openssl x509 -noout -subject 2>/dev/null | sed 's/.*CN *= *//'
}

# hup_and_wait PATTERN: SIGHUP the server and wait (5 s) for PATTERN in its log.
hup_and_wait() {
    local before i
    before=$(grep -c -- "$1" "$SERVER_LOG")
    kill -HUP "$SERVER_PID"
    for i in $(seq 1 100); do
        [ "$(grep -c -- "$1" "$SERVER_LOG")" -gt "$before" ] && return 0
        sleep 0.05
    done
    return 1
}

# Load: one kept-alive connection (curl, 150 requests at 50/s, about 3 s)
# and a loop of new connections, until $TMP/stop exists.
start_load() {
    rm -f "$TMP/stop" "$TMP/ka.out" "$TMP/new.out"
    curl -s --max-time 20 "${CURL_TLS[@]}" --rate 50/s -w '%{http_code} %{num_connects}\n' \
        -o /dev/null "$BASE_URL/healthz?n=[1-150]" >"$TMP/ka.out" 2>/dev/null &
    KA_PID=$!
    (
        while [ ! -e "$TMP/stop" ]; do
            curl -s --max-time 5 "${CURL_TLS[@]}" -o /dev/null -w '%{http_code}\n' \
                "$BASE_URL/healthz" >>"$TMP/new.out" 2>/dev/null || echo fail >>"$TMP/new.out"
        done
    ) &
    NEW_PID=$!
}

# stop_load DESC: end the load and check that every request got its 200 and
# that the kept-alive connection was never dropped.
stop_load() {
    local desc=$1 i
    for i in $(seq 1 200); do kill -0 "$KA_PID" 2>/dev/null || break; sleep 0.1; done
    touch "$TMP/stop"
    for i in $(seq 1 100); do kill -0 "$NEW_PID" 2>/dev/null || break; sleep 0.1; done
    kill "$KA_PID" "$NEW_PID" 2>/dev/null
    wait "$KA_PID" "$NEW_PID" 2>/dev/null
    expect_eq "$(awk '$1 == 200' "$TMP/ka.out" | wc -l)" 150 \
        "$desc: 150 of 150 kept-alive requests answered 200"
    expect_eq "$(awk '{ n += $2 } END { print n + 0 }' "$TMP/ka.out")" 1 \
        "$desc: all of them over one connection (never dropped)"
    expect_eq "$(grep -vc '^200$' "$TMP/new.out")" 0 \
        "$desc: no new-connection request failed"
    expect_match "$(grep -c '^200$' "$TMP/new.out")" '^([2-9]|[1-9][0-9]+)$' \
        "$desc: new connections were made during the reload ($(grep -c '^200$' "$TMP/new.out"))"
}

install a
CURL_TLS=(--cacert "$CERTS/ca.pem")
start_server --tls-cert "$CERTS/live.pem" --tls-key "$CERTS/live.key"
expect_eq "$(served_cn)" usersvc-a "at start, connections see certificate a"

start_load
sleep 0.7
install b
check "SIGHUP: the reload is logged" hup_and_wait 'INFO tls reloaded certificate'
sleep 0.3
expect_eq "$(served_cn)" usersvc-b "after SIGHUP, new connections see certificate b"
sleep 0.5
stop_load "rotation a -> b under load"

# A broken file on reload: b keeps serving, the log names the file.
start_load
sleep 0.5
echo 'garbage' >"$CERTS/live.pem"
check "SIGHUP with a broken certificate: the failure is logged with the file" \
    hup_and_wait 'ERROR tls reload failed, still serving the previous certificate: certificate file .*live\.pem holds no valid PEM'
expect_eq "$(served_cn)" usersvc-b "after the failed reload, connections still see b"
cp "$CERTS/c.pem" "$CERTS/live.pem"   # c's certificate with b's key
check "SIGHUP with a key that does not match: the failure is logged" \
    hup_and_wait 'ERROR tls reload failed, .*key in .*live\.key does not match the certificate in .*live\.pem'
expect_eq "$(served_cn)" usersvc-b "after the mismatched reload, connections still see b"
stop_load "failed reloads under load"
check "the server is still running" server_alive
install c
check "SIGHUP after the files are fixed" hup_and_wait 'INFO tls reloaded certificate'
expect_eq "$(served_cn)" usersvc-c "then new connections see certificate c"
stop_server

# Mutual TLS: the client CA is reloaded too.
tls_ca ca2
tls_cert ca client1 "/CN=client1" client
tls_cert ca2 client2 "/CN=client2" client
cp "$CERTS/ca.pem" "$CERTS/clients.pem"
client_get() {   # client_get N: the status a client with certificate N gets on a new connection
    curl -s -o /dev/null -w '%{http_code}' --max-time 5 --cacert "$CERTS/ca.pem" \
        --cert "$CERTS/client$1.pem" --key "$CERTS/client$1.key" "$BASE_URL/healthz" 2>/dev/null
}
CURL_TLS=(--cacert "$CERTS/ca.pem" --cert "$CERTS/client1.pem" --key "$CERTS/client1.key")
start_server --tls-cert "$CERTS/live.pem" --tls-key "$CERTS/live.key" \
    --tls-client-ca "$CERTS/clients.pem"
expect_eq "$(client_get 1)" 200 "client CA ca: client1 is served"
expect_eq "$(client_get 2)" 000 "client CA ca: client2 (ca2) is refused"
start_load
sleep 0.5
cat "$CERTS/ca.pem" "$CERTS/ca2.pem" >"$CERTS/clients.pem"
check "SIGHUP with both CAs" hup_and_wait 'INFO tls reloaded certificate'
expect_eq "$(client_get 2)" 200 "client CAs ca+ca2: client2 is served"
# The new-connection loop uses client1: stop it before ca is dropped.
touch "$TMP/stop"
for i in $(seq 1 100); do kill -0 "$NEW_PID" 2>/dev/null || break; sleep 0.1; done
wait "$NEW_PID" 2>/dev/null
expect_eq "$(grep -vc '^200$' "$TMP/new.out")" 0 "client1's new connections all served meanwhile"
cp "$CERTS/ca2.pem" "$CERTS/clients.pem"
check "SIGHUP with ca2 only" hup_and_wait 'INFO tls reloaded certificate'
expect_eq "$(client_get 1)" 000 "client CA ca2: client1 is refused on a new connection"
expect_eq "$(client_get 2)" 200 "client CA ca2: client2 is served"
for i in $(seq 1 200); do kill -0 "$KA_PID" 2>/dev/null || break; sleep 0.1; done
wait "$KA_PID" 2>/dev/null
expect_eq "$(awk '$1 == 200' "$TMP/ka.out" | wc -l)" 150 \
    "client1's kept-alive connection, opened under ca, served all 150 requests"
expect_eq "$(awk '{ n += $2 } END { print n + 0 }' "$TMP/ka.out")" 1 \
    "client1's kept-alive connection was not dropped by the CA changes"
