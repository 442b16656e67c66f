#!/usr/bin/env bash
# Idempotency-Key with bearer tokens (issue 17): keys belong to the token's
# subject. The same key and body sent by another subject is not a replay of
# the first subject's response (it runs, as a request of its own); the same
# subject's retry is. Tokens from tests/auth/mint.py (PyJWT), as in
# auth_bearer.sh.
. "$(dirname "$0")/lib.sh"
. "$E2E_DIR/../auth/python.sh" || skip_all "no python3 with PyJWT (python3-jwt)"
MINT=$E2E_DIR/../auth/mint.py
KEYS=$TMP/keys
"$JWT_PYTHON" "$MINT" keys "$KEYS" || bail "mint.py generates keys"
ALICE=$("$JWT_PYTHON" "$MINT" token "$KEYS" --sub alice) || bail "mint a token for alice"
BOB=$("$JWT_PYTHON" "$MINT" token "$KEYS" --sub bob) || bail "mint a token for bob"
start_server --auth-jwks "$KEYS/jwks.json"

# keyed TOKEN KEY BODY
keyed() {
    post /users "$3" application/json -H "Authorization: Bearer $1" -H "Idempotency-Key: $2"
}

keyed "$ALICE" shared-key '{"login":"owner1"}'
expect_status 201 "alice: a keyed POST creates the user"
expect_no_header Idempotency-Replayed "alice's first request runs"
keyed "$ALICE" shared-key '{"login":"owner1"}'
expect_status 201 "alice's retry: 201"
expect_header Idempotency-Replayed true "alice's retry is a replay"
keyed "$BOB" shared-key '{"login":"owner1"}'
expect_problem 409 "bob, same key and body: his own request runs (the login is taken), no replay of alice's"
expect_no_header Idempotency-Replayed "bob gets no replay of alice's response"
keyed "$BOB" shared-key '{"login":"owner2"}'
expect_status 201 "bob, same key, another body: not 422, his key is his own"
expect_no_header Idempotency-Replayed "bob's request runs"
keyed "$BOB" shared-key '{"login":"owner2"}'
expect_header Idempotency-Replayed true "bob's retry replays bob's response"
keyed "$ALICE" shared-key '{"login":"owner2"}'
expect_problem 422 "alice, her key with another body: 422"
post /users '{"login":"owner3"}' application/json -H "Idempotency-Key: shared-key"
expect_problem 401 "no token: 401 before any key is looked at"
