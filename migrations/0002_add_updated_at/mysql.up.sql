-- updated_at: set by the service on every change; existing rows start with
-- their created_at. MySQL DDL commits implicitly: if a statement fails, the
-- runner reports which one and records this migration as dirty.
ALTER TABLE users ADD COLUMN updated_at DATETIME(6) NULL;
UPDATE users SET updated_at = created_at;
ALTER TABLE users MODIFY updated_at DATETIME(6) NOT NULL;
