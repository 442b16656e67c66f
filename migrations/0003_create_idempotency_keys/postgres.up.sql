-- Idempotency keys (API.md "Idempotent retries"): the response of a POST
-- that carried an Idempotency-Key, stored in the transaction that created
-- the user, so that a retry with the same key gets it again instead of
-- running the insert twice. key_digest is the SHA-256 (hex) of the
-- caller's subject and the key; its unique index is what lets exactly one
-- of concurrent requests with one key store its response. fingerprint is
-- the SHA-256 (hex) of method, path and body: the same key with another
-- body is refused (422). created_at drives the purge after IDEMPOTENCY_TTL_S.
CREATE TABLE idempotency_keys (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key_digest  TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status      BIGINT NOT NULL,
    location    TEXT,
    body        TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX idempotency_keys_key_digest_key ON idempotency_keys (key_digest);
