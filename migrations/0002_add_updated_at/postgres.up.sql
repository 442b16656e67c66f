-- updated_at: set by the service on every change; existing rows start with
-- their created_at. Added nullable, filled, then made NOT NULL, all in this
-- migration's transaction.
ALTER TABLE users ADD COLUMN updated_at TIMESTAMPTZ;
UPDATE users SET updated_at = created_at;
ALTER TABLE users ALTER COLUMN updated_at SET NOT NULL;
