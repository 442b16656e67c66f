/* SPDX-License-Identifier: MIT
 * test_sql.c - orm/sql.c: the SQL text generated from a model.
 *
 * Three angles: the exact statements for users_model on the SQLite backend;
 * the builder's use of every dialect hook, through a fake dialect with
 * numbered placeholders and a lock suffix; and, at run time, that no value
 * ever appears in SQL text - every statement SQLite is asked to run is
 * captured with sqlite3_trace_v2() (installed on each new connection by an
 * auto-extension) while a row of distinctive values is inserted and read. */
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
#include "orm/sql.h"
#include "tests/lib/testdb.h"
#include "base/strbuf.h"

extern const struct orm_backend orm_backend_sqlite;

#define USERS_COLUMNS "id, login, first_name, last_name, created_at, updated_at"

/* Build @op on @m for @be into a fresh string; the caller frees it. */
static char *
build(const struct orm_backend *be, const struct orm_model *m, enum orm_op op)
{
    struct strbuf b;

    strbuf_init(&b);
    orm_sql_build(be, m, op, &b);
    return strbuf_take(&b);
}

static void
expect_sql(const struct orm_backend *be, const struct orm_model *m, enum orm_op op,
           const char *expected)
{
    char *sql = build(be, m, op);

    assert_string_equal(expected, sql);
    free(sql);
}

static size_t
count_char(const char *s, char c)
{
    size_t n = 0;

    for (; *s != '\0'; s++)
        n += *s == c;
    return n;
}

/* ---- SQLite, users_model ----------------------------------------------- */

static void
test_sql_sqlite_insert_statement(void **state)
{
    expect_sql(&orm_backend_sqlite, &users_model, ORM_OP_INSERT_RETURNING,
               "INSERT INTO users (login, first_name, last_name, created_at, updated_at)"
               " VALUES (?, ?, ?, ?, ?) RETURNING " USERS_COLUMNS);
    expect_sql(&orm_backend_sqlite, &users_model, ORM_OP_INSERT,
               "INSERT INTO users (login, first_name, last_name, created_at, updated_at)"
               " VALUES (?, ?, ?, ?, ?)");
}

static void
test_sql_sqlite_find_statement(void **state)
{
    expect_sql(&orm_backend_sqlite, &users_model, ORM_OP_FIND,
               "SELECT " USERS_COLUMNS " FROM users WHERE id = ?");
}

/* Build the find by @n keys of @m for @be into a fresh string. */
static char *
build_find_many(const struct orm_backend *be, const struct orm_model *m, unsigned n)
{
    struct strbuf b;

    strbuf_init(&b);
    orm_sql_build_find_many_by_key(be, m, n, &b);
    return strbuf_take(&b);
}

static void
expect_find_many(const struct orm_backend *be, const struct orm_model *m, unsigned n,
                 const char *expected)
{
    char *sql = build_find_many(be, m, n);

    assert_string_equal(expected, sql);
    free(sql);
}

static void
test_sql_sqlite_find_many_by_key_statement(void **state)
{
    expect_find_many(&orm_backend_sqlite, &users_model, 1,
                     "SELECT " USERS_COLUMNS " FROM users WHERE id IN (?)");
    expect_find_many(&orm_backend_sqlite, &users_model, 3,
                     "SELECT " USERS_COLUMNS " FROM users WHERE id IN (?, ?, ?)");
}

static void
test_sql_sqlite_find_many_by_key_holds_a_whole_batch(void **state)
{
    char *sql = build_find_many(&orm_backend_sqlite, &users_model, 64);
    const char *in = strstr(sql, " WHERE id IN (?, ");

    /* Exactly 64 placeholders, the last closing the list, no value. */
    assert_non_null(in);
    assert_int_equal(64, count_char(sql, '?'));
    assert_int_equal(63, count_char(in, ','));
    assert_non_null(strstr(sql, ", ?)"));
    assert_int_equal(')', sql[strlen(sql) - 1]);
    assert_null(strpbrk(sql, "0123456789'\";"));
    free(sql);
}

static void
test_sql_sqlite_find_lock_statement(void **state)
{
    /* BEGIN IMMEDIATE already holds the write lock: no suffix on SQLite. */
    expect_sql(&orm_backend_sqlite, &users_model, ORM_OP_FIND_LOCK,
               "SELECT " USERS_COLUMNS " FROM users WHERE id = ?");
}

static void
test_sql_sqlite_select_list_is_every_column_in_model_order(void **state)
{
    struct strbuf b;

    strbuf_init(&b);
    orm_sql_select_list(&orm_backend_sqlite, &users_model, &b);
    assert_string_equal(USERS_COLUMNS, strbuf_str(&b));
    strbuf_finish(&b);
}

static void
test_sql_sqlite_list_statement(void **state)
{
    expect_sql(&orm_backend_sqlite, &users_model, ORM_OP_LIST,
               "SELECT " USERS_COLUMNS " FROM users WHERE id > ? ORDER BY id LIMIT ?");
}

static void
test_sql_sqlite_list_by_login_statement(void **state)
{
    struct strbuf b;

    strbuf_init(&b);
    orm_sql_build_list_by(&orm_backend_sqlite, &users_model, 1, &b);
    /* login is COLLATE NOCASE in the schema, so "=" is case-insensitive. */
    assert_string_equal("SELECT " USERS_COLUMNS " FROM users WHERE id > ? AND login = ?"
                        " ORDER BY id LIMIT ?", strbuf_str(&b));
    strbuf_finish(&b);
}

static void
test_sql_sqlite_delete_statement(void **state)
{
    expect_sql(&orm_backend_sqlite, &users_model, ORM_OP_DELETE,
               "DELETE FROM users WHERE id = ?");
}

static void
expect_update(const struct orm_backend *be, const struct orm_model *m, unsigned mask,
              const char *expected)
{
    struct strbuf b;

    strbuf_init(&b);
    orm_sql_build_update(be, m, mask, &b);
    assert_string_equal(expected, strbuf_str(&b));
    strbuf_finish(&b);
}

static void
test_sql_sqlite_update_statements_follow_the_mask(void **state)
{
    /* Writable columns, in model order: login (bit 0), first_name, last_name.
     * updated_at is not writable by a client but is set by every UPDATE. */
    expect_update(&orm_backend_sqlite, &users_model, 1u << 0,
                  "UPDATE users SET login = ?, updated_at = ? WHERE id = ?");
    expect_update(&orm_backend_sqlite, &users_model, 1u << 1,
                  "UPDATE users SET first_name = ?, updated_at = ? WHERE id = ?");
    expect_update(&orm_backend_sqlite, &users_model, 1u << 2,
                  "UPDATE users SET last_name = ?, updated_at = ? WHERE id = ?");
    expect_update(&orm_backend_sqlite, &users_model, (1u << 1) | (1u << 2),
                  "UPDATE users SET first_name = ?, last_name = ?, updated_at = ? WHERE id = ?");
    expect_update(&orm_backend_sqlite, &users_model, 7,
                  "UPDATE users SET login = ?, first_name = ?, last_name = ?, updated_at = ?"
                  " WHERE id = ?");
}

static void
test_sql_writable_columns_are_neither_key_nor_read_only(void **state)
{
    assert_false(orm_column_is_writable(orm_model_column(&users_model, "id")));
    assert_true(orm_column_is_writable(orm_model_column(&users_model, "login")));
    assert_true(orm_column_is_writable(orm_model_column(&users_model, "first_name")));
    assert_true(orm_column_is_writable(orm_model_column(&users_model, "last_name")));
    assert_false(orm_column_is_writable(orm_model_column(&users_model, "created_at")));
    assert_false(orm_column_is_writable(orm_model_column(&users_model, "updated_at")));
}

static void
test_sql_build_appends_to_the_buffer(void **state)
{
    struct strbuf b;

    strbuf_init(&b);
    strbuf_adds(&b, "-- x\n");
    orm_sql_build(&orm_backend_sqlite, &users_model, ORM_OP_FIND, &b);
    assert_string_equal("-- x\nSELECT " USERS_COLUMNS " FROM users WHERE id = ?",
                        strbuf_str(&b));
    strbuf_finish(&b);
}

/* No quoted or numeric literal, no second statement: only markers for values. */
static void
expect_no_literals(const char *sql, size_t n_params)
{
    assert_int_equal(n_params, count_char(sql, '?'));
    assert_null(strchr(sql, '\''));
    assert_null(strchr(sql, '"'));
    assert_null(strpbrk(sql, "0123456789"));
    assert_null(strchr(sql, ';'));
}

static void
test_sql_sqlite_statements_hold_placeholders_and_no_literals(void **state)
{
    static const size_t n_params[ORM_OP_COUNT_] = {
        [ORM_OP_INSERT] = 5, [ORM_OP_INSERT_RETURNING] = 5, [ORM_OP_FIND] = 1, [ORM_OP_FIND_LOCK] = 1,
        [ORM_OP_LIST] = 2, [ORM_OP_DELETE] = 1,
    };
    struct strbuf b;

    for (unsigned op = 0; op < ORM_OP_COUNT_; op++) {
        char *sql = build(&orm_backend_sqlite, &users_model, (enum orm_op)op);

        assert_true(n_params[op] > 0);   /* a new operation needs a row above */
        expect_no_literals(sql, n_params[op]);
        free(sql);
    }
    strbuf_init(&b);
    for (size_t col = 0; col < users_model.n_columns; col++) {
        strbuf_reset(&b);
        orm_sql_build_list_by(&orm_backend_sqlite, &users_model, col, &b);
        expect_no_literals(strbuf_str(&b), 3);
    }
    for (unsigned mask = 1; mask < 8; mask++) {
        strbuf_reset(&b);
        orm_sql_build_update(&orm_backend_sqlite, &users_model, mask, &b);
        /* The changed columns, updated_at, and the key. */
        expect_no_literals(strbuf_str(&b),
                           2u + (mask & 1u) + ((mask >> 1) & 1u) + ((mask >> 2) & 1u));
        assert_non_null(strstr(strbuf_str(&b), ", updated_at = ? WHERE id = ?"));
    }
    strbuf_finish(&b);
}

/* ---- the builder and the dialect hooks --------------------------------- */

static void
fake_placeholder(struct strbuf *b, unsigned n, enum orm_type type)
{
    strbuf_addf(b, "$%u%s", n, type == ORM_TIMESTAMP ? "::ts" : type == ORM_INT64 ? "::i" : "");
}

static void
fake_select_column(struct strbuf *b, const struct orm_column *c)
{
    if (c->type == ORM_TIMESTAMP)
        strbuf_addf(b, "fmt(%s)", c->name);
    else
        strbuf_adds(b, c->name);
}

static void
fake_equals(struct strbuf *b, const struct orm_column *c, unsigned n)
{
    if (c->flags & ORM_NOCASE)
        strbuf_addf(b, "lower(%s) = lower($%u)", c->name, n);
    else
        strbuf_addf(b, "%s = $%u", c->name, n);
}

static const struct orm_backend fake_backend = {
    .name = "fake",
    .has_returning = false,
    .placeholder = fake_placeholder,
    .select_column = fake_select_column,
    .equals = fake_equals,
    .lock_suffix = " FOR UPDATE",
};

/* The primary key in the middle, a timestamp last: the builder must skip
 * the key in INSERT and number the placeholders without gaps. */
static const struct orm_column thing_columns[] = {
    {.name = "label", .type = ORM_TEXT, .flags = ORM_REQUIRED},
    {.name = "tid", .type = ORM_INT64, .flags = ORM_PK | ORM_READONLY},
    {.name = "qty", .type = ORM_INT64, .flags = ORM_NULLABLE},
    {.name = "made", .type = ORM_TIMESTAMP, .flags = ORM_READONLY | ORM_CREATED_AT},
    {.name = "seen", .type = ORM_TIMESTAMP, .flags = ORM_READONLY | ORM_UPDATED_AT},
};

static const struct orm_model thing_model = {
    .table = "things",
    .singular = "thing",
    .columns = thing_columns,
    .n_columns = sizeof(thing_columns) / sizeof(thing_columns[0]),
};

static void
test_sql_insert_skips_the_key_and_numbers_placeholders(void **state)
{
    expect_sql(&fake_backend, &thing_model, ORM_OP_INSERT,
               "INSERT INTO things (label, qty, made, seen) VALUES ($1, $2::i, $3::ts, $4::ts)");
}

static void
test_sql_insert_returning_uses_the_dialects_select_list(void **state)
{
    expect_sql(&fake_backend, &thing_model, ORM_OP_INSERT_RETURNING,
               "INSERT INTO things (label, qty, made, seen)"
               " VALUES ($1, $2::i, $3::ts, $4::ts)"
               " RETURNING label, tid, qty, fmt(made), fmt(seen)");
}

static void
test_sql_find_uses_the_dialects_equals_on_the_key(void **state)
{
    expect_sql(&fake_backend, &thing_model, ORM_OP_FIND,
               "SELECT label, tid, qty, fmt(made), fmt(seen) FROM things WHERE tid = $1");
}

static void
test_sql_find_many_by_key_numbers_the_keys_with_the_keys_type(void **state)
{
    /* The key in the middle of the select list; no lock suffix, no equals(). */
    expect_find_many(&fake_backend, &thing_model, 1,
                     "SELECT label, tid, qty, fmt(made), fmt(seen) FROM things"
                     " WHERE tid IN ($1::i)");
    expect_find_many(&fake_backend, &thing_model, 4,
                     "SELECT label, tid, qty, fmt(made), fmt(seen) FROM things"
                     " WHERE tid IN ($1::i, $2::i, $3::i, $4::i)");
}

static void
test_sql_find_many_by_key_appends_to_the_buffer(void **state)
{
    struct strbuf b;

    strbuf_init(&b);
    strbuf_adds(&b, "-- x\n");
    orm_sql_build_find_many_by_key(&fake_backend, &users_model, 2, &b);
    assert_string_equal("-- x\nSELECT id, login, first_name, last_name, fmt(created_at),"
                        " fmt(updated_at) FROM users WHERE id IN ($1::i, $2::i)",
                        strbuf_str(&b));
    strbuf_finish(&b);
}

static void
test_sql_find_lock_appends_the_lock_suffix(void **state)
{
    expect_sql(&fake_backend, &thing_model, ORM_OP_FIND_LOCK,
               "SELECT label, tid, qty, fmt(made), fmt(seen) FROM things WHERE tid = $1"
               " FOR UPDATE");
}

static void
test_sql_list_numbers_bound_limit_and_filter(void **state)
{
    struct strbuf b;

    expect_sql(&fake_backend, &thing_model, ORM_OP_LIST,
               "SELECT label, tid, qty, fmt(made), fmt(seen) FROM things"
               " WHERE tid > $1::i ORDER BY tid LIMIT $2::i");
    strbuf_init(&b);
    orm_sql_build_list_by(&fake_backend, &thing_model, 0, &b);
    assert_string_equal("SELECT label, tid, qty, fmt(made), fmt(seen) FROM things"
                        " WHERE tid > $1::i AND label = $2 ORDER BY tid LIMIT $3::i",
                        strbuf_str(&b));
    strbuf_finish(&b);
}

static void
test_sql_list_by_a_nocase_column_uses_the_dialects_case_rule(void **state)
{
    struct strbuf b;

    strbuf_init(&b);
    orm_sql_build_list_by(&fake_backend, &users_model, 1, &b);
    assert_string_equal("SELECT id, login, first_name, last_name, fmt(created_at),"
                        " fmt(updated_at) FROM users"
                        " WHERE id > $1::i AND lower(login) = lower($2) ORDER BY id"
                        " LIMIT $3::i", strbuf_str(&b));
    strbuf_finish(&b);
}

static void
test_sql_delete_uses_the_dialects_equals_on_the_key(void **state)
{
    expect_sql(&fake_backend, &thing_model, ORM_OP_DELETE, "DELETE FROM things WHERE tid = $1");
}

static void
test_sql_update_sets_updated_at_columns_and_numbers_the_key_last(void **state)
{
    /* Writable: label (bit 0), qty (bit 1); "seen" is always set. */
    expect_update(&fake_backend, &thing_model, 1u << 1,
                  "UPDATE things SET qty = $1::i, seen = $2::ts WHERE tid = $3");
    expect_update(&fake_backend, &thing_model, 3,
                  "UPDATE things SET label = $1, qty = $2::i, seen = $3::ts WHERE tid = $4");
}

static void
test_sql_users_in_a_numbered_dialect(void **state)
{
    expect_sql(&fake_backend, &users_model, ORM_OP_INSERT_RETURNING,
               "INSERT INTO users (login, first_name, last_name, created_at, updated_at)"
               " VALUES ($1, $2, $3, $4::ts, $5::ts)"
               " RETURNING id, login, first_name, last_name, fmt(created_at),"
               " fmt(updated_at)");
    expect_update(&fake_backend, &users_model, 1u << 1,
                  "UPDATE users SET first_name = $1, updated_at = $2::ts WHERE id = $3");
}

/* ---- run time: values are bound, never spliced -------------------------- */

static struct strbuf traced;   /* every statement's SQL text, one per line */

static int
trace_statement(unsigned type, void *ctx, void *stmt, void *text)
{
    if (type == SQLITE_TRACE_STMT) {
        strbuf_adds(&traced, (const char *)text);
        strbuf_adds(&traced, "\n");
    }
    return 0;
}

static int
install_trace(sqlite3 *db, char **errmsg, const sqlite3_api_routines *api)
{
    sqlite3_trace_v2(db, SQLITE_TRACE_STMT, trace_statement, NULL);
    return SQLITE_OK;
}

struct fixture {
    struct testdb tdb;   /* the shared fixture */
    struct orm_db *db;
};

static int
setup_trace(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (f == NULL)
        return -1;
    if (testdb_create(&f->tdb, "sqlite", "sql") != TESTDB_OK) {
        free(f);
        return -1;
    }
    strbuf_init(&traced);
    if (sqlite3_auto_extension((void (*)(void))install_trace) != SQLITE_OK) {
        testdb_destroy(&f->tdb);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int
teardown_trace(void **state)
{
    struct fixture *f = *state;
    int rc = 0;

    orm_db_close(f->db);
    if (sqlite3_cancel_auto_extension((void (*)(void))install_trace) != 1)
        rc = -1;
    strbuf_finish(&traced);
    testdb_destroy(&f->tdb);
    free(f);
    return rc;
}

struct op {
    json_t *values;
    int64_t id;
    json_t *row;
};

static enum usv_err
insert_work(struct orm_session *s, void *arg)
{
    struct op *op = arg;

    json_decref(op->row);
    op->row = NULL;
    return orm_insert(s, &users_model, op->values, &op->row);
}

static enum usv_err
find_work(struct orm_session *s, void *arg)
{
    struct op *op = arg;

    json_decref(op->row);
    op->row = NULL;
    return orm_find(s, &users_model, op->id, false, &op->row);
}

static enum usv_err
list_work(struct orm_session *s, void *arg)
{
    struct op *op = arg;
    const struct orm_page page = {.after = 0, .limit = 5, .column = "login",
                                  .value = json_string_value(
                                      json_object_get(op->values, "login"))};
    bool has_more = true;
    enum usv_err rc;

    json_decref(op->row);
    op->row = NULL;
    rc = orm_find_many(s, &users_model, &page, &op->row, &has_more);
    if (rc == USV_OK && has_more)
        rc = USV_INTERNAL;
    return rc;
}

static enum usv_err
update_work(struct orm_session *s, void *arg)
{
    struct op *op = arg;
    json_t *current = NULL;
    enum usv_err rc;

    json_decref(op->row);
    op->row = NULL;
    rc = orm_find(s, &users_model, op->id, true, &current);
    if (rc == USV_OK)
        rc = orm_update(s, &users_model, current, op->values, &op->row);
    json_decref(current);
    return rc;
}

#define SENTINEL_LOGIN "Sentinel.Login_4711"
#define SENTINEL_FIRST "Robert'); DROP TABLE users;--"
#define SENTINEL_LAST  "Zo\xC3\xAB \xF0\x9F\x98\x80 O'Hara"
#define SENTINEL_NEW   "Bobby\"; DELETE FROM users --"

static void
test_sql_values_never_appear_in_executed_sql(void **state)
{
    static const struct orm_model *const models[] = {&users_model};
    const struct orm_db_options opts = {.pool_size = 1, .pool_timeout_ms = 10000};
    struct fixture *f = *state;
    struct orm_db *db = NULL;
    struct op ins = {0}, get = {0}, list = {0}, upd = {0};
    const char *text, *created_at;

    assert_int_equal(USV_OK, orm_db_open(f->tdb.url, models, 1, &opts, &f->db));
    db = f->db;
    assert_int_equal(USV_OK, migrate_up(db, NULL));

    ins.values = json_pack("{s:s, s:s, s:s}", "login", SENTINEL_LOGIN,
                           "first_name", SENTINEL_FIRST, "last_name", SENTINEL_LAST);
    assert_non_null(ins.values);
    assert_int_equal(USV_OK, orm_transact(db, ORM_TX_WRITE, insert_work, &ins));
    get.id = json_integer_value(json_object_get(ins.row, "id"));
    assert_true(get.id >= 1);
    assert_int_equal(USV_OK, orm_transact(db, ORM_TX_READ, find_work, &get));

    /* The hostile text went in and came out as data. */
    assert_string_equal(SENTINEL_LOGIN, json_string_value(json_object_get(get.row, "login")));
    assert_string_equal(SENTINEL_FIRST,
                        json_string_value(json_object_get(get.row, "first_name")));
    assert_string_equal(SENTINEL_LAST,
                        json_string_value(json_object_get(get.row, "last_name")));
    created_at = json_string_value(json_object_get(get.row, "created_at"));
    assert_non_null(created_at);

    list.values = json_pack("{s:s}", "login", "sentinel.LOGIN_4711");   /* other case */
    assert_int_equal(USV_OK, orm_transact(db, ORM_TX_READ, list_work, &list));
    assert_int_equal(1, json_array_size(list.row));
    upd.id = get.id;
    upd.values = json_pack("{s:s}", "first_name", SENTINEL_NEW);
    assert_int_equal(USV_OK, orm_transact(db, ORM_TX_WRITE, update_work, &upd));
    assert_string_equal(SENTINEL_NEW, json_string_value(json_object_get(upd.row, "first_name")));
    assert_non_null(json_string_value(json_object_get(upd.row, "updated_at")));

    text = strbuf_str(&traced);
    /* The trace saw the statements (so the checks below can fail)... */
    assert_non_null(strstr(text, "INSERT INTO users (login, first_name, last_name, "
                                 "created_at, updated_at) VALUES (?, ?, ?, ?, ?)"));
    assert_non_null(strstr(text, "SELECT " USERS_COLUMNS " FROM users WHERE id = ?"));
    assert_non_null(strstr(text, "AND login = ? ORDER BY id LIMIT ?"));
    assert_non_null(strstr(text, "UPDATE users SET first_name = ?, updated_at = ? WHERE id = ?"));
    /* ...and none of them carried a value. */
    assert_null(strstr(text, SENTINEL_LOGIN));
    assert_null(strstr(text, "sentinel.LOGIN_4711"));
    assert_null(strstr(text, "Bobby"));
    assert_null(strstr(text, "Robert"));
    assert_null(strstr(text, "DROP TABLE users;"));
    assert_null(strstr(text, "O'Hara"));
    assert_null(strstr(text, "\xF0\x9F\x98\x80"));
    assert_null(strstr(text, created_at));
    assert_null(strstr(text, json_string_value(json_object_get(upd.row, "updated_at"))));

    json_decref(ins.values);
    json_decref(ins.row);
    json_decref(get.row);
    json_decref(list.values);
    json_decref(list.row);
    json_decref(upd.values);
    json_decref(upd.row);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sql_sqlite_insert_statement),
        cmocka_unit_test(test_sql_sqlite_find_statement),
        cmocka_unit_test(test_sql_sqlite_find_many_by_key_statement),
        cmocka_unit_test(test_sql_sqlite_find_many_by_key_holds_a_whole_batch),
        cmocka_unit_test(test_sql_sqlite_find_lock_statement),
        cmocka_unit_test(test_sql_sqlite_select_list_is_every_column_in_model_order),
        cmocka_unit_test(test_sql_sqlite_list_statement),
        cmocka_unit_test(test_sql_sqlite_list_by_login_statement),
        cmocka_unit_test(test_sql_sqlite_delete_statement),
        cmocka_unit_test(test_sql_sqlite_update_statements_follow_the_mask),
        cmocka_unit_test(test_sql_writable_columns_are_neither_key_nor_read_only),
        cmocka_unit_test(test_sql_build_appends_to_the_buffer),
        cmocka_unit_test(test_sql_sqlite_statements_hold_placeholders_and_no_literals),
        cmocka_unit_test(test_sql_insert_skips_the_key_and_numbers_placeholders),
        cmocka_unit_test(test_sql_insert_returning_uses_the_dialects_select_list),
        cmocka_unit_test(test_sql_find_uses_the_dialects_equals_on_the_key),
        cmocka_unit_test(test_sql_find_many_by_key_numbers_the_keys_with_the_keys_type),
        cmocka_unit_test(test_sql_find_many_by_key_appends_to_the_buffer),
        cmocka_unit_test(test_sql_find_lock_appends_the_lock_suffix),
        cmocka_unit_test(test_sql_list_numbers_bound_limit_and_filter),
        cmocka_unit_test(test_sql_list_by_a_nocase_column_uses_the_dialects_case_rule),
        cmocka_unit_test(test_sql_delete_uses_the_dialects_equals_on_the_key),
        cmocka_unit_test(test_sql_update_sets_updated_at_columns_and_numbers_the_key_last),
        cmocka_unit_test(test_sql_users_in_a_numbered_dialect),
        cmocka_unit_test_setup_teardown(test_sql_values_never_appear_in_executed_sql,
                                        setup_trace, teardown_trace),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
