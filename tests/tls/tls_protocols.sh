#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# HTTPS speaks TLS 1.2 and 1.3 only, with forward-secret AEAD suites only,
# checked with openssl s_client against ECDSA, RSA and Ed25519 certificates; and
# nothing but HTTPS is spoken on the port.
source "$(dirname "$0")/lib.sh"

tls_ca ca

# Anything that is not ECDHE + AES-GCM/ChaCha20-Poly1305 (TLS 1.2) or one of
# the three AEAD suites of TLS 1.3.
FS_AEAD_RE='^(TLSv1\.3 TLS_(AES_128_GCM_SHA256|AES_256_GCM_SHA384|CHACHA20_POLY1305_SHA256)|TLSv1\.2 ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305))$'

for alg in ec rsa ed25519; do
    TLS_KEY_ALG=$alg tls_cert ca server "/CN=localhost" server
    start_tls_server
    kx=ECDSA
    [ "$alg" = rsa ] && kx=RSA

    expect_match "$(grep -Eo 'listening on https://127\.0\.0\.1:[0-9]+' "$SERVER_LOG")" \
        "^listening on https://" "$alg: the log says listening on https://"
    r=$(tls_handshake -tls1_3); expect_match "$r" "$FS_AEAD_RE" "$alg: TLS 1.3 works ($r)"
    r=$(tls_handshake -tls1_2); expect_match "$r" "$FS_AEAD_RE" "$alg: TLS 1.2 works ($r)"
    expect_match "$(tls_handshake -tls1_2 -cipher "ECDHE-$kx-CHACHA20-POLY1305")" \
        "CHACHA20-POLY1305" "$alg: TLS 1.2 ECDHE with ChaCha20-Poly1305 works"
    expect_match "$(tls_handshake -tls1_3 -ciphersuites TLS_AES_256_GCM_SHA384)" \
        "TLS_AES_256_GCM_SHA384" "$alg: TLS 1.3 AES-256-GCM works"
    for v in -tls1 -tls1_1; do
        # OpenSSL 3 refuses TLS 1.0/1.1 at its default security level 1: lower it
        # so that the server is what refuses.
        expect_refused "$alg: $v is refused" "$v" -cipher 'DEFAULT:@SECLEVEL=0'
    done
    for c in AES128-GCM-SHA256 AES256-GCM-SHA384 AES128-SHA AES256-SHA256 \
             "ECDHE-$kx-AES128-SHA" "ECDHE-$kx-AES256-SHA384" "ECDHE-$kx-AES128-SHA256" \
             DHE-RSA-AES128-GCM-SHA256 DHE-RSA-AES128-SHA; do
        expect_refused "$alg: TLS 1.2 $c (no forward secrecy, or not AEAD) is refused" \
            -tls1_2 -cipher "$c:@SECLEVEL=0"
    done
    expect_refused "$alg: TLS 1.3 AES-128-CCM is refused (only GCM and ChaCha20)" \
        -tls1_3 -ciphersuites TLS_AES_128_CCM_SHA256

    # The server chooses: a client preferring ChaCha20 still gets the server's pick.
    r=$(tls_handshake -tls1_2 -cipher "ECDHE-$kx-CHACHA20-POLY1305:ECDHE-$kx-AES128-GCM-SHA256")
    expect_eq "$r" "TLSv1.2 ECDHE-$kx-AES128-GCM-SHA256" "$alg: the server's preference wins"

    # Client-initiated renegotiation (TLS 1.2; 1.3 has none) is refused: the
    # server closes the connection instead of renegotiating, so it cannot be
    # used to make the server redo handshakes on one connection.
    reneg() {   # reneg [R]: a request after an optional "R" (renegotiate) line
        { sleep 0.5; [ -n "${1:-}" ] && echo R; sleep 0.5
          printf 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'; sleep 1; } \
            | timeout 10 openssl s_client -connect "127.0.0.1:$PORT_NUM" -tls1_2 \
                -CAfile "$CERTS/ca.pem" 2>&1
    }
    out=$(reneg)
    expect_match "$out" "HTTP/1.1 200" "$alg: s_client TLS 1.2 request without renegotiation: 200"
    out=$(reneg R)
    expect_match "$out" "RENEGOTIATING" "$alg: s_client asked to renegotiate"
    check "$alg: client-initiated renegotiation is refused (connection closed, no answer)" \
        bash -c "! grep -q 'HTTP/1.1 200' <<<\"\$1\"" _ "$out"

    # Plain HTTP on the HTTPS port gets no HTTP answer.
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
           "http://127.0.0.1:$PORT_NUM/healthz" 2>/dev/null)
    expect_eq "$code" 000 "$alg: plain HTTP gets no HTTP response on the HTTPS port"
    get /healthz
    expect_status 200 "$alg: HTTPS still answers after the refused handshakes"
    stop_server
done
