-- Test-only (issue 18): DDL that needs an exclusive lock on users, for
-- tests/ha/migrate_under_load.sh (a migration applied while a long transaction
-- holds the table, which must never queue live requests behind it).
ALTER TABLE users ADD COLUMN nickname TEXT;
