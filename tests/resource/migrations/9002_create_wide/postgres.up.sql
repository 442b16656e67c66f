-- Test-only (tests/resource/): a wide model, 14 writable columns (c01-c12,
-- and two unique ones, code and tag), for the ORM's per-column-set UPDATEs.
CREATE TABLE wide (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    c01        TEXT,
    c02        TEXT,
    c03        TEXT,
    c04        TEXT,
    c05        TEXT,
    c06        TEXT,
    c07        TEXT,
    c08        TEXT,
    c09        TEXT,
    c10        TEXT,
    c11        TEXT,
    c12        TEXT,
    code       TEXT,
    tag        TEXT,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX wide_code_key ON wide (code);
CREATE UNIQUE INDEX wide_tag_key ON wide (tag);
