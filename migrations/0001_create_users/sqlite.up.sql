-- Users. AUTOINCREMENT makes SQLite never reuse the id of a deleted row.
-- login is COLLATE NOCASE (logins are ASCII), so the unique index and every
-- comparison are case-insensitive while the value is stored as given.
-- created_at holds the service's canonical RFC 3339 text.
CREATE TABLE users (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    login      TEXT NOT NULL COLLATE NOCASE,
    first_name TEXT,
    last_name  TEXT,
    created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX users_login_key ON users (login);
