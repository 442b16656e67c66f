-- Test-only (tests/resource/): widgets, a small second resource served by
-- the same handlers as users. Never shipped.
CREATE TABLE widgets (
    id         BIGINT NOT NULL AUTO_INCREMENT,
    name       VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NOT NULL,
    note       VARCHAR(200) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY widgets_name_key (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
