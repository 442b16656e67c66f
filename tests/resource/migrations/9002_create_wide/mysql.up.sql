-- Test-only (tests/resource/): a wide model, 14 writable columns (c01-c12,
-- and two unique ones, code and tag), for the ORM's per-column-set UPDATEs.
CREATE TABLE wide (
    id         BIGINT NOT NULL AUTO_INCREMENT,
    c01        VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    c02        VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    c03        VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    c04        VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    c05        VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    c06        VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    c07        VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    c08        VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    c09        VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    c10        VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    c11        VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    c12        VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    code       VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    tag        VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    updated_at DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY wide_code_key (code),
    UNIQUE KEY wide_tag_key (tag)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
