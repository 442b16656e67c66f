/* SPDX-License-Identifier: MIT
 * test_orm.c - orm/orm.c through its public API, on a temporary SQLite file
 * migrated to the latest schema.
 *
 * Sessions (orm_transact commits on USV_OK, rolls back otherwise, always
 * gives the connection back), orm_insert and orm_find with users_model,
 * USV_NOT_FOUND, USV_CONFLICT for a login taken case-insensitively, and a
 * byte-exact round trip of emoji. Second stage: updated_at, orm_update
 * (only differing columns are written; no difference, no write),
 * orm_delete, orm_find_many (keyset pages, has_more, the login filter) and
 * ORM_TX_READ_REPLICA falling back to the primary. Third: the backend's
 * execute_batch hook called directly (group commit: a duplicate login fails
 * only its own INSERT, no transaction is left open, a locked database fails
 * every item and stores nothing). What is on disk is
 * checked (and, to catch extra writes, tampered with) through sqlite3
 * directly, beside the ORM. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "handlers/users.h"
#include "orm/migrate.h"
#include "orm/orm.h"
#include "tests/lib/testdb.h"
#include "orm/orm_int.h"

/* No bounds: what the driver does by itself. */
static const struct orm_limits test_limits = {0};
#include "orm/sql.h"

struct fixture {
    struct testdb tdb;   /* the shared fixture: tdb.path is the database file */
    struct orm_db *db;
};

static const struct orm_model *const models[] = {&users_model};

static int teardown(void **state);

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    const struct orm_db_options opts = {.pool_size = 2, .pool_timeout_ms = 30000};

    if (f == NULL)
        return -1;
    *state = f;
    if (testdb_create(&f->tdb, "sqlite", "orm") != TESTDB_OK) {
        teardown(state);   /* cmocka skips the teardown of a failed setup */
        return -1;
    }
    if (orm_db_open(f->tdb.url, models, 1, &opts, &f->db) != USV_OK ||
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

    orm_db_close(f->db);
    testdb_destroy(&f->tdb);
    free(f);
    return 0;
}

/* ---- work functions ------------------------------------------------------ */

struct op {
    json_t *values;       /* borrowed */
    int64_t id;
    json_t *row;          /* new */
    unsigned calls;
    enum usv_err fail_with;   /* returned after a successful insert, if not USV_OK */
    json_t *current;      /* borrowed: update_work's "row as read", or NULL to read it */
    struct orm_page page;     /* list_work */
    bool has_more;
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

/* Apply op->values to op->current (or, when NULL, to the row as read with
 * a lock in this session, as the PATCH handler does). */
static enum usv_err
update_work(struct orm_session *s, void *arg)
{
    struct op *op = arg;
    json_t *current = NULL;
    enum usv_err rc = USV_OK;

    op->calls++;
    json_decref(op->row);
    op->row = NULL;
    if (op->current != NULL)
        current = json_incref(op->current);
    else
        rc = orm_find(s, &users_model, op->id, true, &current);
    if (rc == USV_OK)
        rc = orm_update(s, &users_model, current, op->values, &op->row);
    json_decref(current);
    return rc;
}

static enum usv_err
list_work(struct orm_session *s, void *arg)
{
    struct op *op = arg;

    op->calls++;
    json_decref(op->row);
    op->row = NULL;
    op->has_more = !op->has_more;   /* must be written on success */
    return orm_find_many(s, &users_model, &op->page, &op->row, &op->has_more);
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

/* Update user @id with the JSON text @changes; the new row in *@row. */
static enum usv_err
update(struct orm_db *db, int64_t id, const char *changes, json_t **row)
{
    json_t *values = json_loads(changes, 0, NULL);
    struct op op = {.values = values, .id = id};
    enum usv_err rc;

    assert_non_null(values);
    rc = orm_transact(db, ORM_TX_WRITE, update_work, &op);
    *row = op.row;
    json_decref(values);
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

/* Run @sql on the file directly (an operator's or another writer's change). */
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

/* The first column of the first row of @sql as text ("<null>" for NULL). */
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

static const char *
str_of(json_t *row, const char *key)
{
    return json_string_value(json_object_get(row, key));
}

static int64_t
id_of(json_t *row)
{
    return json_integer_value(json_object_get(row, "id"));
}

/* Let the clock move on, so a new stamp cannot equal an old one. */
static void
tick(void)
{
    const struct timespec ts = {.tv_sec = 0, .tv_nsec = 2 * 1000 * 1000};

    nanosleep(&ts, NULL);
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
    assert_int_equal(6, json_object_size(row));
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
    /* At creation updated_at is created_at, byte for byte. */
    assert_non_null(str_of(row, "updated_at"));
    assert_string_equal(created_at, str_of(row, "updated_at"));
    assert_int_equal(1, count_users(f->tdb.path));
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
    assert_int_equal(1, count_users(f->tdb.path));
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
    assert_int_equal(0, count_users(f->tdb.path));
    assert_int_equal(USV_NOT_FOUND, find(f->db, id, &row));
    assert_in_use_zero(f->db);
    /* Nothing half-written: the login is still free. */
    assert_int_equal(USV_OK, insert(f->db, values, &row));
    assert_int_equal(1, count_users(f->tdb.path));
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
        assert_int_equal(0, count_users(f->tdb.path));
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

    snprintf(url, sizeof(url), "sqlite:%s", f->tdb.path);
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
    direct = open_direct(f->tdb.path);
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

struct text_op {
    int64_t id;
    char *text;           /* new */
    size_t len;
};

static enum usv_err
find_text_work(struct orm_session *s, void *arg)
{
    struct text_op *op = arg;

    free(op->text);
    op->text = NULL;
    return orm_find_text(s, &users_model, op->id, &op->text, &op->len);
}

/* GET's text (orm_find_text) is byte for byte the JSON_COMPACT dump of
 * orm_find()'s row, for names with every escape, control characters, NUL,
 * emoji and NULL; text that is not UTF-8 (written behind the ORM's back) is
 * USV_INTERNAL on both paths; a missing id is USV_NOT_FOUND on both. */
static void
test_orm_find_text_is_the_dump_of_orm_find(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *first, *last;
        size_t first_len, last_len;   /* 0: strlen */
        bool is_invalid;
    } names[] = {
        {"plain", "Name", 0, 0, false},
        {"\"q\" \\ / \b\f\n\r\t", "\x01\x1F\x7F", 0, 0, false},
        {"nul\0inside", NULL, 11, 0, false},
        {"\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7 Zoe\xCC\x81", "\xF0\x9F\x87\xB3\xF0\x9F\x87\xB4",
         0, 0, false},
        {NULL, "\xF4\x8F\xBF\xBF\xEF\xBB\xBF", 0, 0, false},
        {"", "", 0, 0, false},
        {"bad \xC0\xAF overlong", "x", 0, 0, true},
        {"ok", "lone surrogate \xED\xA0\x80", 0, 0, true},
    };
    sqlite3 *direct = open_direct(f->tdb.path);

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char login[32];
        json_t *values, *inserted = NULL, *found = NULL;
        struct text_op op = {0};
        sqlite3_stmt *st = NULL;
        int64_t id;
        enum usv_err rc_json, rc_text;

        snprintf(login, sizeof(login), "text%zu", i);
        values = user(login, "a", "b");
        assert_int_equal(USV_OK, insert(f->db, values, &inserted));
        id = json_integer_value(json_object_get(inserted, "id"));
        assert_int_equal(SQLITE_OK,
                         sqlite3_prepare_v2(direct, "UPDATE users SET first_name = ?1,"
                                            " last_name = ?2 WHERE id = ?3", -1, &st, NULL));
        if (names[i].first != NULL)
            sqlite3_bind_text(st, 1, names[i].first,
                              (int)(names[i].first_len != 0 ? names[i].first_len
                                                            : strlen(names[i].first)),
                              SQLITE_STATIC);
        if (names[i].last != NULL)
            sqlite3_bind_text(st, 2, names[i].last,
                              (int)(names[i].last_len != 0 ? names[i].last_len
                                                           : strlen(names[i].last)),
                              SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, id);
        assert_int_equal(SQLITE_DONE, sqlite3_step(st));
        sqlite3_finalize(st);

        rc_json = find(f->db, id, &found);
        op.id = id;
        rc_text = orm_transact(f->db, ORM_TX_READ, find_text_work, &op);
        assert_int_equal(names[i].is_invalid ? USV_INTERNAL : USV_OK, rc_json);
        assert_int_equal(rc_json, rc_text);
        if (rc_json == USV_OK) {
            char *want = json_dumps(found, JSON_COMPACT);

            assert_non_null(op.text);
            assert_int_equal(strlen(want), op.len);
            assert_memory_equal(want, op.text, op.len);
            assert_int_equal('\0', op.text[op.len]);
            free(want);
        }
        free(op.text);
        json_decref(found);
        json_decref(inserted);
        json_decref(values);
    }
    sqlite3_close(direct);

    {
        struct text_op op = {.id = 999999};

        assert_int_equal(USV_NOT_FOUND, orm_transact(f->db, ORM_TX_READ, find_text_work, &op));
        assert_null(op.text);
    }
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

/* ---- orm_update ---------------------------------------------------------- */

static void
test_orm_update_writes_the_change_and_sets_updated_at(void **state)
{
    struct fixture *f = *state;
    json_t *values = user("frank", "Frank", "Old");
    json_t *inserted = NULL, *updated = NULL, *found = NULL;
    char disk[64];

    assert_int_equal(USV_OK, insert(f->db, values, &inserted));
    tick();
    assert_int_equal(USV_OK, update(f->db, id_of(inserted), "{\"last_name\":\"New\"}",
                                    &updated));
    assert_non_null(updated);
    assert_int_equal(6, json_object_size(updated));
    assert_int_equal(id_of(inserted), id_of(updated));
    assert_string_equal("frank", str_of(updated, "login"));
    assert_string_equal("Frank", str_of(updated, "first_name"));
    assert_string_equal("New", str_of(updated, "last_name"));
    /* created_at never moves; updated_at is a new, later canonical stamp. */
    assert_string_equal(str_of(inserted, "created_at"), str_of(updated, "created_at"));
    assert_true(is_canonical_stamp(str_of(updated, "updated_at")));
    assert_true(strcmp(str_of(updated, "updated_at"), str_of(inserted, "updated_at")) > 0);
    /* The returned row is the stored one. */
    assert_int_equal(USV_OK, find(f->db, id_of(inserted), &found));
    assert_true(json_equal(updated, found));
    text_direct(f->tdb.path, "SELECT last_name FROM users", disk, sizeof(disk));
    assert_string_equal("New", disk);
    assert_in_use_zero(f->db);
    json_decref(inserted);
    json_decref(updated);
    json_decref(found);
    json_decref(values);
}

static void
test_orm_update_null_clears_a_name(void **state)
{
    struct fixture *f = *state;
    json_t *values = user("gina", "Gina", "Lollo");
    json_t *inserted = NULL, *updated = NULL;
    char disk[64];

    assert_int_equal(USV_OK, insert(f->db, values, &inserted));
    assert_int_equal(USV_OK, update(f->db, id_of(inserted), "{\"first_name\":null}", &updated));
    assert_true(json_is_null(json_object_get(updated, "first_name")));
    assert_string_equal("Lollo", str_of(updated, "last_name"));
    text_direct(f->tdb.path, "SELECT first_name FROM users", disk, sizeof(disk));
    assert_string_equal("<null>", disk);
    json_decref(inserted);
    json_decref(updated);
    json_decref(values);
}

/* The row the session read says first_name "Hal"; the file was changed
 * behind it to "Tampered". A change that names first_name with the value
 * read ("Hal") and last_name with a new one must write last_name only: were
 * first_name written too, "Tampered" would be overwritten with "Hal". */
static void
test_orm_update_writes_only_the_columns_that_differ(void **state)
{
    struct fixture *f = *state;
    json_t *values = user("hal", "Hal", "Nine");
    json_t *inserted = NULL;
    json_t *changes = json_pack("{s:s, s:s, s:s}", "login", "hal", "first_name", "Hal",
                                "last_name", "Ten");
    struct op op = {.values = changes};
    char disk[64];

    assert_int_equal(USV_OK, insert(f->db, values, &inserted));
    op.id = id_of(inserted);
    op.current = inserted;
    exec_direct(f->tdb.path, "UPDATE users SET first_name = 'Tampered', login = 'HAL'");
    assert_int_equal(USV_OK, orm_transact(f->db, ORM_TX_WRITE, update_work, &op));
    text_direct(f->tdb.path, "SELECT first_name FROM users", disk, sizeof(disk));
    assert_string_equal("Tampered", disk);
    text_direct(f->tdb.path, "SELECT login FROM users", disk, sizeof(disk));
    assert_string_equal("HAL", disk);
    text_direct(f->tdb.path, "SELECT last_name FROM users", disk, sizeof(disk));
    assert_string_equal("Ten", disk);
    /* The result is the row as now stored, not the caller's idea of it. */
    assert_string_equal("Tampered", str_of(op.row, "first_name"));
    assert_string_equal("Ten", str_of(op.row, "last_name"));
    json_decref(op.row);
    json_decref(changes);
    json_decref(inserted);
    json_decref(values);
}

/* Nothing differs: no UPDATE at all (the tampered file stays as it is),
 * the result is @current itself, and updated_at does not move. */
static void
test_orm_update_with_nothing_different_writes_nothing(void **state)
{
    struct fixture *f = *state;
    json_t *values = user("ivy", "Ivy", NULL);
    json_t *inserted = NULL;
    static const char *const same[] = {
        "{}",
        "{\"login\":\"ivy\"}",
        "{\"login\":\"ivy\",\"first_name\":\"Ivy\",\"last_name\":null}",
        "{\"last_name\":null}",
    };
    char disk[64], stamp[64];

    assert_int_equal(USV_OK, insert(f->db, values, &inserted));
    exec_direct(f->tdb.path, "UPDATE users SET first_name = 'Tampered',"
                         " updated_at = '2000-01-01T00:00:00.000000Z'");
    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
        json_t *changes = json_loads(same[i], 0, NULL);
        struct op op = {.values = changes, .id = id_of(inserted), .current = inserted};

        assert_non_null(changes);
        tick();
        assert_int_equal(USV_OK, orm_transact(f->db, ORM_TX_WRITE, update_work, &op));
        assert_ptr_equal(inserted, op.row);   /* @current itself, a new reference */
        assert_true(json_equal(inserted, op.row));
        json_decref(op.row);
        json_decref(changes);
        text_direct(f->tdb.path, "SELECT first_name FROM users", disk, sizeof(disk));
        assert_string_equal("Tampered", disk);
        text_direct(f->tdb.path, "SELECT updated_at FROM users", stamp, sizeof(stamp));
        assert_string_equal("2000-01-01T00:00:00.000000Z", stamp);
    }
    /* The same, through a locked read (the PATCH path): updated_at stays. */
    {
        json_t *before = NULL, *after = NULL;

        assert_int_equal(USV_OK, find(f->db, id_of(inserted), &before));
        tick();
        assert_int_equal(USV_OK, update(f->db, id_of(inserted),
                                        "{\"first_name\":\"Tampered\",\"login\":\"ivy\"}",
                                        &after));
        assert_true(json_equal(before, after));
        assert_string_equal("2000-01-01T00:00:00.000000Z", str_of(after, "updated_at"));
        json_decref(before);
        json_decref(after);
    }
    assert_in_use_zero(f->db);
    json_decref(inserted);
    json_decref(values);
}

static void
test_orm_update_login_case_change_is_a_change(void **state)
{
    struct fixture *f = *state;
    json_t *values = user("a", NULL, NULL);
    json_t *inserted = NULL, *updated = NULL;
    char disk[64];

    assert_int_equal(USV_OK, insert(f->db, values, &inserted));
    tick();
    assert_int_equal(USV_OK, update(f->db, id_of(inserted), "{\"login\":\"A\"}", &updated));
    assert_string_equal("A", str_of(updated, "login"));
    assert_true(strcmp(str_of(updated, "updated_at"), str_of(inserted, "updated_at")) > 0);
    text_direct(f->tdb.path, "SELECT login FROM users", disk, sizeof(disk));
    assert_string_equal("A", disk);   /* stored exactly as given */
    json_decref(inserted);
    json_decref(updated);
    json_decref(values);
}

static void
test_orm_update_to_a_login_taken_case_insensitively_is_a_conflict(void **state)
{
    struct fixture *f = *state;
    json_t *a = user("jack", NULL, NULL), *b = user("jill", "Jill", NULL);
    json_t *ra = NULL, *rb = NULL, *row = NULL, *found = NULL;

    assert_int_equal(USV_OK, insert(f->db, a, &ra));
    assert_int_equal(USV_OK, insert(f->db, b, &rb));
    assert_int_equal(USV_CONFLICT,
                     update(f->db, id_of(rb), "{\"login\":\"JACK\",\"first_name\":\"X\"}", &row));
    assert_null(row);
    /* Rolled back: jill is unchanged. */
    assert_int_equal(USV_OK, find(f->db, id_of(rb), &found));
    assert_true(json_equal(rb, found));
    assert_in_use_zero(f->db);
    json_decref(found);
    json_decref(ra);
    json_decref(rb);
    json_decref(a);
    json_decref(b);
}

static void
test_orm_update_of_a_missing_row_is_not_found(void **state)
{
    struct fixture *f = *state;
    json_t *row = NULL;

    assert_int_equal(USV_NOT_FOUND, update(f->db, 42, "{\"first_name\":\"x\"}", &row));
    assert_null(row);
    assert_in_use_zero(f->db);
}

/* ---- orm_delete ---------------------------------------------------------- */

static void
test_orm_delete_removes_only_that_row(void **state)
{
    struct fixture *f = *state;
    json_t *a = user("kim", NULL, NULL), *b = user("lee", NULL, NULL);
    json_t *ra = NULL, *rb = NULL, *row = NULL;
    struct op del = {0};

    assert_int_equal(USV_OK, insert(f->db, a, &ra));
    assert_int_equal(USV_OK, insert(f->db, b, &rb));
    del.id = id_of(ra);
    assert_int_equal(USV_OK, orm_transact(f->db, ORM_TX_WRITE, delete_work, &del));
    assert_int_equal(1, count_users(f->tdb.path));
    assert_int_equal(USV_NOT_FOUND, find(f->db, id_of(ra), &row));
    assert_null(row);
    assert_int_equal(USV_OK, find(f->db, id_of(rb), &row));
    json_decref(row);
    /* Again, and of an id that never was: not found, nothing deleted. */
    assert_int_equal(USV_NOT_FOUND, orm_transact(f->db, ORM_TX_WRITE, delete_work, &del));
    del.id = INT64_MAX;
    assert_int_equal(USV_NOT_FOUND, orm_transact(f->db, ORM_TX_WRITE, delete_work, &del));
    assert_int_equal(1, count_users(f->tdb.path));
    /* The login is free again, under a new id. */
    assert_int_equal(USV_OK, insert(f->db, a, &row));
    assert_true(id_of(row) > id_of(rb));
    assert_in_use_zero(f->db);
    json_decref(row);
    json_decref(ra);
    json_decref(rb);
    json_decref(a);
    json_decref(b);
}

/* ---- orm_find_many ------------------------------------------------------- */

/* Insert users u1..u@n; their ids into @ids. */
static void
insert_n(struct orm_db *db, size_t n, int64_t *ids)
{
    for (size_t i = 0; i < n; i++) {
        char login[16];
        json_t *v, *row = NULL;

        snprintf(login, sizeof(login), "u%zu", i + 1);
        v = user(login, NULL, NULL);
        assert_int_equal(USV_OK, insert(db, v, &row));
        ids[i] = id_of(row);
        if (i > 0)
            assert_true(ids[i] > ids[i - 1]);
        json_decref(row);
        json_decref(v);
    }
}

/* Read the page (@after, @limit[, login = @login]) and expect exactly the
 * ids @want (n of them) and @more. */
static void
expect_page(struct orm_db *db, int64_t after, unsigned limit, const char *login,
            const int64_t *want, size_t n, bool more)
{
    for (int prior = 0; prior < 2; prior++) {
        struct op op = {.page = {.after = after, .limit = limit}, .has_more = prior};

        if (login != NULL) {
            op.page.column = "login";
            op.page.value = login;
        }
        assert_int_equal(USV_OK, orm_transact(db, ORM_TX_READ, list_work, &op));
        assert_non_null(op.row);
        assert_true(json_is_array(op.row));
        if (json_array_size(op.row) != n) {
            char *dump = json_dumps(op.row, 0);

            print_error("after=%lld limit=%u: expected %zu rows, got %s\n", (long long)after,
                        limit, n, dump);
            free(dump);
            fail();
        }
        for (size_t i = 0; i < n; i++) {
            json_t *row = json_array_get(op.row, i);

            assert_int_equal(want[i], id_of(row));
            assert_int_equal(6, json_object_size(row));
        }
        if (op.has_more != more)
            fail_msg("after=%lld limit=%u: has_more is %d, expected %d", (long long)after,
                     limit, op.has_more, more);
        json_decref(op.row);
    }
}

static void
test_orm_find_many_pages_by_key_in_order(void **state)
{
    struct fixture *f = *state;
    int64_t id[6];
    struct op del = {0};

    expect_page(f->db, 0, 20, NULL, NULL, 0, false);   /* empty table */
    insert_n(f->db, 6, id);
    /* A gap in the keys: id[2] is gone. */
    del.id = id[2];
    assert_int_equal(USV_OK, orm_transact(f->db, ORM_TX_WRITE, delete_work, &del));

    expect_page(f->db, 0, 2, NULL, (int64_t[]){id[0], id[1]}, 2, true);
    expect_page(f->db, id[1], 2, NULL, (int64_t[]){id[3], id[4]}, 2, true);
    expect_page(f->db, id[4], 2, NULL, (int64_t[]){id[5]}, 1, false);
    /* after a deleted key: the next greater one. */
    expect_page(f->db, id[2], 1, NULL, (int64_t[]){id[3]}, 1, true);
    expect_page(f->db, id[1], 100, NULL, (int64_t[]){id[3], id[4], id[5]}, 3, false);
    expect_page(f->db, 0, 100, NULL, (int64_t[]){id[0], id[1], id[3], id[4], id[5]}, 5, false);
    expect_page(f->db, id[5], 20, NULL, NULL, 0, false);
    expect_page(f->db, INT64_MAX, 20, NULL, NULL, 0, false);
}

static void
test_orm_find_many_has_more_exactly_when_a_row_follows(void **state)
{
    struct fixture *f = *state;
    int64_t id[5];

    insert_n(f->db, 5, id);
    /* A full last page has nothing after it. */
    expect_page(f->db, 0, 5, NULL, id, 5, false);
    expect_page(f->db, 0, 4, NULL, id, 4, true);
    expect_page(f->db, id[3], 1, NULL, (int64_t[]){id[4]}, 1, false);
    expect_page(f->db, id[2], 1, NULL, (int64_t[]){id[3]}, 1, true);
    expect_page(f->db, id[2], 2, NULL, (int64_t[]){id[3], id[4]}, 2, false);
    expect_page(f->db, 0, 1, NULL, id, 1, true);
}

/* orm_find_by (issue 17: the idempotency key lookup): by a column's
 * value, with its case rule; USV_NOT_FOUND for no row or no such column. */
static enum usv_err
find_by_work(struct orm_session *s, void *arg)
{
    struct op *op = arg;

    op->calls++;
    json_decref(op->row);
    op->row = NULL;
    return orm_find_by(s, &users_model, op->page.column, op->page.value, &op->row);
}

static void
test_orm_find_by_finds_one_row_by_a_column(void **state)
{
    struct fixture *f = *state;
    json_t *v = user("Find.By", "F", NULL), *row = NULL;
    struct op op = {.page = {.column = "login", .value = "find.by"}};
    int64_t id[2], want;

    insert_n(f->db, 2, id);
    assert_int_equal(USV_OK, insert(f->db, v, &row));
    want = id_of(row);
    json_decref(row);
    assert_int_equal(USV_OK, orm_transact(f->db, ORM_TX_READ, find_by_work, &op));
    assert_int_equal(want, id_of(op.row));
    assert_string_equal("Find.By", json_string_value(json_object_get(op.row, "login")));
    op.page.value = "find.b";
    assert_int_equal(USV_NOT_FOUND, orm_transact(f->db, ORM_TX_READ, find_by_work, &op));
    assert_null(op.row);
    op.page.column = "no_such_column";
    assert_int_equal(USV_NOT_FOUND, orm_transact(f->db, ORM_TX_READ, find_by_work, &op));
    json_decref(v);
}

static void
test_orm_find_many_filters_by_login_case_insensitively(void **state)
{
    struct fixture *f = *state;
    json_t *v = user("Mixed.Case_1", "M", NULL), *row = NULL;
    int64_t id[2], mixed;

    insert_n(f->db, 2, id);
    assert_int_equal(USV_OK, insert(f->db, v, &row));
    mixed = id_of(row);
    json_decref(row);

    expect_page(f->db, 0, 20, "Mixed.Case_1", &mixed, 1, false);
    expect_page(f->db, 0, 20, "mixed.case_1", &mixed, 1, false);
    expect_page(f->db, 0, 20, "MIXED.CASE_1", &mixed, 1, false);
    expect_page(f->db, 0, 1, "mixed.CASE_1", &mixed, 1, false);
    expect_page(f->db, 0, 20, "u1", id, 1, false);
    /* Exact, not a prefix or pattern match. */
    expect_page(f->db, 0, 20, "Mixed.Case_", NULL, 0, false);
    expect_page(f->db, 0, 20, "Mixed.Case_1 ", NULL, 0, false);
    expect_page(f->db, 0, 20, "Mixed%", NULL, 0, false);
    expect_page(f->db, 0, 20, "u", NULL, 0, false);
    /* The filter combines with the key. */
    expect_page(f->db, mixed, 20, "mixed.case_1", NULL, 0, false);
    expect_page(f->db, mixed - 1, 20, "mixed.case_1", &mixed, 1, false);
    json_decref(v);
}

/* ---- ORM_TX_READ_REPLICA ------------------------------------------------- */

/* A second SQLite file with the schema (migrated through an orm_db of its own). */
static void
make_replica_file(const char *path)
{
    const struct orm_db_options opts = {.pool_size = 1, .pool_timeout_ms = 30000};
    struct orm_db *db = NULL;
    char url[256];

    snprintf(url, sizeof(url), "sqlite:%s", path);
    assert_int_equal(USV_OK, orm_db_open(url, models, 1, &opts, &db));
    assert_int_equal(USV_OK, migrate_up(db, NULL));
    orm_db_close(db);
}

static enum usv_err
find_replica(struct orm_db *db, int64_t id, json_t **row)
{
    struct op op = {.id = id};
    enum usv_err rc = orm_transact(db, ORM_TX_READ_REPLICA, find_work, &op);

    *row = op.row;
    return rc;
}

static void
test_orm_read_replica_falls_back_to_the_primary_for_a_missing_row(void **state)
{
    struct fixture *f = *state;
    char replica_path[200], primary_url[256], replica_url[256];
    struct orm_db_options opts = {.pool_size = 1, .pool_timeout_ms = 30000};
    struct orm_pool_stats rs;
    struct orm_db *db = NULL;
    json_t *values = user("nora", "Nora", NULL);
    json_t *inserted = NULL, *row = NULL;

    snprintf(replica_path, sizeof(replica_path), "%s/replica.db", f->tdb.dir);
    make_replica_file(replica_path);
    snprintf(primary_url, sizeof(primary_url), "sqlite:%s", f->tdb.path);
    snprintf(replica_url, sizeof(replica_url), "sqlite:%s", replica_path);
    opts.replica_url = replica_url;
    assert_int_equal(USV_OK, orm_db_open(primary_url, models, 1, &opts, &db));
    assert_true(orm_db_replica_stats(db, &rs));

    /* Written to the primary only: the replica "lags" and lacks the row. */
    assert_int_equal(USV_OK, insert(db, values, &inserted));
    assert_int_equal(USV_OK, find_replica(db, id_of(inserted), &row));
    assert_non_null(row);
    assert_true(json_equal(inserted, row));
    json_decref(row);
    row = NULL;
    /* The replica was asked first. */
    assert_true(orm_db_replica_stats(db, &rs));
    assert_true(rs.acquired >= 1);
    assert_int_equal(0, rs.in_use);

    /* A row only the replica holds is served by the replica: it is read
     * first (this is what makes the fallback above a fallback). */
    exec_direct(replica_path, "INSERT INTO users (id, login, created_at, updated_at) VALUES"
                              " (777, 'only.replica', '2026-01-02T03:04:05.123456Z',"
                              " '2026-01-02T03:04:05.123456Z')");
    assert_int_equal(USV_OK, find_replica(db, 777, &row));
    assert_string_equal("only.replica", str_of(row, "login"));
    json_decref(row);
    row = NULL;
    /* ...and plain reads never touch it. */
    assert_int_equal(USV_NOT_FOUND, find(db, 777, &row));
    assert_null(row);
    /* Missing everywhere: not found. */
    assert_int_equal(USV_NOT_FOUND, find_replica(db, 4242, &row));
    assert_null(row);
    assert_in_use_zero(db);
    orm_db_close(db);
    json_decref(inserted);
    json_decref(values);
}

static void
test_orm_read_replica_that_cannot_be_opened_serves_reads_from_the_primary(void **state)
{
    struct fixture *f = *state;
    char primary_url[200];
    struct orm_db_options opts = {.pool_size = 1, .pool_timeout_ms = 30000,
                                  .replica_url = "sqlite:/nonexistent-dir/x.db"};
    struct orm_pool_stats rs;
    struct orm_db *db = NULL;
    json_t *values = user("olga", NULL, NULL);
    json_t *inserted = NULL, *row = NULL;

    snprintf(primary_url, sizeof(primary_url), "sqlite:%s", f->tdb.path);
    assert_int_equal(USV_OK, orm_db_open(primary_url, models, 1, &opts, &db));
    assert_int_equal(USV_OK, insert(db, values, &inserted));
    for (int i = 0; i < 3; i++) {
        assert_int_equal(USV_OK, find_replica(db, id_of(inserted), &row));
        assert_true(json_equal(inserted, row));
        json_decref(row);
        row = NULL;
    }
    assert_int_equal(USV_NOT_FOUND, find_replica(db, id_of(inserted) + 1, &row));
    assert_null(row);
    assert_true(orm_db_replica_stats(db, &rs));
    assert_true(rs.connect_failures >= 1);   /* it was tried */
    assert_int_equal(0, rs.in_use);
    assert_in_use_zero(db);
    orm_db_close(db);
    json_decref(inserted);
    json_decref(values);
}

static void
test_orm_read_replica_mode_without_a_replica_reads_the_primary(void **state)
{
    struct fixture *f = *state;
    struct orm_pool_stats rs;
    json_t *values = user("pia", NULL, NULL);
    json_t *inserted = NULL, *row = NULL;

    assert_false(orm_db_replica_stats(f->db, &rs));
    assert_int_equal(USV_OK, insert(f->db, values, &inserted));
    assert_int_equal(USV_OK, find_replica(f->db, id_of(inserted), &row));
    assert_true(json_equal(inserted, row));
    json_decref(row);
    json_decref(inserted);
    json_decref(values);
}

static void
test_orm_replica_of_another_backend_is_refused(void **state)
{
    const struct orm_db_options opts = {.pool_size = 1, .pool_timeout_ms = 10,
                                        .replica_url = "postgres://u@127.0.0.1:1/x"};
    struct orm_db *const untouched = (struct orm_db *)(uintptr_t)0x5A5A5A50u;
    struct orm_db *db = untouched;

    assert_int_equal(USV_BAD_REQUEST,
                     orm_db_open("sqlite::memory:", models, 1, &opts, &db));
    assert_ptr_equal(untouched, db);
}

/* ---- batches: the SQLite backend's execute_batch hook -------------------- */

/* The statement id of the INSERT on a connection of the test's own. */
enum { STMT_INSERT = 1 };

/* A connection of its own to the fixture's file (outside the pool), with
 * users_model's INSERT ... RETURNING prepared from the SQL the ORM generates. */
static struct orm_conn *
batch_conn(struct fixture *f)
{
    const struct orm_backend *be = orm_db_backend_ops(f->db);
    struct orm_conn *c = NULL;
    char url[160], err[256] = "";
    struct strbuf sql;

    snprintf(url, sizeof(url), "sqlite:%s", f->tdb.path);
    if (orm_connect_url(url, &test_limits, &c, err, sizeof(err)) != USV_OK)
        fail_msg("open: %s", err);
    strbuf_init(&sql);
    orm_sql_build(be, &users_model, ORM_OP_INSERT_RETURNING, &sql);
    if (orm_conn_prepare(c, STMT_INSERT, strbuf_str(&sql), 5) != USV_OK)
        fail_msg("prepare %s: %s", strbuf_str(&sql), c->errmsg);
    strbuf_finish(&sql);
    return c;
}

/* One INSERT ... RETURNING of users_model: its parameters, result and item. */
struct batch_insert {
    struct orm_param params[5];    /* login, first_name, last_name, created_at, updated_at */
    struct orm_result res;
    struct orm_batch_item item;
};

static void
batch_insert_init(struct batch_insert *bi, const char *login)
{
    static const char stamp[] = "2026-11-21T08:00:00.000000Z";

    memset(bi, 0, sizeof(*bi));
    bi->params[0] = (struct orm_param){.type = ORM_TEXT, .s = login, .len = strlen(login)};
    bi->params[1] = (struct orm_param){.type = ORM_TEXT, .is_null = true};
    bi->params[2] = (struct orm_param){.type = ORM_TEXT, .is_null = true};
    bi->params[3] = (struct orm_param){.type = ORM_TIMESTAMP, .s = stamp,
                                       .len = sizeof(stamp) - 1};
    bi->params[4] = bi->params[3];
    orm_result_init(&bi->res, users_model.n_columns);
    bi->item = (struct orm_batch_item){.id = STMT_INSERT, .params = bi->params, .n_params = 5,
                                       .res = &bi->res, .rc = USV_INTERNAL};
}

/* Is @c outside any transaction? BEGIN fails inside one. */
static bool
is_idle(const struct orm_backend *be, struct orm_conn *c)
{
    if (orm_conn_begin(c, ORM_TX_WRITE) != USV_OK)
        return false;
    assert_int_equal(USV_OK, orm_conn_rollback(c));
    return true;
}

static void
test_orm_sqlite_batch_duplicate_login_fails_only_its_own_insert(void **state)
{
    struct fixture *f = *state;
    const struct orm_backend *be = orm_db_backend_ops(f->db);
    struct orm_conn *c = batch_conn(f);
    static const char *const logins[] = {"alice", "alice", "bob"};
    struct batch_insert bi[3];
    struct orm_batch_item *items[3];
    char v[64];

    for (size_t i = 0; i < 3; i++) {
        batch_insert_init(&bi[i], logins[i]);
        items[i] = &bi[i].item;
    }
    orm_conn_execute_batch(c, items, 3);

    assert_int_equal(USV_OK, bi[0].item.rc);
    assert_int_equal(USV_CONFLICT, bi[1].item.rc);
    assert_int_equal(USV_OK, bi[2].item.rc);
    /* Each insert that succeeded got its own row back. */
    assert_int_equal(1, orm_result_rows(&bi[0].res));
    assert_string_equal("alice", orm_result_cell(&bi[0].res, 0, 1, NULL));
    assert_int_equal(0, orm_result_rows(&bi[1].res));
    assert_int_equal(1, orm_result_rows(&bi[2].res));
    assert_string_equal("bob", orm_result_cell(&bi[2].res, 0, 1, NULL));
    assert_string_not_equal(orm_result_cell(&bi[0].res, 0, 0, NULL),
                            orm_result_cell(&bi[2].res, 0, 0, NULL));
    assert_false(c->is_broken);
    /* Committed, as another connection sees: exactly the two. */
    assert_int_equal(2, count_users(f->tdb.path));
    text_direct(f->tdb.path, "SELECT group_concat(login, ',') FROM "
                         "(SELECT login FROM users ORDER BY id)", v, sizeof(v));
    assert_string_equal("alice,bob", v);
    text_direct(f->tdb.path, "SELECT id FROM users WHERE login = 'bob'", v, sizeof(v));
    assert_string_equal(orm_result_cell(&bi[2].res, 0, 0, NULL), v);
    assert_true(is_idle(be, c));
    for (size_t i = 0; i < 3; i++)
        orm_result_finish(&bi[i].res);
    be->close(c);
}

static void
test_orm_sqlite_batch_leaves_no_transaction_open(void **state)
{
    struct fixture *f = *state;
    const struct orm_backend *be = orm_db_backend_ops(f->db);
    struct orm_conn *c = batch_conn(f);
    static const char *const logins[] = {"carol", "dave", "erin", "frank"};
    struct batch_insert bi[4];
    struct orm_batch_item *items[4];

    for (size_t i = 0; i < 4; i++) {
        batch_insert_init(&bi[i], logins[i]);
        items[i] = &bi[i].item;
    }
    orm_conn_execute_batch(c, items, 4);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(USV_OK, bi[i].item.rc);
        assert_string_equal(logins[i], orm_result_cell(&bi[i].res, 0, 1, NULL));
    }
    /* The write lock is free for another writer, and this connection can
     * begin anew: the batch committed and closed its transaction. */
    exec_direct(f->tdb.path, "BEGIN IMMEDIATE; DELETE FROM users WHERE login = 'frank'; COMMIT");
    assert_int_equal(3, count_users(f->tdb.path));
    assert_true(is_idle(be, c));
    for (size_t i = 0; i < 4; i++)
        orm_result_finish(&bi[i].res);
    be->close(c);
}

static void
test_orm_sqlite_batch_on_a_locked_database_fails_every_item_and_stores_nothing(void **state)
{
    struct fixture *f = *state;
    const struct orm_backend *be = orm_db_backend_ops(f->db);
    struct orm_conn *c = batch_conn(f);
    static const char *const logins[] = {"gina", "hank"};
    struct batch_insert bi[2];
    struct orm_batch_item *items[2];
    sqlite3 *other = open_direct(f->tdb.path);

    /* Another writer holds the write lock past this connection's (short) wait. */
    assert_int_equal(USV_OK, orm_conn_query(c, "PRAGMA busy_timeout = 50", NULL, 0, NULL));
    assert_int_equal(SQLITE_OK, sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL));
    for (size_t i = 0; i < 2; i++) {
        batch_insert_init(&bi[i], logins[i]);
        items[i] = &bi[i].item;
    }
    orm_conn_execute_batch(c, items, 2);
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(USV_UNAVAILABLE, bi[i].item.rc);
        assert_int_equal(0, orm_result_rows(&bi[i].res));
    }
    assert_int_equal(SQLITE_OK, sqlite3_exec(other, "COMMIT", NULL, NULL, NULL));
    sqlite3_close(other);
    assert_int_equal(0, count_users(f->tdb.path));
    assert_true(is_idle(be, c));
    for (size_t i = 0; i < 2; i++)
        orm_result_finish(&bi[i].res);
    be->close(c);
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
        T(test_orm_find_text_is_the_dump_of_orm_find),
        T(test_orm_ids_increase_and_are_never_reused),
        T(test_orm_update_writes_the_change_and_sets_updated_at),
        T(test_orm_update_null_clears_a_name),
        T(test_orm_update_writes_only_the_columns_that_differ),
        T(test_orm_update_with_nothing_different_writes_nothing),
        T(test_orm_update_login_case_change_is_a_change),
        T(test_orm_update_to_a_login_taken_case_insensitively_is_a_conflict),
        T(test_orm_update_of_a_missing_row_is_not_found),
        T(test_orm_delete_removes_only_that_row),
        T(test_orm_find_many_pages_by_key_in_order),
        T(test_orm_find_by_finds_one_row_by_a_column),
        T(test_orm_find_many_has_more_exactly_when_a_row_follows),
        T(test_orm_find_many_filters_by_login_case_insensitively),
        T(test_orm_read_replica_falls_back_to_the_primary_for_a_missing_row),
        T(test_orm_read_replica_that_cannot_be_opened_serves_reads_from_the_primary),
        T(test_orm_read_replica_mode_without_a_replica_reads_the_primary),
        cmocka_unit_test(test_orm_replica_of_another_backend_is_refused),
        T(test_orm_sqlite_batch_duplicate_login_fails_only_its_own_insert),
        T(test_orm_sqlite_batch_leaves_no_transaction_open),
        T(test_orm_sqlite_batch_on_a_locked_database_fails_every_item_and_stores_nothing),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
