-- pgbench script (bench/run.sh): the PostgreSQL limit for GET /users/{id}.
\set id random(1, 10000)
SELECT id, login, first_name, last_name, created_at, updated_at FROM users WHERE id = :id;
