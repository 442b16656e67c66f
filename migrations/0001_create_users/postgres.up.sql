-- Users. The identity column takes ids from a sequence that never goes back,
-- so the id of a deleted row is never handed out again (GENERATED ALWAYS:
-- nobody inserts an id by hand and gets ahead of the sequence).
-- Logins are unique case-insensitively through an index on their ASCII
-- lower case; COLLATE "C" keeps that folding ASCII-only whatever the
-- database's locale, and the backend's lookups use the same expression.
-- created_at is a real timestamptz; the backend renders it as the service's
-- canonical RFC 3339 text (microseconds, Z).
CREATE TABLE users (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    login      TEXT NOT NULL,
    first_name TEXT,
    last_name  TEXT,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX users_login_lower_key ON users (lower(login COLLATE "C"));
