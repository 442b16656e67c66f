# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# Shared helpers for the TLS tests (tests/tls/*.sh), on top of tests/e2e/lib.sh
# (server, requests, checks, TAP). Every certificate and key is made at test
# time with openssl in this test's temp dir: nothing private is committed.
#
#   tls_ca NAME                      self-signed CA: $CERTS/NAME.pem, NAME.key
#   tls_cert CA NAME CN KIND [FROM TO]
#                                    a certificate signed by CA for KIND server
#                                    (SAN 127.0.0.1/localhost, serverAuth) or client
#                                    (clientAuth); FROM/TO (YYYYMMDDHHMMSSZ) give its
#                                    validity (default: now, for 2 days).
#                                    TLS_KEY_ALG=rsa makes an RSA-2048 key, =ed25519 an
#                                    Ed25519 one (default EC P-256).
#   start_tls_server [ARGS]          start_server over HTTPS with $CERTS/server.{pem,key};
#                                    CURL_TLS trusts $CERTS/ca.pem
#   tls_handshake ARGS...            openssl s_client to the server with ARGS; prints
#                                    the negotiated "Protocol Cipher" or "none"
#   expect_refused DESC ARGS...      s_client with ARGS negotiates nothing, and the
#                                    server logged a failed handshake (so the client
#                                    did offer what ARGS ask for: a client that cannot
#                                    would pass without the server refusing anything)

# shellcheck source=../e2e/lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../e2e/lib.sh"

command -v openssl >/dev/null || skip_all "openssl is needed (scripts/install-deps.sh test)"

CERTS=$TMP/certs
mkdir -p "$CERTS"
TLS_KEY_ALG=${TLS_KEY_ALG:-ec}

_tls_key() {
    if [ "$TLS_KEY_ALG" = rsa ]; then
        openssl genpkey -algorithm rsa -pkeyopt rsa_keygen_bits:2048 -out "$1" 2>/dev/null
    elif [ "$TLS_KEY_ALG" = ed25519 ]; then
        openssl genpkey -algorithm ed25519 -out "$1" 2>/dev/null
    else
        openssl genpkey -algorithm ec -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
    fi
}

tls_ca() {
    local name=$1 d=$CERTS/$1.d
    mkdir -p "$d"
    : >"$d/index.txt"
    echo 1000 >"$d/serial"
    cat >"$d/ca.cnf" <<CNF
[ca]
default_ca = tca
[tca]
database = $d/index.txt
new_certs_dir = $d
serial = $d/serial
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
[anything]
commonName = supplied
organizationName = optional
CNF
    _tls_key "$CERTS/$name.key" || bail "openssl makes a CA key"
    openssl req -x509 -new -key "$CERTS/$name.key" -out "$CERTS/$name.pem" -days 3 \
        -subj "/CN=usersvc test CA $name" 2>/dev/null || bail "openssl makes CA $name"
}

tls_cert() {
    local ca=$1 name=$2 cn=$3 kind=$4 from=${5:-} to=${6:-} ext=$CERTS/$2.ext dates=(-days 2)
    _tls_key "$CERTS/$name.key" || bail "openssl makes a key"
    openssl req -new -key "$CERTS/$name.key" -out "$CERTS/$name.csr" -subj "$cn" 2>/dev/null \
        || bail "openssl makes a request for $name"
    if [ "$kind" = server ]; then
        printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$ext"
    else
        printf 'extendedKeyUsage=clientAuth\n' >"$ext"
    fi
    [ -n "$from" ] && dates=(-startdate "$from" -enddate "$to")
    openssl ca -batch -config "$CERTS/$ca.d/ca.cnf" -cert "$CERTS/$ca.pem" \
        -keyfile "$CERTS/$ca.key" -in "$CERTS/$name.csr" -out "$CERTS/$name.pem" -notext \
        "${dates[@]}" -extfile "$ext" >/dev/null 2>&1 || bail "openssl ca signs $name"
}

start_tls_server() {
    CURL_TLS=(--cacert "$CERTS/ca.pem" ${CURL_TLS_EXTRA[@]+"${CURL_TLS_EXTRA[@]}"})
    start_server --tls-cert "$CERTS/server.pem" --tls-key "$CERTS/server.key" "$@"
}

tls_handshake() {
    local out
    out=$(timeout 10 openssl s_client -connect "127.0.0.1:$PORT_NUM" -CAfile "$CERTS/ca.pem" \
          "$@" </dev/null 2>/dev/null | grep -E '^New, ')
    case "$out" in
        "New, (NONE)"*|"") echo none ;;
        *) out=${out#New, }; echo "${out%%, Cipher is *} ${out##*Cipher is }" ;;
    esac
}

# The number of failed handshakes the server has logged (libmicrohttpd's
# "mhd" warnings).
_tls_errors() {
    grep -c ' WARN mhd ' "$SERVER_LOG" 2>/dev/null
}

expect_refused() {
    local desc=$1 before r i
    shift
    before=$(_tls_errors)
    r=$(tls_handshake "$@")
    if [ "$r" != none ]; then
        not_ok "$desc"; diag "negotiated: $r"; return
    fi
    for i in $(seq 1 40); do
        [ "$(_tls_errors)" -gt "$before" ] && { ok "$desc"; return; }
        sleep 0.05
    done
    not_ok "$desc"
    diag "the server logged no failed handshake: the client may not have offered it"
}
