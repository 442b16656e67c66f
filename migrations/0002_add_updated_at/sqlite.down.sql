-- DROP COLUMN needs SQLite 3.35 or later (meson.build requires it).
ALTER TABLE users DROP COLUMN updated_at;
