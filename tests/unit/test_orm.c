/* SPDX-License-Identifier: MIT
 * test_orm.c - orm/orm.c through its public API, on a temporary SQLite file
 * migrated to the latest schema.
 *
 * Sessions (orm_transact commits on USV_OK, rolls back otherwise, always
 * gives the connection back), orm_insert and orm_find with users_model,
 * USV_NOT_FOUND, USV_CONFLICT for a login taken case-insensitively, and a
 * byte-exact round trip of emoji. What is on disk is checked with sqlite3
 * directly, beside the ORM. */
#include <dirent.h>
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
#include "orm/orm.h"
#include "orm/orm_int.h"

struct fixture {
    char dir[64];
    char path[128];   /* the database file */
    struct orm_db *db;
};

static const struct orm_model *const models[] = {&users_model};

static int teardown(void **state);

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    const struct orm_db_options opts = {.pool_size = 2, .pool_timeout_ms = 30000};
    char url[160];

    if (f == NULL)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/usersvc-test-orm-XXXXXX");
    if (mkdtemp(f->dir) == NULL) {
        free(f);
        return -1;
    }
    *state = f;
    snprintf(f->path, sizeof(f->path), "%s/orm.db", f->dir);
    snprintf(url, sizeof(url), "sqlite:%s", f->path);
    if (orm_db_open(url, models, 1, &opts, &f->db) != USV_OK ||
        migrate_up(f->db, NULL) != USV_OK) {
        teardown(state);   /* cmocka skips the teardown of a failed setup */
        return -1;
    }
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;
    DIR *d;
    struct dirent *e;
    char path[sizeof(f->dir) + 1 + 256];
    int rc = 0;

    orm_db_close(f->db);
    d = opendir(f->dir);
    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", f->dir, e->d_name);
        if (unlink(path) != 0)
            rc = -1;
    }
    closedir(d);
    if (rmdir(f->dir) != 0)
        rc = -1;
    free(f);
    return rc;
}

/* ---- work functions ------------------------------------------------------ */

struct op {
    json_t *values;       /* borrowed */
    int64_t id;
    json_t *row;          /* new */
    unsigned calls;
    enum usv_err fail_with;   /* returned after a successful insert, if not USV_OK */
};

static enum usv_err
insert_work(struct orm_session *s, void *arg)
{
    struct op *op = arg;
    enum usv_err rc;

    op->calls++;
    json_decref(op->row);
    op->row = NULL;
    rc = orm_insert(s, &users_model, op->values, &op->row);
    if (rc == USV_OK && op->fail_with != USV_OK)
        return op->fail_with;
    return rc;
}

static enum usv_err
find_work(struct orm_session *s, void *arg)
{
    struct op *op = arg;

    op->calls++;
    json_decref(op->row);
    op->row = NULL;
    return orm_find(s, &users_model, op->id, false, &op->row);
}

static enum usv_err
delete_work(struct orm_session *s, void *arg)
{
    struct op *op = arg;

    op->calls++;
    return orm_delete(s, &users_model, op->id);
}

/* Insert @values in a session of its own; returns the session's result and
 * leaves the row (or NULL) in *@row. */
static enum usv_err
insert(struct orm_db *db, json_t *values, json_t **row)
{
    struct op op = {.values = values};
    enum usv_err rc = orm_transact(db, ORM_TX_WRITE, insert_work, &op);

    *row = op.row;
    return rc;
}

static enum usv_err
find(struct orm_db *db, int64_t id, json_t **row)
{
    struct op op = {.id = id};
    enum usv_err rc = orm_transact(db, ORM_TX_READ, find_work, &op);

    *row = op.row;
    return rc;
}

static json_t *
user(const char *login, const char *first, const char *last)
{
    json_t *v = json_pack("{s:s}", "login", login);

    assert_non_null(v);
    if (first != NULL)
        json_object_set_new(v, "first_name", json_string(first));
    if (last != NULL)
        json_object_set_new(v, "last_name", json_string(last));
    return v;
}

/* ---- direct look at the file ------------------------------------------- */

static sqlite3 *
open_direct(const char *path)
{
    sqlite3 *db = NULL;

    assert_int_equal(SQLITE_OK, sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL));
    sqlite3_busy_timeout(db, 10000);
    return db;
}

static int64_t
count_users(const char *path)
{
    sqlite3 *db = open_direct(path);
    sqlite3_stmt *st = NULL;
    int64_t n;

    assert_int_equal(SQLITE_OK, sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM users", -1, &st,
                                                   NULL));
    assert_int_equal(SQLITE_ROW, sqlite3_step(st));
    n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
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
    return s != NULL && strlen(s) == 27 && is_digits(s, 4) && s[4] == '-' &&
           is_digits(s + 5, 2) && s[7] == '-' && is_digits(s + 8, 2) && s[10] == 'T' &&
           is_digits(s + 11, 2) && s[13] == ':' && is_digits(s + 14, 2) && s[16] == ':' &&
           is_digits(s + 17, 2) && s[19] == '.' && is_digits(s + 20, 6) && s[26] == 'Z';
}

static void
assert_in_use_zero(struct orm_db *db)
{
    struct orm_pool_stats s;

    orm_db_stats(db, &s);
    assert_int_equal(0, s.in_use);
}

/* ---- tests -------------------------------------------------------------- */

static void
test_orm_db_open_rejects_an_unknown_url(void **state)
{
    const struct orm_db_options opts = {.pool_size = 1, .pool_timeout_ms = 10};
    struct orm_db *const untouched = (struct orm_db *)(uintptr_t)0x5A5A5A50u;
    struct orm_db *db = untouched;

    assert_int_equal(USV_BAD_REQUEST, orm_db_open("oracle://x", models, 1, &opts, &db));
    assert_ptr_equal(untouched, db);
    assert_int_equal(USV_BAD_REQUEST, orm_db_open("sqlite", models, 1, &opts, &db));
    assert_ptr_equal(untouched, db);
}

static void
test_orm_db_reports_its_backend(void **state)
{
    struct fixture *f = *state;

    assert_string_equal("sqlite", orm_db_backend(f->db));
    assert_int_equal(USV_OK, orm_db_ping(f->db));
}

static void
test_orm_insert_returns_the_row_with_id_and_created_at(void **state)
{
    struct fixture *f = *state;
    json_t *values = user("alice", "Alice", NULL);
    json_t *row = NULL;
    const char *created_at;

    assert_int_equal(USV_OK, insert(f->db, values, &row));
    assert_non_null(row);
    assert_int_equal(5, json_object_size(row));
    assert_true(json_is_integer(json_object_get(row, "id")));
    assert_int_equal(1, json_integer_value(json_object_get(row, "id")));
    assert_string_equal("alice", json_string_value(json_object_get(row, "login")));
    assert_string_equal("Alice", json_string_value(json_object_get(row, "first_name")));
    /* Absent on create means null, and the key is still there. */
    assert_non_null(json_object_get(row, "last_name"));
    assert_true(json_is_null(json_object_get(row, "last_name")));
    created_at = json_string_value(json_object_get(row, "created_at"));
    if (!is_canonical_stamp(created_at))
        fail_msg("created_at \"%s\" is not YYYY-MM-DDTHH:MM:SS.ffffffZ",
                 created_at != NULL ? created_at : "(null)");
    assert_int_equal(1, count_users(f->path));
    assert_in_use_zero(f->db);
    json_decref(row);
    json_decref(values);
}

static void
test_orm_find_returns_the_row_as_inserted(void **state)
{
    struct fixture *f = *state;
    json_t *values = user("bob", NULL, "Builder");
    json_t *inserted = NULL, *found = NULL;
    int64_t id;

    assert_int_equal(USV_OK, insert(f->db, values, &inserted));
    id = json_integer_value(json_object_get(inserted, "id"));
    assert_int_equal(USV_OK, find(f->db, id, &found));
    assert_non_null(found);
    /* Same keys, same values, created_at byte for byte. */
    assert_true(json_equal(inserted, found));
    assert_string_equal(json_string_value(json_object_get(inserted, "created_at")),
                        json_string_value(json_object_get(found, "created_at")));
    assert_true(json_is_null(json_object_get(found, "first_name")));
    json_decref(inserted);
    json_decref(found);
    json_decref(values);
}

static void
test_orm_find_of_a_missing_id_is_not_found(void **state)
{
    struct fixture *f = *state;
    json_t *values = user("carol", NULL, NULL);
    json_t *row = NULL;

    assert_int_equal(USV_NOT_FOUND, find(f->db, 1, &row));   /* empty table */
    assert_null(row);
    assert_int_equal(USV_OK, insert(f->db, values, &row));
    json_decref(row);
    row = NULL;
    assert_int_equal(USV_NOT_FOUND, find(f->db, 2, &row));
    assert_null(row);
    assert_int_equal(USV_NOT_FOUND, find(f->db, INT64_MAX, &row));
    assert_null(row);
    assert_in_use_zero(f->db);
    json_decref(values);
}

static void
test_orm_duplicate_login_is_a_conflict_case_insensitively(void **state)
{
    struct fixture *f = *state;
    static const char *const taken[] = {"Alice", "alice", "ALICE", "aLiCe"};
    json_t *first = user("Alice", "First", NULL);
    json_t *row = NULL;

    assert_int_equal(USV_OK, insert(f->db, first, &row));
    /* Stored exactly as given. */
    assert_string_equal("Alice", json_string_value(json_object_get(row, "login")));
    json_decref(row);
    for (size_t i = 0; i < sizeof(taken) / sizeof(taken[0]); i++) {
        json_t *again = user(taken[i], "Second", NULL);

        row = NULL;
        assert_int_equal(USV_CONFLICT, insert(f->db, again, &row));
        assert_null(row);
        json_decref(again);
    }
    assert_int_equal(1, count_users(f->path));
    assert_in_use_zero(f->db);
    json_decref(first);
}

static void
test_orm_failing_work_rolls_back(void **state)
{
    struct fixture *f = *state;
    json_t *values = user("dave", NULL, NULL);
    struct op op = {.values = values, .fail_with = USV_INVALID};
    json_t *row = NULL;
    int64_t id;

    /* The insert itself succeeds, then the work reports a failure. */
    assert_int_equal(USV_INVALID, orm_transact(f->db, ORM_TX_WRITE, insert_work, &op));
    assert_int_equal(1, op.calls);
    assert_non_null(op.row);
    id = json_integer_value(json_object_get(op.row, "id"));
    json_decref(op.row);
    assert_int_equal(0, count_users(f->path));
    assert_int_equal(USV_NOT_FOUND, find(f->db, id, &row));
    assert_in_use_zero(f->db);
    /* Nothing half-written: the login is still free. */
    assert_int_equal(USV_OK, insert(f->db, values, &row));
    assert_int_equal(1, count_users(f->path));
    json_decref(row);
    json_decref(values);
}

static void
test_orm_failing_work_rolls_back_with_any_error_code(void **state)
{
    struct fixture *f = *state;
    static const enum usv_err codes[] = {USV_INTERNAL, USV_CONFLICT, USV_NOT_FOUND,
                                         USV_BAD_REQUEST};
    json_t *values = user("erin", NULL, NULL);

    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        struct op op = {.values = values, .fail_with = codes[i]};

        assert_int_equal(codes[i], orm_transact(f->db, ORM_TX_WRITE, insert_work, &op));
        json_decref(op.row);
        assert_int_equal(0, count_users(f->path));
    }
    assert_in_use_zero(f->db);
    json_decref(values);
}

static void
test_orm_transact_is_unavailable_when_no_connection_frees(void **state)
{
    struct fixture *f = *state;
    const struct orm_db_options opts = {.pool_size = 1, .pool_timeout_ms = 0};
    char url[160];
    struct orm_db *db = NULL;
    struct orm_conn *held = NULL;
    struct op op = {.id = 1};

    snprintf(url, sizeof(url), "sqlite:%s", f->path);
    assert_int_equal(USV_OK, orm_db_open(url, models, 1, &opts, &db));
    assert_int_equal(USV_OK, orm_db_acquire(db, &held));
    assert_int_equal(USV_UNAVAILABLE, orm_transact(db, ORM_TX_READ, find_work, &op));
    assert_int_equal(0, op.calls);   /* the work never ran */
    orm_db_release(db, held);
    assert_int_equal(USV_NOT_FOUND, orm_transact(db, ORM_TX_READ, find_work, &op));
    assert_int_equal(1, op.calls);
    orm_db_close(db);
}

static void
test_orm_emoji_round_trip_byte_exact(void **state)
{
    struct fixture *f = *state;
    /* Family (ZWJ sequence), e + combining acute, G clef (outside the BMP),
     * a flag, U+00A0, CJK: 16 code points. */
    static const char first[] = "\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D"
                                "\xF0\x9F\x91\xA7 Zoe\xCC\x81 \xF0\x9D\x84\x9E"
                                "\xF0\x9F\x87\xB3\xF0\x9F\x87\xB4\xC2\xA0\xE6\x97\xA5";
    static const char last[] = "\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80";
    json_t *values = user("emoji", first, last);
    json_t *inserted = NULL, *found = NULL;
    sqlite3 *direct;
    sqlite3_stmt *st = NULL;
    json_t *v;

    assert_int_equal(USV_OK, insert(f->db, values, &inserted));
    assert_int_equal(USV_OK,
                     find(f->db, json_integer_value(json_object_get(inserted, "id")), &found));
    v = json_object_get(found, "first_name");
    assert_int_equal(sizeof(first) - 1, json_string_length(v));
    assert_memory_equal(first, json_string_value(v), sizeof(first) - 1);
    v = json_object_get(found, "last_name");
    assert_int_equal(sizeof(last) - 1, json_string_length(v));
    assert_memory_equal(last, json_string_value(v), sizeof(last) - 1);
    v = json_object_get(inserted, "first_name");
    assert_int_equal(sizeof(first) - 1, json_string_length(v));
    assert_memory_equal(first, json_string_value(v), sizeof(first) - 1);

    /* On disk: TEXT holding exactly these bytes (no re-encoding, no escapes). */
    direct = open_direct(f->path);
    assert_int_equal(SQLITE_OK,
                     sqlite3_prepare_v2(direct, "SELECT typeof(first_name), first_name,"
                                        " length(first_name) FROM users WHERE login = 'emoji'",
                                        -1, &st, NULL));
    assert_int_equal(SQLITE_ROW, sqlite3_step(st));
    assert_string_equal("text", (const char *)sqlite3_column_text(st, 0));
    assert_int_equal(sizeof(first) - 1, sqlite3_column_bytes(st, 1));
    assert_memory_equal(first, sqlite3_column_blob(st, 1), sizeof(first) - 1);
    assert_int_equal(16, sqlite3_column_int(st, 2));   /* code points, per SQLite */
    sqlite3_finalize(st);
    sqlite3_close(direct);

    json_decref(inserted);
    json_decref(found);
    json_decref(values);
}

static void
test_orm_ids_increase_and_are_never_reused(void **state)
{
    struct fixture *f = *state;
    json_t *a = user("a1", NULL, NULL), *b = user("b2", NULL, NULL), *c = user("c3", NULL, NULL);
    json_t *row = NULL;
    struct op del = {0};
    int64_t id_a, id_b, id_c;

    assert_int_equal(USV_OK, insert(f->db, a, &row));
    id_a = json_integer_value(json_object_get(row, "id"));
    json_decref(row);
    assert_int_equal(USV_OK, insert(f->db, b, &row));
    id_b = json_integer_value(json_object_get(row, "id"));
    json_decref(row);
    assert_true(id_b > id_a);
    del.id = id_b;
    assert_int_equal(USV_OK, orm_transact(f->db, ORM_TX_WRITE, delete_work, &del));
    assert_int_equal(USV_NOT_FOUND, orm_transact(f->db, ORM_TX_WRITE, delete_work, &del));
    assert_int_equal(USV_OK, insert(f->db, c, &row));
    id_c = json_integer_value(json_object_get(row, "id"));
    json_decref(row);
    assert_true(id_c > id_b);
    json_decref(a);
    json_decref(b);
    json_decref(c);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_orm_db_open_rejects_an_unknown_url),
        T(test_orm_db_reports_its_backend),
        T(test_orm_insert_returns_the_row_with_id_and_created_at),
        T(test_orm_find_returns_the_row_as_inserted),
        T(test_orm_find_of_a_missing_id_is_not_found),
        T(test_orm_duplicate_login_is_a_conflict_case_insensitively),
        T(test_orm_failing_work_rolls_back),
        T(test_orm_failing_work_rolls_back_with_any_error_code),
        T(test_orm_transact_is_unavailable_when_no_connection_frees),
        T(test_orm_emoji_round_trip_byte_exact),
        T(test_orm_ids_increase_and_are_never_reused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
