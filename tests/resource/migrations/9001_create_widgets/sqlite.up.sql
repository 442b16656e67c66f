-- Test-only (tests/resource/): widgets, a small second resource served by
-- the same handlers as users. Never shipped: only usersvc-testapp and the
-- ORM model tests embed this set.
CREATE TABLE widgets (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL COLLATE NOCASE,
    note       TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX widgets_name_key ON widgets (name);
