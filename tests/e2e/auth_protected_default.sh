#!/usr/bin/env bash
# Protected by default (API.md, issue 15): `serve` on a non-loopback address
# without AUTH_JWKS_FILE or TLS_CLIENT_CA_FILE exits 2 naming the options,
# unless ALLOW_UNAUTHENTICATED is on (1/true/on, or the bare flag); loopback
# needs nothing; a key set that cannot be used (unreadable, not JSON, an RSA
# key under 2048 bits) exits 2 naming the file.
. "$(dirname "$0")/lib.sh"
. "$E2E_DIR/../auth/python.sh" || skip_all "no python3 with PyJWT (python3-jwt)"
"$JWT_PYTHON" "$E2E_DIR/../auth/mint.py" keys "$TMP/keys" || bail "mint.py generates keys"
new_database

run_cli -t 20 serve --database "$DB_URL" --host 0.0.0.0 --port 0 --migrate
expect_cli_rc 2 "HOST=0.0.0.0 without authentication: serve exits 2"
expect_output 'AUTH_JWKS_FILE' "... the message names AUTH_JWKS_FILE"
expect_output 'TLS_CLIENT_CA_FILE' "... and TLS_CLIENT_CA_FILE"
expect_output 'ALLOW_UNAUTHENTICATED' "... and ALLOW_UNAUTHENTICATED"
HOST=:: run_cli -t 20 serve --database "$DB_URL" --port 0
expect_cli_rc 2 "HOST=:: (environment) without authentication: serve exits 2"
ALLOW_UNAUTHENTICATED=maybe run_cli -t 20 serve --database "$DB_URL" --host 0.0.0.0 --port 0
expect_cli_rc 2 "ALLOW_UNAUTHENTICATED=maybe is refused"
expect_output 'ALLOW_UNAUTHENTICATED must be' "... with a message saying why"
ALLOW_UNAUTHENTICATED=0 run_cli -t 20 serve --database "$DB_URL" --host 0.0.0.0 --port 0
expect_cli_rc 2 "ALLOW_UNAUTHENTICATED=0 keeps the service closed"

# starts DESC [VAR=VALUE...] [-- FLAGS...]: serve with that environment and
# those flags must start and answer GET /users (no token needed) with 200.
starts() {
    local desc=$1 envs=() port pid code= i
    shift
    while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
    [ "${1:-}" = -- ] && shift
    port=$(free_port) || bail "a free port"
    env "${envs[@]}" "$USERSVC_BIN" serve --database "$DB_URL" --migrate --port "$port" "$@" \
        >"$TMP/exposed.out" 2>"$TMP/exposed.log" </dev/null &
    pid=$!
    for i in $(seq 1 100); do
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
            "http://127.0.0.1:$port/users" 2>/dev/null)
        [ "$code" = 200 ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    expect_eq "$code" 200 "$desc"
    [ "$code" = 200 ] || diag_file log "$TMP/exposed.log"
    kill -TERM "$pid" 2>/dev/null
    for i in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
}
starts "HOST=0.0.0.0 with ALLOW_UNAUTHENTICATED=1 starts" HOST=0.0.0.0 ALLOW_UNAUTHENTICATED=1
starts "HOST=0.0.0.0 with ALLOW_UNAUTHENTICATED=true starts" \
    HOST=0.0.0.0 ALLOW_UNAUTHENTICATED=true
starts "HOST=0.0.0.0 with ALLOW_UNAUTHENTICATED=On starts" HOST=0.0.0.0 ALLOW_UNAUTHENTICATED=On
starts "--allow-unauthenticated (a flag without value) opens 0.0.0.0" \
    -- --host 0.0.0.0 --allow-unauthenticated
starts "HOST=localhost (loopback) needs no authentication" HOST=localhost
run_cli -t 20 serve --database "$DB_URL" --host 0.0.0.0 --port 0 \
    --auth-jwks "$TMP/keys/jwks.json" --migrate --log-level nonsense
expect_cli_rc 2 "(a bad option still exits 2 before anything)"

# --- key sets that cannot be used: exit 2, naming the file --------------------
run_cli -t 20 serve --database "$DB_URL" --auth-jwks "$TMP/nonexistent.json"
expect_cli_rc 2 "a missing key-set file: exit 2"
expect_output "nonexistent\.json" "... naming the file"
printf 'not json' >"$TMP/garbage.json"
run_cli -t 20 serve --database "$DB_URL" --auth-jwks "$TMP/garbage.json"
expect_cli_rc 2 "a key-set file that is not JSON: exit 2"
expect_output "garbage\.json" "... naming the file"
run_cli -t 20 serve --database "$DB_URL" --auth-jwks "$TMP/keys/rsa1024.json"
expect_cli_rc 2 "an RSA key of 1024 bits: exit 2"
expect_output "rsa1024\.json.*1024 bits" "... naming the file and the key size"
printf '{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}' >"$TMP/hmac.json"
run_cli -t 20 serve --database "$DB_URL" --auth-jwks "$TMP/hmac.json"
expect_cli_rc 2 "a symmetric (HS256) key: exit 2"
expect_output "hmac\.json" "... naming the file"
