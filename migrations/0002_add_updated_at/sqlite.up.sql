-- updated_at: set by the service on every change; existing rows start with
-- their created_at. SQLite's ADD COLUMN cannot add a NOT NULL column without
-- a default, so the column briefly defaults to '' and every row is filled in
-- the same transaction.
ALTER TABLE users ADD COLUMN updated_at TEXT NOT NULL DEFAULT '';
UPDATE users SET updated_at = created_at;
