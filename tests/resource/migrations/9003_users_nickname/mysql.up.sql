-- Test-only (issue 18): see postgres.up.sql.
ALTER TABLE users ADD COLUMN nickname VARCHAR(30) NULL;
