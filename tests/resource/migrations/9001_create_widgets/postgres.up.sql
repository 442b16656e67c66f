-- Test-only (tests/resource/): widgets, a small second resource served by
-- the same handlers as users. Never shipped.
CREATE TABLE widgets (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       TEXT NOT NULL,
    note       TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX widgets_name_lower_key ON widgets (lower(name COLLATE "C"));
