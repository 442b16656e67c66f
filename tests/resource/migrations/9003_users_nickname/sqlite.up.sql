-- Test-only (issue 18): see postgres.up.sql.
ALTER TABLE users ADD COLUMN nickname TEXT;
