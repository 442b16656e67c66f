/* SPDX-License-Identifier: MIT
 * test_orm_models.c - the ORM with models of any number and size (issue 14).
 *
 * Runs on the backend named by argv[1] (default sqlite; meson registers it
 * for postgres and mysql too, which skip without a server), in a throwaway
 * database (tests/lib/testdb.h) migrated with the test-only migration set
 * (tests/resource/): users, widgets and wide open at once, and more models
 * than the old fixed statement table could hold. The wide model has 14
 * writable columns: hundreds of different sets of changed columns are
 * updated, more than the ORM caches texts for, and after each one the row is
 * read back with SQL of the test's own, not through the ORM, so a statement
 * that wrote the wrong columns, or none, is caught. Limits a model can
 * break are refused at open, never left to assert() (build this with
 * -Dbuildtype=release to see it: NDEBUG changes nothing here). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/strbuf.h"
#include "handlers/users.h"
#include "orm/migrate.h"
#include "orm/orm.h"
#include "orm/orm_int.h"
#include "orm/sql.h"
#include "tests/lib/testdb.h"
#include "tests/resource/models.h"

#define WIDE_N_WRITABLE (WIDE_N_TEXT + 2)   /* c01..c12, code, tag */

static const char *backend = "sqlite";

/* Five more models over the widgets table: with users, widgets and wide,
 * eight models, twice what the fixed statement table held. */
static struct orm_model widget_views[5];

struct fixture {
    struct testdb tdb;
    struct orm_db *db;
};

static int teardown(void **state);

static int
setup(void **state)
{
    static const struct orm_model *models[3 + 5];
    struct fixture *f = calloc(1, sizeof(*f));
    struct orm_db_options opts = {.pool_size = 2, .pool_timeout_ms = 10000,
                                  .migrations = test_migrations,
                                  .n_migrations = n_test_migrations};

    if (f == NULL)
        return -1;
    models[0] = &users_model;
    models[1] = &widgets_model;
    models[2] = &wide_model;
    for (size_t i = 0; i < 5; i++) {
        widget_views[i] = widgets_model;
        models[3 + i] = &widget_views[i];
    }
    *state = f;
    /* cmocka skips the teardown of a failed setup: undo here what was made
     * (testdb_destroy() accepts a testdb whose create failed). */
    if (testdb_create(&f->tdb, backend, "orm_models") != TESTDB_OK ||
        orm_db_open(f->tdb.url, models, 8, &opts, &f->db) != USV_OK ||
        migrate_up(f->db, NULL) != USV_OK) {
        teardown(state);
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
    const struct orm_model *m;
    json_t *values;                  /* borrowed */
    int64_t id;
    json_t *row;                     /* new */
    const struct orm_column *conflict;
};

static enum usv_err
insert_work(struct orm_session *s, void *arg)
{
    struct op *op = arg;
    enum usv_err rc;

    json_decref(op->row);
    op->row = NULL;
    rc = orm_insert(s, op->m, op->values, &op->row);
    if (rc == USV_CONFLICT)
        op->conflict = orm_conflict_column(s, op->m);
    return rc;
}

static enum usv_err
find_work(struct orm_session *s, void *arg)
{
    struct op *op = arg;

    json_decref(op->row);
    op->row = NULL;
    return orm_find(s, op->m, op->id, false, &op->row);
}

static enum usv_err
update_work(struct orm_session *s, void *arg)
{
    struct op *op = arg;
    json_t *current = NULL;
    enum usv_err rc;

    json_decref(op->row);
    op->row = NULL;
    rc = orm_find(s, op->m, op->id, true, &current);
    if (rc == USV_OK)
        rc = orm_update(s, op->m, current, op->values, &op->row);
    if (rc == USV_CONFLICT)
        op->conflict = orm_conflict_column(s, op->m);
    json_decref(current);
    return rc;
}

static int64_t
insert_ok(struct orm_db *db, const struct orm_model *m, json_t *values)
{
    struct op op = {.m = m, .values = values};
    enum usv_err rc = orm_transact(db, ORM_TX_WRITE, insert_work, &op);
    int64_t id;

    if (rc != USV_OK)
        fail_msg("insert into %s: %s", m->table, usv_err_name(rc));
    id = json_integer_value(json_object_get(op.row, "id"));
    assert_true(id > 0);
    json_decref(op.row);
    json_decref(values);
    return id;
}

/* ---- reading the database behind the ORM's back -------------------------- */

/* The name of writable column @i of wide (c01..c12, code, tag). */
static void
wide_column(unsigned i, char *out, size_t size)
{
    if (i < WIDE_N_TEXT)
        snprintf(out, size, "c%02u", i + 1);
    else
        snprintf(out, size, "%s", i == WIDE_N_TEXT ? "code" : "tag");
}

/* Read the writable columns of wide row @id with the test's own SELECT
 * into @got (new strings, NULL for SQL NULL). */
static void
read_wide(struct orm_db *db, int64_t id, char *got[WIDE_N_WRITABLE])
{
    const struct orm_backend *be = orm_db_backend_ops(db);
    struct orm_param p = {.type = ORM_INT64, .i = id};
    struct orm_conn *c = NULL;
    struct orm_result res;
    struct strbuf sql;
    char name[8];

    strbuf_init(&sql);
    strbuf_adds(&sql, "SELECT ");
    for (unsigned i = 0; i < WIDE_N_WRITABLE; i++) {
        wide_column(i, name, sizeof(name));
        strbuf_addf(&sql, "%s%s", i > 0 ? ", " : "", name);
    }
    strbuf_adds(&sql, " FROM wide WHERE id = ");
    be->placeholder(&sql, 1, ORM_INT64);
    assert_int_equal(USV_OK, orm_db_acquire(db, &c));
    orm_result_init(&res, WIDE_N_WRITABLE);
    if (orm_conn_query(c, strbuf_str(&sql), &p, 1, &res) != USV_OK)
        fail_msg("%s: %s", strbuf_str(&sql), c->errmsg);
    assert_int_equal(1, orm_result_rows(&res));
    for (unsigned i = 0; i < WIDE_N_WRITABLE; i++) {
        const char *v = orm_result_cell(&res, 0, i, NULL);

        got[i] = v != NULL ? strdup(v) : NULL;
    }
    orm_result_finish(&res);
    orm_db_release(db, c);
    strbuf_finish(&sql);
}

/* ---- tests ---------------------------------------------------------------- */

static void
test_orm_models_eight_open_at_once_keep_their_statements_apart(void **state)
{
    struct fixture *f = *state;
    struct op op = {0};
    int64_t user, widget, wide, view;

    user = insert_ok(f->db, &users_model, json_pack("{s:s}", "login", "alice"));
    widget = insert_ok(f->db, &widgets_model, json_pack("{s:s, s:s}", "name", "Gear",
                                                        "note", "round"));
    wide = insert_ok(f->db, &wide_model, json_pack("{s:s}", "c07", "seven"));
    view = insert_ok(f->db, &widget_views[4], json_pack("{s:s}", "name", "Sprocket"));

    op.m = &users_model;
    op.id = user;
    assert_int_equal(USV_OK, orm_transact(f->db, ORM_TX_READ, find_work, &op));
    assert_string_equal("alice", json_string_value(json_object_get(op.row, "login")));

    op.m = &widgets_model;
    op.id = widget;
    assert_int_equal(USV_OK, orm_transact(f->db, ORM_TX_READ, find_work, &op));
    assert_string_equal("Gear", json_string_value(json_object_get(op.row, "name")));
    assert_string_equal("round", json_string_value(json_object_get(op.row, "note")));

    /* A row written through the fifth view is the widgets table's row. */
    op.m = &widget_views[0];
    op.id = view;
    assert_int_equal(USV_OK, orm_transact(f->db, ORM_TX_READ, find_work, &op));
    assert_string_equal("Sprocket", json_string_value(json_object_get(op.row, "name")));

    op.m = &wide_model;
    op.id = wide;
    assert_int_equal(USV_OK, orm_transact(f->db, ORM_TX_READ, find_work, &op));
    assert_string_equal("seven", json_string_value(json_object_get(op.row, "c07")));
    assert_true(json_is_null(json_object_get(op.row, "c08")));
    json_decref(op.row);
}

/* Update the columns of @mask in row @id to fresh values (or null when
 * @to_null), then check in the database that exactly those changed. */
static void
update_mask(struct orm_db *db, int64_t id, uint32_t mask, unsigned round, bool to_null,
            char *want[WIDE_N_WRITABLE])
{
    struct op op = {.m = &wide_model, .id = id, .values = json_object()};
    char name[8], value[32], *got[WIDE_N_WRITABLE];
    enum usv_err rc;

    for (unsigned i = 0; i < WIDE_N_WRITABLE; i++) {
        if (!(mask & (1u << i)))
            continue;
        wide_column(i, name, sizeof(name));
        snprintf(value, sizeof(value), "r%u-%s", round, name);
        json_object_set_new(op.values, name, to_null ? json_null() : json_string(value));
        free(want[i]);
        want[i] = to_null ? NULL : strdup(value);
    }
    rc = orm_transact(db, ORM_TX_WRITE, update_work, &op);
    if (rc != USV_OK)
        fail_msg("update of mask %#x: %s", mask, usv_err_name(rc));
    json_decref(op.row);
    json_decref(op.values);

    read_wide(db, id, got);
    for (unsigned i = 0; i < WIDE_N_WRITABLE; i++) {
        wide_column(i, name, sizeof(name));
        if (want[i] == NULL && got[i] != NULL)
            fail_msg("mask %#x: %s is '%s', expected NULL", mask, name, got[i]);
        if (want[i] != NULL && (got[i] == NULL || strcmp(want[i], got[i]) != 0))
            fail_msg("mask %#x: %s is '%s', expected '%s'", mask, name,
                     got[i] != NULL ? got[i] : "NULL", want[i]);
        free(got[i]);
    }
}

static unsigned
bits(uint32_t x)
{
    unsigned n = 0;

    for (; x != 0; x &= x - 1)
        n++;
    return n;
}

static void
test_orm_models_wide_updates_write_exactly_the_changed_columns(void **state)
{
    struct fixture *f = *state;
    char *want[WIDE_N_WRITABLE] = {0};
    json_t *values = json_object();
    char name[8];
    uint32_t seen[(1u << WIDE_N_WRITABLE) / 32] = {0};
    uint32_t x = 12345;   /* a fixed xorshift sequence: the same masks every run */
    unsigned round = 0, distinct = 0;
    int64_t id;

    for (unsigned i = 0; i < WIDE_N_WRITABLE; i++) {
        wide_column(i, name, sizeof(name));
        json_object_set_new(values, name, json_string(name));
        want[i] = strdup(name);
    }
    id = insert_ok(f->db, &wide_model, values);

    /* Every single column, then every pair (1 and 6 among them: the issue's
     * example), then all, then pseudo-random sets until more sets than the
     * ORM caches texts for (256) have been written. */
    for (unsigned i = 0; i < WIDE_N_WRITABLE; i++)
        update_mask(f->db, id, 1u << i, round++, false, want);
    for (unsigned i = 0; i < WIDE_N_WRITABLE; i++) {
        for (unsigned j = i + 1; j < WIDE_N_WRITABLE; j++, round++)
            update_mask(f->db, id, (1u << i) | (1u << j), round, round % 5 == 0, want);
    }
    update_mask(f->db, id, (1u << WIDE_N_WRITABLE) - 1, round++, false, want);
    distinct = WIDE_N_WRITABLE + WIDE_N_WRITABLE * (WIDE_N_WRITABLE - 1) / 2 + 1;
    while (distinct < 300) {
        uint32_t mask;

        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        mask = x & ((1u << WIDE_N_WRITABLE) - 1);
        if (mask == 0 || bits(mask) <= 2 ||
            mask == (1u << WIDE_N_WRITABLE) - 1 || (seen[mask / 32] & (1u << mask % 32)))
            continue;
        seen[mask / 32] |= 1u << mask % 32;
        distinct++;
        update_mask(f->db, id, mask, round, round % 7 == 0, want);
        round++;
    }
    /* Sets seen before, now from the cache (and past it, unprepared). */
    update_mask(f->db, id, 1u << 0 | 1u << 5, round++, false, want);
    update_mask(f->db, id, 1u << (WIDE_N_WRITABLE - 1), round++, false, want);
    for (unsigned i = 0; i < WIDE_N_WRITABLE; i++)
        free(want[i]);
}

static void
test_orm_models_unique_violation_names_its_column(void **state)
{
    struct fixture *f = *state;
    struct op op = {.m = &wide_model};
    int64_t first;

    first = insert_ok(f->db, &wide_model, json_pack("{s:s, s:s}", "code", "K1", "tag", "T1"));
    assert_true(first > 0);

    op.values = json_pack("{s:s, s:s}", "code", "K2", "tag", "T1");
    assert_int_equal(USV_CONFLICT, orm_transact(f->db, ORM_TX_WRITE, insert_work, &op));
    assert_non_null(op.conflict);
    assert_string_equal("tag", op.conflict->name);
    json_decref(op.values);

    op.conflict = NULL;
    op.values = json_pack("{s:s, s:s}", "code", "K1", "tag", "T2");
    assert_int_equal(USV_CONFLICT, orm_transact(f->db, ORM_TX_WRITE, insert_work, &op));
    assert_non_null(op.conflict);
    assert_string_equal("code", op.conflict->name);
    json_decref(op.values);

    /* An update that collides names its column too. */
    op.id = insert_ok(f->db, &wide_model, json_pack("{s:s}", "code", "K3"));
    op.conflict = NULL;
    op.values = json_pack("{s:s}", "tag", "T1");
    assert_int_equal(USV_CONFLICT, orm_transact(f->db, ORM_TX_WRITE, update_work, &op));
    assert_non_null(op.conflict);
    assert_string_equal("tag", op.conflict->name);
    json_decref(op.values);

    /* widgets: one unique column, compared without case. */
    op.m = &widgets_model;
    insert_ok(f->db, &widgets_model, json_pack("{s:s}", "name", "Cog"));
    op.conflict = NULL;
    op.values = json_pack("{s:s}", "name", "COG");
    assert_int_equal(USV_CONFLICT, orm_transact(f->db, ORM_TX_WRITE, insert_work, &op));
    assert_non_null(op.conflict);
    assert_string_equal("name", op.conflict->name);
    assert_string_equal("a widget of that name exists", op.conflict->taken);
    json_decref(op.values);
}

/* A model the ORM cannot serve is refused at open, with the reason logged,
 * in every build (no assert stands in for the check). */
static void
expect_refused(const struct orm_model *m)
{
    const struct orm_model *models[] = {m};
    struct orm_db_options opts = {.pool_size = 1, .pool_timeout_ms = 1000};
    struct orm_db *db = NULL;

    assert_int_equal(USV_INVALID, orm_db_open("sqlite::memory:", models, 1, &opts, &db));
    assert_null(db);
}

static void
test_orm_models_open_refuses_models_beyond_the_limits(void **state)
{
    static struct orm_column many[1 + ORM_MAX_WRITABLE + 1];
    static char names[ORM_MAX_WRITABLE + 1][8];
    static const struct orm_column no_key[] = {{.name = "a", .type = ORM_TEXT}};
    static const struct orm_column text_key[] = {{.name = "id", .type = ORM_TEXT,
                                                  .flags = ORM_PK}};
    static const struct orm_column twice[] = {
        {.name = "id", .type = ORM_INT64, .flags = ORM_PK},
        {.name = "a", .type = ORM_TEXT}, {.name = "a", .type = ORM_TEXT}};
    struct orm_model m = {.table = "t", .singular = "t"};
    struct orm_db_options opts = {.pool_size = 1, .pool_timeout_ms = 1000};
    const struct orm_model *models[1] = {&m};
    struct orm_db *db = NULL;

    many[0] = (struct orm_column){.name = "id", .type = ORM_INT64, .flags = ORM_PK};
    for (unsigned i = 0; i <= ORM_MAX_WRITABLE; i++) {
        snprintf(names[i], sizeof(names[i]), "c%u", i);
        many[1 + i] = (struct orm_column){.name = names[i], .type = ORM_TEXT,
                                          .flags = ORM_NULLABLE};
    }
    m.columns = many;
    m.n_columns = 1 + ORM_MAX_WRITABLE + 1;
    expect_refused(&m);
    /* Exactly the limit is served. */
    m.n_columns = 1 + ORM_MAX_WRITABLE;
    assert_int_equal(USV_OK, orm_db_open("sqlite::memory:", models, 1, &opts, &db));
    orm_db_close(db);

    m.columns = no_key;
    m.n_columns = 1;
    expect_refused(&m);
    m.columns = text_key;
    expect_refused(&m);
    m.columns = twice;
    m.n_columns = 3;
    expect_refused(&m);
    m.n_columns = 0;
    expect_refused(&m);
    (void)state;
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest with_db[] = {
        cmocka_unit_test_setup_teardown(
            test_orm_models_eight_open_at_once_keep_their_statements_apart, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_orm_models_wide_updates_write_exactly_the_changed_columns, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_orm_models_unique_violation_names_its_column, setup, teardown),
    };
    const struct CMUnitTest without_db[] = {
        cmocka_unit_test(test_orm_models_open_refuses_models_beyond_the_limits),
    };
    struct testdb probe;
    enum testdb_status st;
    int failed;

    backend = testdb_backend_arg(argc, argv);
    st = testdb_create(&probe, backend, "orm_probe");
    testdb_destroy(&probe);
    if (st == TESTDB_SKIP) {
        fprintf(stderr, "no %s server configured (USERSVC_TEST_PG_URL / "
                        "USERSVC_TEST_MYSQL_URL): skipped\n", backend);
        return 77;
    }
    /* Setup and teardown per test: each test gets a fresh database. */
    failed = cmocka_run_group_tests_name(backend, with_db, NULL, NULL);
    if (strcmp(backend, "sqlite") == 0)
        failed += cmocka_run_group_tests_name("limits", without_db, NULL, NULL);
    return failed;
}
