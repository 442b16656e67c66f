/* SPDX-License-Identifier: MIT
 * test_migrate.c - orm/migrate.c on temporary SQLite files.
 *
 * up applies 0001 and 0002 and records them (version, name, checksum, applied_at);
 * status tells pending from applied; a changed checksum and a dirty record
 * are reported and block; down reverts and forgets; up is idempotent; and
 * several runners started at once on one file (each with its own orm_db,
 * as separate processes would be) apply each migration exactly once and
 * all succeed. The bookkeeping table is read and tampered with through
 * sqlite3 directly, as an operator would. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "handlers/users.h"
#include "orm/migrate.h"
#include "orm/migrations.h"
#include "orm/orm.h"
#include "tests/lib/testdb.h"

struct fixture {
    struct testdb tdb;   /* the shared fixture: tdb.path, tdb.url */
    struct orm_db *db;
};

static const struct orm_model *const models[] = {&users_model};

static struct orm_db *
open_db(const char *url)
{
    const struct orm_db_options opts = {.pool_size = 1, .pool_timeout_ms = 60000};
    struct orm_db *db = NULL;

    if (orm_db_open(url, models, 1, &opts, &db) != USV_OK)
        return NULL;
    return db;
}

static int teardown(void **state);

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (f == NULL)
        return -1;
    *state = f;
    if (testdb_create(&f->tdb, "sqlite", "migrate") != TESTDB_OK) {
        free(f);
        return -1;
    }
    f->db = open_db(f->tdb.url);
    if (f->db == NULL) {
        teardown(state);   /* cmocka skips the teardown of a failed setup */
        return -1;
    }
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    orm_db_close(f->db);
    testdb_destroy(&f->tdb);
    free(f);
    return 0;
}

/* ---- the embedded table --------------------------------------------------- */

static unsigned
n_sqlite_migrations(void)
{
    unsigned n = 0;

    for (size_t i = 0; i < n_migrations; i++)
        n += strcmp(migrations[i].backend, "sqlite") == 0;
    return n;
}

static const struct migration *
embedded(int64_t version)
{
    for (size_t i = 0; i < n_migrations; i++) {
        if (migrations[i].version == version && strcmp(migrations[i].backend, "sqlite") == 0)
            return &migrations[i];
    }
    fail_msg("migration %lld for sqlite is not embedded", (long long)version);
    return NULL;
}

/* ---- direct access -------------------------------------------------------- */

static sqlite3 *
open_direct(const char *path)
{
    sqlite3 *db = NULL;

    assert_int_equal(SQLITE_OK, sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL));
    sqlite3_busy_timeout(db, 10000);
    return db;
}

static void
exec_direct(const char *path, const char *sql)
{
    sqlite3 *db = open_direct(path);
    char *err = NULL;

    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
        print_error("%s: %s\n", sql, err != NULL ? err : "?");
        sqlite3_free(err);
        sqlite3_close(db);
        fail();
    }
    sqlite3_close(db);
}

/* The first column of the first row of @sql as an integer. */
static int64_t
int_direct(const char *path, const char *sql)
{
    sqlite3 *db = open_direct(path);
    sqlite3_stmt *st = NULL;
    int64_t v;

    assert_int_equal(SQLITE_OK, sqlite3_prepare_v2(db, sql, -1, &st, NULL));
    assert_int_equal(SQLITE_ROW, sqlite3_step(st));
    v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static bool
has_table(const char *path, const char *table)
{
    char sql[160];

    snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'"
                               " AND name = '%s'", table);
    return int_direct(path, sql) == 1;
}

static bool
has_column(const char *path, const char *table, const char *column)
{
    char sql[200];

    snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM pragma_table_info('%s')"
                               " WHERE name = '%s'", table, column);
    return int_direct(path, sql) == 1;
}

/* The first column of the first row of @sql as text (NULL -> "<null>"). */
static void
text_direct(const char *path, const char *sql, char *out, size_t len)
{
    sqlite3 *db = open_direct(path);
    sqlite3_stmt *st = NULL;
    const unsigned char *v;

    assert_int_equal(SQLITE_OK, sqlite3_prepare_v2(db, sql, -1, &st, NULL));
    assert_int_equal(SQLITE_ROW, sqlite3_step(st));
    v = sqlite3_column_text(st, 0);
    snprintf(out, len, "%s", v != NULL ? (const char *)v : "<null>");
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static int64_t
n_records(const char *path)
{
    return int_direct(path, "SELECT COUNT(*) FROM schema_migrations");
}

struct record {
    int64_t version;
    char name[64];
    char checksum[80];
    char applied_at[48];
    int64_t dirty;
};

static bool
read_record(const char *path, int64_t version, struct record *r)
{
    sqlite3 *db = open_direct(path);
    sqlite3_stmt *st = NULL;
    bool found;

    assert_int_equal(SQLITE_OK,
                     sqlite3_prepare_v2(db, "SELECT version, name, checksum, applied_at, dirty"
                                        " FROM schema_migrations WHERE version = ?",
                                        -1, &st, NULL));
    sqlite3_bind_int64(st, 1, version);
    memset(r, 0, sizeof(*r));
    found = sqlite3_step(st) == SQLITE_ROW;
    if (found) {
        r->version = sqlite3_column_int64(st, 0);
        snprintf(r->name, sizeof(r->name), "%s", (const char *)sqlite3_column_text(st, 1));
        snprintf(r->checksum, sizeof(r->checksum), "%s",
                 (const char *)sqlite3_column_text(st, 2));
        snprintf(r->applied_at, sizeof(r->applied_at), "%s",
                 (const char *)sqlite3_column_text(st, 3));
        r->dirty = sqlite3_column_int64(st, 4);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return found;
}

static bool
is_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
    }
    return true;
}

/* YYYY-MM-DDTHH:MM:SS.ffffffZ */
static bool
is_canonical_stamp(const char *s)
{
    return strlen(s) == 27 && is_digits(s, 4) && s[4] == '-' && is_digits(s + 5, 2) &&
           s[7] == '-' && is_digits(s + 8, 2) && s[10] == 'T' && is_digits(s + 11, 2) &&
           s[13] == ':' && is_digits(s + 14, 2) && s[16] == ':' && is_digits(s + 17, 2) &&
           s[19] == '.' && is_digits(s + 20, 6) && s[26] == 'Z';
}

static bool
is_sha256_hex(const char *s)
{
    if (strlen(s) != 64)
        return false;
    for (size_t i = 0; i < 64; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    }
    return true;
}

/* The state of @version according to migrate_status(); fails if absent. */
static enum migrate_state
state_of(struct orm_db *db, int64_t version, char *applied_at, size_t len)
{
    struct migrate_entry *list = NULL;
    size_t n = 0;
    enum migrate_state st = MIGRATE_UNKNOWN;
    bool found = false;

    assert_int_equal(USV_OK, migrate_status(db, &list, &n));
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            assert_true(list[i - 1].version < list[i].version);   /* sorted, no duplicates */
        if (list[i].version == version) {
            found = true;
            st = list[i].state;
            if (applied_at != NULL)
                snprintf(applied_at, len, "%s", list[i].applied_at);
        }
    }
    free(list);
    if (!found)
        fail_msg("migration %lld missing from migrate_status()", (long long)version);
    return st;
}

/* ---- tests -------------------------------------------------------------- */

static void
test_migrate_sqlite_embeds_0001_create_users(void **state)
{
    const struct migration *m = embedded(1);

    assert_string_equal("create_users", m->name);
    assert_true(is_sha256_hex(m->checksum));
    assert_non_null(m->up[0]);
    assert_non_null(m->down[0]);
    assert_true(n_sqlite_migrations() >= 1);
}

static void
test_migrate_sqlite_embeds_0002_add_updated_at(void **state)
{
    const struct migration *m = embedded(2);

    assert_string_equal("add_updated_at", m->name);
    assert_true(is_sha256_hex(m->checksum));
    assert_string_not_equal(embedded(1)->checksum, m->checksum);
    assert_non_null(m->up[0]);
    assert_non_null(m->down[0]);
}

/* Issue 17: the idempotency key table, the newest migration. */
static void
test_migrate_sqlite_embeds_0003_create_idempotency_keys(void **state)
{
    const struct migration *m = embedded(3);

    assert_string_equal("create_idempotency_keys", m->name);
    assert_true(is_sha256_hex(m->checksum));
    assert_non_null(m->up[0]);
    assert_non_null(m->down[0]);
    assert_int_equal(3, n_sqlite_migrations());
}

static void
test_migrate_up_applies_0001_and_records_it(void **state)
{
    struct fixture *f = *state;
    unsigned applied = 12345;
    struct record r;

    assert_int_equal(USV_OK, migrate_up(f->db, &applied));
    assert_int_equal(n_sqlite_migrations(), applied);
    assert_true(has_table(f->tdb.path, "users"));
    assert_true(read_record(f->tdb.path, 1, &r));
    assert_int_equal(1, r.version);
    assert_string_equal("create_users", r.name);
    assert_string_equal(embedded(1)->checksum, r.checksum);
    if (!is_canonical_stamp(r.applied_at))
        fail_msg("applied_at \"%s\" is not YYYY-MM-DDTHH:MM:SS.ffffffZ", r.applied_at);
    assert_int_equal(0, r.dirty);
    assert_true(read_record(f->tdb.path, 2, &r));
    assert_int_equal(2, r.version);
    assert_string_equal("add_updated_at", r.name);
    assert_string_equal(embedded(2)->checksum, r.checksum);
    assert_int_equal(0, r.dirty);
    assert_true(has_column(f->tdb.path, "users", "updated_at"));
    assert_int_equal(n_sqlite_migrations(), n_records(f->tdb.path));
}

static void
test_migrate_up_creates_a_working_users_table(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(USV_OK, migrate_up(f->db, NULL));
    exec_direct(f->tdb.path, "INSERT INTO users (login, created_at) VALUES ('Alice', 'x')");
    /* The unique index is case-insensitive. */
    {
        sqlite3 *db = open_direct(f->tdb.path);

        assert_int_not_equal(SQLITE_OK,
                             sqlite3_exec(db, "INSERT INTO users (login, created_at)"
                                              " VALUES ('alice', 'y')", NULL, NULL, NULL));
        assert_int_equal(SQLITE_CONSTRAINT_UNIQUE, sqlite3_extended_errcode(db));
        sqlite3_close(db);
    }
}

static void
test_migrate_status_tells_pending_from_applied(void **state)
{
    struct fixture *f = *state;
    char applied_at[64];
    struct record r;

    assert_int_equal(MIGRATE_PENDING, state_of(f->db, 1, applied_at, sizeof(applied_at)));
    assert_string_equal("", applied_at);
    assert_int_equal(MIGRATE_PENDING, state_of(f->db, 2, applied_at, sizeof(applied_at)));
    assert_string_equal("", applied_at);
    assert_false(has_table(f->tdb.path, "users"));   /* status changes nothing */
    assert_int_equal(USV_OK, migrate_up(f->db, NULL));
    assert_int_equal(MIGRATE_APPLIED, state_of(f->db, 1, applied_at, sizeof(applied_at)));
    assert_true(read_record(f->tdb.path, 1, &r));
    assert_string_equal(r.applied_at, applied_at);
    assert_int_equal(MIGRATE_APPLIED, state_of(f->db, 2, applied_at, sizeof(applied_at)));
    assert_true(read_record(f->tdb.path, 2, &r));
    assert_string_equal(r.applied_at, applied_at);
    /* Back to version 1: 0002 (and 0003) pending again. */
    assert_int_equal(USV_OK, migrate_down(f->db, 2, NULL));
    assert_int_equal(MIGRATE_APPLIED, state_of(f->db, 1, NULL, 0));
    assert_int_equal(MIGRATE_PENDING, state_of(f->db, 2, applied_at, sizeof(applied_at)));
    assert_string_equal("", applied_at);
}

static void
test_migrate_status_lists_every_embedded_migration(void **state)
{
    struct fixture *f = *state;
    struct migrate_entry *list = NULL;
    size_t n = 0;

    assert_int_equal(USV_OK, migrate_status(f->db, &list, &n));
    assert_int_equal(n_sqlite_migrations(), n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(MIGRATE_PENDING, list[i].state);
    assert_int_equal(1, list[0].version);
    assert_string_equal("create_users", list[0].name);
    assert_int_equal(2, list[1].version);
    assert_string_equal("add_updated_at", list[1].name);
    free(list);
}

static void
test_migrate_check_fails_while_pending_and_passes_when_current(void **state)
{
    struct fixture *f = *state;
    char why[256] = "";

    assert_int_equal(USV_CONFLICT, migrate_check(f->db, why, sizeof(why)));
    assert_non_null(strstr(why, "0001_create_users"));
    assert_non_null(strstr(why, "pending"));
    assert_int_equal(USV_OK, migrate_up(f->db, NULL));
    assert_int_equal(USV_OK, migrate_check(f->db, why, sizeof(why)));
    /* A schema at version 1 is behind, and the reason names 0002, not 0001. */
    assert_int_equal(USV_OK, migrate_down(f->db, 2, NULL));
    why[0] = '\0';
    assert_int_equal(USV_CONFLICT, migrate_check(f->db, why, sizeof(why)));
    assert_non_null(strstr(why, "0002_add_updated_at"));
    assert_null(strstr(why, "0001"));
}

static void
test_migrate_checksum_drift_is_reported_as_changed(void **state)
{
    struct fixture *f = *state;
    char why[256] = "";

    assert_int_equal(USV_OK, migrate_up(f->db, NULL));
    exec_direct(f->tdb.path, "UPDATE schema_migrations SET checksum = 'x' WHERE version = 1");
    assert_int_equal(MIGRATE_CHANGED, state_of(f->db, 1, NULL, 0));
    assert_int_equal(USV_CONFLICT, migrate_check(f->db, why, sizeof(why)));
    assert_non_null(strstr(why, "0001_create_users"));
    assert_non_null(strstr(why, "checksum changed"));
}

static void
test_migrate_up_refuses_a_changed_migration(void **state)
{
    struct fixture *f = *state;
    unsigned applied = 12345;
    struct record r;

    assert_int_equal(USV_OK, migrate_up(f->db, NULL));
    exec_direct(f->tdb.path, "UPDATE schema_migrations SET checksum = 'x' WHERE version = 1");
    /* migrate.h: "USV_CONFLICT if a migration is dirty or changed". */
    assert_int_equal(USV_CONFLICT, migrate_up(f->db, &applied));
    assert_int_equal(0, applied);
    assert_true(read_record(f->tdb.path, 1, &r));
    assert_string_equal("x", r.checksum);   /* left for the operator to see */
}

static void
test_migrate_dirty_record_is_failed_and_blocks_up(void **state)
{
    struct fixture *f = *state;
    unsigned applied = 12345;
    char why[256] = "";

    /* A run that died halfway: recorded dirty, users table never made. */
    /* status creates nothing (it serves /readyz): up and down (every
     * migration) leave an empty schema_migrations table behind. */
    assert_int_equal(USV_OK, migrate_up(f->db, NULL));
    assert_int_equal(USV_OK, migrate_down(f->db, n_sqlite_migrations(), NULL));
    assert_int_equal(0, n_records(f->tdb.path));
    assert_false(has_table(f->tdb.path, "users"));
    assert_int_equal(MIGRATE_PENDING, state_of(f->db, 1, NULL, 0));
    assert_int_equal(MIGRATE_PENDING, state_of(f->db, 2, NULL, 0));
    exec_direct(f->tdb.path, "INSERT INTO schema_migrations (version, name, checksum, applied_at,"
                         " dirty) VALUES (1, 'create_users', 'whatever',"
                         " '2026-11-21T08:00:00.000000Z', 1)");
    assert_int_equal(MIGRATE_FAILED, state_of(f->db, 1, NULL, 0));
    assert_int_equal(USV_CONFLICT, migrate_check(f->db, why, sizeof(why)));
    assert_non_null(strstr(why, "0001_create_users"));
    assert_non_null(strstr(why, "dirty"));
    assert_int_equal(USV_CONFLICT, migrate_up(f->db, &applied));
    assert_int_equal(0, applied);
    assert_false(has_table(f->tdb.path, "users"));
    assert_int_equal(1, n_records(f->tdb.path));   /* 0002 was not applied past it */
    assert_int_equal(1, int_direct(f->tdb.path, "SELECT dirty FROM schema_migrations"));
}

static void
test_migrate_dirty_0002_blocks_up_and_keeps_version_1(void **state)
{
    struct fixture *f = *state;
    unsigned applied = 12345;
    char why[256] = "";

    assert_int_equal(USV_OK, migrate_up(f->db, NULL));
    assert_int_equal(USV_OK, migrate_down(f->db, 2, NULL));
    exec_direct(f->tdb.path, "INSERT INTO schema_migrations (version, name, checksum, applied_at,"
                         " dirty) VALUES (2, 'add_updated_at', 'whatever',"
                         " '2026-11-21T08:00:00.000000Z', 1)");
    assert_int_equal(MIGRATE_APPLIED, state_of(f->db, 1, NULL, 0));
    assert_int_equal(MIGRATE_FAILED, state_of(f->db, 2, NULL, 0));
    assert_int_equal(USV_CONFLICT, migrate_check(f->db, why, sizeof(why)));
    assert_non_null(strstr(why, "0002_add_updated_at"));
    assert_int_equal(USV_CONFLICT, migrate_up(f->db, &applied));
    assert_int_equal(0, applied);
    assert_false(has_column(f->tdb.path, "users", "updated_at"));
}

static void
test_migrate_dirty_record_of_an_applied_migration_is_failed(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(USV_OK, migrate_up(f->db, NULL));
    exec_direct(f->tdb.path, "UPDATE schema_migrations SET dirty = 1 WHERE version = 1");
    assert_int_equal(MIGRATE_FAILED, state_of(f->db, 1, NULL, 0));
    assert_int_equal(USV_CONFLICT, migrate_up(f->db, NULL));
}

static void
test_migrate_down_reverts_and_removes_the_record(void **state)
{
    struct fixture *f = *state;
    unsigned reverted = 12345;
    unsigned total = n_sqlite_migrations();

    assert_int_equal(USV_OK, migrate_up(f->db, NULL));
    assert_int_equal(USV_OK, migrate_down(f->db, total, &reverted));
    assert_int_equal(total, reverted);
    assert_int_equal(0, n_records(f->tdb.path));
    assert_false(has_table(f->tdb.path, "users"));
    assert_true(has_table(f->tdb.path, "schema_migrations"));
    assert_int_equal(MIGRATE_PENDING, state_of(f->db, 1, NULL, 0));
    /* And up again brings it back. */
    assert_int_equal(USV_OK, migrate_up(f->db, &reverted));
    assert_int_equal(total, reverted);
    assert_true(has_table(f->tdb.path, "users"));
}

static void
test_migrate_down_reverts_only_the_last_n(void **state)
{
    struct fixture *f = *state;
    unsigned reverted = 12345;
    unsigned total = n_sqlite_migrations();

    assert_int_equal(USV_OK, migrate_up(f->db, NULL));
    assert_int_equal(USV_OK, migrate_down(f->db, 1, &reverted));
    assert_int_equal(1, reverted);
    assert_int_equal(total - 1, n_records(f->tdb.path));
    /* The newest one (0003) went; 0001 and 0002 stay. */
    assert_int_equal(MIGRATE_APPLIED, state_of(f->db, 1, NULL, 0));
    assert_int_equal(MIGRATE_APPLIED, state_of(f->db, 2, NULL, 0));
    assert_int_equal(MIGRATE_PENDING, state_of(f->db, 3, NULL, 0));
    assert_true(has_table(f->tdb.path, "users"));
    assert_true(has_column(f->tdb.path, "users", "updated_at"));
    assert_false(has_table(f->tdb.path, "idempotency_keys"));
    /* One more: 0002 goes too. */
    assert_int_equal(USV_OK, migrate_down(f->db, 1, &reverted));
    assert_int_equal(1, reverted);
    assert_int_equal(MIGRATE_PENDING, state_of(f->db, 2, NULL, 0));
    assert_false(has_column(f->tdb.path, "users", "updated_at"));
}

static void
test_migrate_0002_fills_updated_at_from_created_at_and_down_drops_it(void **state)
{
    struct fixture *f = *state;
    char text[128];
    unsigned applied = 12345;

    /* A database at version 1 with rows, as a first-stage deployment left it. */
    assert_int_equal(USV_OK, migrate_up(f->db, NULL));
    assert_int_equal(USV_OK, migrate_down(f->db, 2, NULL));
    assert_false(has_column(f->tdb.path, "users", "updated_at"));
    exec_direct(f->tdb.path, "INSERT INTO users (login, first_name, last_name, created_at) VALUES"
                         " ('Alice', 'Al\xC3\xAF" "ce \xF0\x9F\x98\x80', NULL,"
                         "  '2026-01-02T03:04:05.123456Z'),"
                         " ('bob', NULL, NULL, '2026-11-21T08:00:00.000001Z')");
    assert_int_equal(USV_OK, migrate_up(f->db, &applied));
    assert_int_equal(2, applied);             /* 0002 and 0003 */
    assert_true(has_column(f->tdb.path, "users", "updated_at"));
    /* Every row: updated_at == created_at byte for byte; nothing else moved. */
    assert_int_equal(0, int_direct(f->tdb.path, "SELECT COUNT(*) FROM users"
                                            " WHERE updated_at IS NOT created_at"));
    assert_int_equal(2, int_direct(f->tdb.path, "SELECT COUNT(*) FROM users"));
    text_direct(f->tdb.path, "SELECT updated_at FROM users WHERE login = 'Alice'", text,
                sizeof(text));
    assert_string_equal("2026-01-02T03:04:05.123456Z", text);
    text_direct(f->tdb.path, "SELECT first_name FROM users WHERE login = 'Alice'", text,
                sizeof(text));
    assert_string_equal("Al\xC3\xAF" "ce \xF0\x9F\x98\x80", text);
    text_direct(f->tdb.path, "SELECT last_name FROM users WHERE login = 'Alice'", text,
                sizeof(text));
    assert_string_equal("<null>", text);
    text_direct(f->tdb.path, "SELECT updated_at FROM users WHERE login = 'bob'", text,
                sizeof(text));
    assert_string_equal("2026-11-21T08:00:00.000001Z", text);
    /* down removes the column and keeps the rows. */
    assert_int_equal(USV_OK, migrate_down(f->db, 2, NULL));
    assert_false(has_column(f->tdb.path, "users", "updated_at"));
    assert_int_equal(2, int_direct(f->tdb.path, "SELECT COUNT(*) FROM users"));
    text_direct(f->tdb.path, "SELECT created_at FROM users WHERE login = 'Alice'", text,
                sizeof(text));
    assert_string_equal("2026-01-02T03:04:05.123456Z", text);
}

static void
test_migrate_down_with_nothing_applied_does_nothing(void **state)
{
    struct fixture *f = *state;
    unsigned reverted = 12345;

    assert_int_equal(USV_OK, migrate_down(f->db, 1, &reverted));
    assert_int_equal(0, reverted);
    assert_int_equal(USV_OK, migrate_up(f->db, NULL));
    assert_int_equal(USV_OK, migrate_down(f->db, 1000, &reverted));
    assert_int_equal(n_sqlite_migrations(), reverted);
    assert_int_equal(USV_OK, migrate_down(f->db, 1, &reverted));
    assert_int_equal(0, reverted);
}

static void
test_migrate_up_twice_is_idempotent(void **state)
{
    struct fixture *f = *state;
    unsigned applied = 12345;
    struct record before, after;

    assert_int_equal(USV_OK, migrate_up(f->db, NULL));
    assert_true(read_record(f->tdb.path, 1, &before));
    exec_direct(f->tdb.path, "INSERT INTO users (login, created_at) VALUES ('keep', 'x')");
    assert_int_equal(USV_OK, migrate_up(f->db, &applied));
    assert_int_equal(0, applied);
    assert_true(read_record(f->tdb.path, 1, &after));
    assert_string_equal(before.applied_at, after.applied_at);
    assert_string_equal(before.checksum, after.checksum);
    assert_int_equal(n_sqlite_migrations(), n_records(f->tdb.path));
    assert_int_equal(1, int_direct(f->tdb.path, "SELECT COUNT(*) FROM users"));
}

static void
test_migrate_migration_unknown_to_this_binary(void **state)
{
    struct fixture *f = *state;
    unsigned reverted = 12345;
    char why[256] = "";

    assert_int_equal(USV_OK, migrate_up(f->db, NULL));
    exec_direct(f->tdb.path, "INSERT INTO schema_migrations (version, name, checksum, applied_at)"
                         " VALUES (9999, 'from_the_future', 'abc',"
                         " '2026-11-21T08:00:00.000000Z')");
    assert_int_equal(MIGRATE_UNKNOWN, state_of(f->db, 9999, NULL, 0));
    assert_int_equal(MIGRATE_APPLIED, state_of(f->db, 1, NULL, 0));
    /* A newer binary's schema is still current for this one... */
    assert_int_equal(USV_OK, migrate_check(f->db, why, sizeof(why)));
    /* ...but this binary cannot revert what it does not know. */
    assert_int_equal(USV_CONFLICT, migrate_down(f->db, 1, &reverted));
    assert_int_equal(0, reverted);
    assert_true(has_table(f->tdb.path, "users"));
}

static void
test_migrate_state_names_are_distinct(void **state)
{
    static const enum migrate_state all[] = {MIGRATE_PENDING, MIGRATE_APPLIED,
                                             MIGRATE_CHANGED, MIGRATE_FAILED, MIGRATE_UNKNOWN};

    for (size_t i = 0; i < 5; i++) {
        assert_non_null(migrate_state_name(all[i]));
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(migrate_state_name(all[i]), migrate_state_name(all[j]));
    }
    assert_string_equal("pending", migrate_state_name(MIGRATE_PENDING));
    assert_string_equal("applied", migrate_state_name(MIGRATE_APPLIED));
}

/* ---- concurrent runners -------------------------------------------------- */

#define N_RUNNERS 6
#define N_RACES 30   /* each race is short; many make a rare interleaving likely */

struct runner {
    const char *url;
    pthread_barrier_t *start;
    enum usv_err rc;
    unsigned applied;
};

static void *
run_migrate_up(void *arg)
{
    struct runner *r = arg;
    struct orm_db *db = open_db(r->url);

    pthread_barrier_wait(r->start);
    r->rc = db != NULL ? migrate_up(db, &r->applied) : USV_INTERNAL;
    orm_db_close(db);
    return NULL;
}

static void
test_migrate_concurrent_runs_apply_once_and_all_succeed(void **state)
{
    struct fixture *f = *state;

    for (unsigned race = 0; race < N_RACES; race++) {
        struct runner r[N_RUNNERS];
        pthread_t t[N_RUNNERS];
        pthread_barrier_t start;
        char path[200], url[220], sidecar[220];
        unsigned total = 0;

        /* A fresh file per race: nothing exists before the runners start. */
        snprintf(path, sizeof(path), "%s/race%u.db", f->tdb.dir, race);
        snprintf(url, sizeof(url), "sqlite:%s", path);
        assert_int_equal(0, pthread_barrier_init(&start, NULL, N_RUNNERS));
        for (size_t i = 0; i < N_RUNNERS; i++) {
            r[i] = (struct runner){.url = url, .start = &start, .rc = USV_INTERNAL};
            assert_int_equal(0, pthread_create(&t[i], NULL, run_migrate_up, &r[i]));
        }
        for (size_t i = 0; i < N_RUNNERS; i++)
            assert_int_equal(0, pthread_join(t[i], NULL));
        pthread_barrier_destroy(&start);
        for (size_t i = 0; i < N_RUNNERS; i++) {
            if (r[i].rc != USV_OK)
                fail_msg("race %u: runner %zu failed with %s", race, i, usv_err_name(r[i].rc));
            total += r[i].applied;
        }
        assert_int_equal(n_sqlite_migrations(), total);
        assert_int_equal(n_sqlite_migrations(), n_records(path));
        assert_true(has_table(path, "users"));
        /* Remove this race's files; the teardown removes whatever is left. */
        assert_int_equal(0, unlink(path));
        snprintf(sidecar, sizeof(sidecar), "%s-wal", path);
        unlink(sidecar);
        snprintf(sidecar, sizeof(sidecar), "%s-shm", path);
        unlink(sidecar);
    }
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_migrate_sqlite_embeds_0001_create_users),
        cmocka_unit_test(test_migrate_sqlite_embeds_0002_add_updated_at),
        cmocka_unit_test(test_migrate_sqlite_embeds_0003_create_idempotency_keys),
        T(test_migrate_up_applies_0001_and_records_it),
        T(test_migrate_up_creates_a_working_users_table),
        T(test_migrate_status_tells_pending_from_applied),
        T(test_migrate_status_lists_every_embedded_migration),
        T(test_migrate_check_fails_while_pending_and_passes_when_current),
        T(test_migrate_checksum_drift_is_reported_as_changed),
        T(test_migrate_up_refuses_a_changed_migration),
        T(test_migrate_dirty_record_is_failed_and_blocks_up),
        T(test_migrate_dirty_record_of_an_applied_migration_is_failed),
        T(test_migrate_dirty_0002_blocks_up_and_keeps_version_1),
        T(test_migrate_0002_fills_updated_at_from_created_at_and_down_drops_it),
        T(test_migrate_down_reverts_and_removes_the_record),
        T(test_migrate_down_reverts_only_the_last_n),
        T(test_migrate_down_with_nothing_applied_does_nothing),
        T(test_migrate_up_twice_is_idempotent),
        T(test_migrate_migration_unknown_to_this_binary),
        cmocka_unit_test(test_migrate_state_names_are_distinct),
        T(test_migrate_concurrent_runs_apply_once_and_all_succeed),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
