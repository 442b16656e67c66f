-- Idempotency keys (API.md "Idempotent retries"): the response of a POST
-- that carried an Idempotency-Key, stored in the transaction that created
-- the user, so that a retry with the same key gets it again instead of
-- running the insert twice. key_digest is the SHA-256 (hex) of the
-- caller's subject and the key; its unique key is what lets exactly one of
-- concurrent requests with one key store its response. fingerprint is the
-- SHA-256 (hex) of method, path and body: the same key with another body is
-- refused (422). body is the response as sent (utf8mb4_bin: byte for byte,
-- emoji included). created_at (DATETIME(6), UTC) drives the purge after
-- IDEMPOTENCY_TTL_S.
CREATE TABLE idempotency_keys (
    id          BIGINT NOT NULL AUTO_INCREMENT,
    key_digest  CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    fingerprint CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    status      BIGINT NOT NULL,
    location    VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    body        MEDIUMTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    created_at  DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY idempotency_keys_key_digest_key (key_digest)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
