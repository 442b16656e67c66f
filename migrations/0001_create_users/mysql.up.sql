-- Users, for MySQL 8 and MariaDB 10.5+ (InnoDB).
-- login is utf8mb4_unicode_ci, so the unique key and every comparison are
-- case-insensitive (Alice = alice) while the value is stored as given; for
-- the login alphabet (A-Z a-z 0-9 . _ -) that collation folds case and
-- nothing else. Names are utf8mb4_bin: stored and compared byte for byte,
-- emoji included. VARCHAR(30) counts characters, like the validator.
-- created_at is DATETIME(6) in UTC (the connection runs with time_zone
-- +00:00); the backend renders it as 2026-11-21T08:00:00.123456Z.
-- InnoDB persists AUTO_INCREMENT (MariaDB 10.2.4+, MySQL 8.0), so the id of
-- a deleted row is never handed out again, even after a restart.
CREATE TABLE users (
    id         BIGINT NOT NULL AUTO_INCREMENT,
    login      VARCHAR(30) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NOT NULL,
    first_name VARCHAR(30) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    last_name  VARCHAR(30) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    created_at DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY users_login_key (login)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
