-- pgbench script (bench/run.sh): the PostgreSQL limit for POST /users.
-- Logins are unique: client id plus a random number from a 9e18 space.
\set r random(1, 9000000000000000000)
INSERT INTO users (login, first_name, last_name, created_at, updated_at) VALUES ('p' || :client_id || 'r' || :r, 'Bench', 'User', now(), now()) RETURNING id, login, first_name, last_name, created_at, updated_at;
