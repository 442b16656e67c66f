/* SPDX-License-Identifier: MIT
 * test_backends.c - orm/backends.c, the shared backend layer: choosing and
 * configuring a backend from DATABASE_URL (refusals at start, never a
 * password in the message), the canonical timestamp text every backend
 * returns, driver messages made one line, and the reconnect-in-place
 * policy (with a fake connection: revived only outside a transaction and
 * the migration lock). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "orm/orm_int.h"

static void
test_backends_are_chosen_by_scheme(void **state)
{
    const struct orm_backend *sqlite = orm_backend_for("sqlite:x.db");

    assert_non_null(sqlite);
    assert_string_equal("sqlite", sqlite->name);
    assert_ptr_equal(sqlite, orm_backend_for("SQLite::memory:"));
    assert_null(orm_backend_for("sqlite"));
    assert_null(orm_backend_for("ftp://h/x"));
    assert_null(orm_backend_for(""));
    assert_null(orm_backend_for("postgres:/h/db"));
    /* PostgreSQL and MySQL when this build has them (meson finds their libraries). */
    if (orm_backend_for("postgresql://h/db") != NULL)
        assert_string_equal("postgres", orm_backend_for("PostgreSQL://h/db")->name);
    if (orm_backend_for("mariadb://h/db") != NULL)
        assert_string_equal("mysql", orm_backend_for("mysql://h/db")->name);
}

/* Configuring refuses what cannot work, at once, naming it without the
 * password; what it accepts, connect works from. */
static void
test_backends_configure_refuses_bad_urls_without_the_password(void **state)
{
    static const char *const bad[][2] = {
        {"sqlite:", "path"},
        {"ftp://u:s3cr3t@h/db", "unsupported scheme"},
        {"postgres://u:s3cr3t@h:0/db", "port"},
        {"postgres://u:s3cr3t@h/db?sslmod=require", "sslmod"},
        {"postgres://u:s3cr3t@h/db?dbname=x", "dbname"},
        {"mysql://u:s3cr3t@h/db?nope=1", "nope"},
        {"mysql://u:s3cr3t@h1,h2/db", "one host"},
        {"mysql://u:s3cr#t@h/db", "%23"},
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const struct orm_backend *be = NULL;
        void *cfg = NULL;
        char err[256] = "";

        if (orm_backend_for(bad[i][0]) == NULL && strncmp(bad[i][0], "ftp", 3) != 0 &&
            strncmp(bad[i][0], "sqlite", 6) != 0)
            continue;   /* a backend this build lacks */
        assert_int_equal(USV_BAD_REQUEST,
                         orm_backend_configure(bad[i][0], &be, &cfg, err, sizeof(err)));
        assert_null(cfg);
        if (strstr(err, bad[i][1]) == NULL)
            fail_msg("'%s': '%s' does not mention '%s'", bad[i][0], err, bad[i][1]);
        if (strstr(err, "s3cr") != NULL)
            fail_msg("'%s': the message shows the password: %s", bad[i][0], err);
    }
}

static void
test_backends_connect_from_a_configured_url(void **state)
{
    struct orm_conn *c = NULL;
    char err[256] = "";

    assert_int_equal(USV_OK, orm_connect_url("sqlite::memory:", NULL, &c, err, sizeof(err)));
    assert_non_null(c->owned_cfg);       /* the connection owns what it was made from */
    assert_int_equal(USV_OK, orm_conn_ping(c));
    orm_backend_for("sqlite::memory:")->close(c);
}

static void
test_backends_timestamps_have_one_canonical_text(void **state)
{
    struct orm_stamp t = {.year = 2026, .month = 11, .day = 21, .hour = 8, .minute = 0,
                          .second = 0, .usec = 123400};
    char out[ORM_STAMP_LEN + 1];
    size_t used = 0;

    assert_true(orm_stamp_format(&t, out));
    assert_string_equal("2026-11-21T08:00:00.123400Z", out);
    assert_int_equal(ORM_STAMP_LEN, strlen(out));
    t.usec = 1000000;
    assert_false(orm_stamp_format(&t, out));
    t.usec = 0;
    t.year = 10000;
    assert_false(orm_stamp_format(&t, out));

    /* Parse: both separators, fractions of 1-6 digits, nothing else read. */
    assert_true(orm_stamp_parse("2026-11-21 08:00:00.1234+00", 27, &t, &used));
    assert_int_equal(24, used);
    assert_int_equal(123400, t.usec);
    assert_true(orm_stamp_parse("2026-11-21T08:00:00", 19, &t, &used));
    assert_int_equal(19, used);
    assert_int_equal(0, t.usec);
    assert_true(orm_stamp_parse("1999-12-31 23:59:59.999999", 26, &t, &used));
    assert_int_equal(26, used);
    assert_int_equal(999999, t.usec);
    assert_false(orm_stamp_parse("2026-11-21 08:00", 16, &t, &used));
    assert_false(orm_stamp_parse("2026-13-01 00:00:00", 19, &t, &used));
    assert_false(orm_stamp_parse("2026-11-21 08:00:00.", 20, &t, &used));
    assert_false(orm_stamp_parse("2026/11/21 08:00:00", 19, &t, &used));

    /* Shift: across midnight, a month and a year; out of range refused. */
    assert_true(orm_stamp_parse("2026-12-31 23:30:00.5", 21, &t, &used));
    assert_true(orm_stamp_shift(&t, 3600));
    assert_true(orm_stamp_format(&t, out));
    assert_string_equal("2027-01-01T00:30:00.500000Z", out);
    assert_true(orm_stamp_shift(&t, -5 * 3600 - 30 * 60));
    assert_true(orm_stamp_format(&t, out));
    assert_string_equal("2026-12-31T19:00:00.500000Z", out);
    assert_true(orm_stamp_parse("9999-12-31 23:00:00", 19, &t, &used));
    assert_false(orm_stamp_shift(&t, 7200));
}

static void
test_backends_driver_messages_become_one_line(void **state)
{
    char buf[64];

    orm_one_line(buf, sizeof(buf), "ERROR:  duplicate key\nDETAIL:\tKey (login)=(x)\r\n");
    assert_string_equal("ERROR: duplicate key DETAIL: Key (login)=(x)", buf);
    orm_one_line(buf, sizeof(buf), NULL);
    assert_string_equal("", buf);
    orm_one_line(buf, 8, "abcdefghijk");
    assert_string_equal("abcdefg", buf);
}

/* ---- the shared policy, over a fake driver ------------------------------ */

static bool fake_alive;
static unsigned fake_probes, fake_reconnects, fake_prepares, fake_executes, fake_begins;
static enum usv_err fake_begin_rc;     /* what the next BEGIN answers */

static bool
fake_looks_alive(struct orm_conn *c)
{
    fake_probes++;
    return fake_alive;
}

static enum usv_err
fake_reconnect(struct orm_conn *c)
{
    fake_reconnects++;
    c->is_broken = false;
    fake_alive = true;
    return USV_OK;
}

static enum usv_err
fake_prepare(struct orm_conn *c, unsigned id)
{
    fake_prepares++;
    assert_non_null(c->stmts[id].sql);
    return USV_OK;
}

static enum usv_err
fake_execute(struct orm_conn *c, unsigned id, const struct orm_param *params, size_t n,
             struct orm_result *res)
{
    fake_executes++;
    assert_true(c->stmts[id].is_live);
    return USV_OK;
}

static enum usv_err
fake_begin(struct orm_conn *c, enum orm_tx mode)
{
    enum usv_err rc = fake_begin_rc;

    fake_begins++;
    fake_begin_rc = USV_OK;
    if (rc == USV_UNAVAILABLE)
        c->is_broken = true;        /* the goodbye came with the answer */
    return rc;
}

static enum usv_err
fake_end(struct orm_conn *c)
{
    return USV_OK;
}

static const struct orm_backend fake_backend = {
    .name = "fake",
    .looks_alive = fake_looks_alive,
    .reconnect = fake_reconnect,
    .begin = fake_begin,
    .commit = fake_end,
    .rollback = fake_end,
    .prepare = fake_prepare,
    .execute = fake_execute,
};

static void
fake_conn(struct orm_conn *c)
{
    memset(c, 0, sizeof(*c));
    c->be = &fake_backend;
    fake_alive = true;
    fake_probes = fake_reconnects = fake_prepares = fake_executes = fake_begins = 0;
    fake_begin_rc = USV_OK;
}

static void
test_backends_reconnect_only_outside_transactions_and_the_lock(void **state)
{
    struct orm_conn c;

    fake_conn(&c);
    assert_int_equal(USV_OK, orm_conn_ensure_session(&c, "x"));
    assert_int_equal(0, fake_reconnects);

    /* Dead and idle: replaced in place. */
    fake_alive = false;
    assert_int_equal(USV_OK, orm_conn_ensure_session(&c, "x"));
    assert_int_equal(1, fake_reconnects);
    assert_false(c.is_broken);

    /* In a transaction: not even probed (the probe may consume input). */
    assert_int_equal(USV_OK, orm_conn_begin(&c, ORM_TX_WRITE));
    assert_true(c.in_tx);
    fake_alive = false;
    fake_probes = 0;
    assert_int_equal(USV_OK, orm_conn_ensure_session(&c, "x"));
    assert_int_equal(0, fake_probes);
    assert_int_equal(1, fake_reconnects);
    assert_int_equal(USV_OK, orm_conn_rollback(&c));
    assert_false(c.in_tx);

    /* Holding the migration lock: the session was the state; broken. */
    c.holds_lock = true;
    assert_int_equal(USV_UNAVAILABLE, orm_conn_ensure_session(&c, "migrate"));
    assert_int_equal(1, fake_reconnects);
    assert_true(c.is_broken);
    assert_non_null(strstr(c.errmsg, "migration lock"));
    orm_conn_finish(&c);
}

static void
test_backends_statements_are_prepared_again_after_a_reconnect(void **state)
{
    static const char sql[] = "SELECT 1";
    struct orm_conn c;

    fake_conn(&c);
    /* Prepared once, executed many times; the text is borrowed. */
    assert_int_equal(USV_OK, orm_conn_ready(&c, 3, sql, 0));
    assert_int_equal(USV_OK, orm_conn_ready(&c, 3, sql, 0));
    assert_ptr_equal(sql, c.stmts[3].sql);
    for (int i = 0; i < 3; i++)
        assert_int_equal(USV_OK, orm_conn_execute(&c, 3, NULL, 0, NULL));
    assert_int_equal(1, fake_prepares);
    assert_int_equal(3, fake_executes);

    /* The session died idle: the next execute reconnects and prepares
     * again from the kept text before executing. */
    fake_alive = false;
    assert_int_equal(USV_OK, orm_conn_execute(&c, 3, NULL, 0, NULL));
    assert_int_equal(1, fake_reconnects);
    assert_int_equal(2, fake_prepares);
    assert_int_equal(4, fake_executes);

    /* An id never given a text is an error, not a crash. */
    assert_int_equal(USV_INTERNAL, orm_conn_execute(&c, 9, NULL, 0, NULL));
    assert_int_equal(4, fake_executes);

    /* orm_conn_prepare() copies, and prepares again when asked. */
    {
        char text[] = "SELECT 2";

        assert_int_equal(USV_OK, orm_conn_prepare(&c, 3, text, 0));
        text[7] = '3';
        assert_string_equal("SELECT 2", c.stmts[3].sql);
        assert_int_equal(3, fake_prepares);
    }
    orm_conn_finish(&c);
    assert_null(c.stmts);
}

static void
test_backends_begin_is_said_again_once_after_a_goodbye(void **state)
{
    struct orm_conn c;

    fake_conn(&c);
    /* The goodbye arrived just after the liveness check: one reconnect,
     * BEGIN again, and the transaction is open. */
    fake_begin_rc = USV_UNAVAILABLE;
    assert_int_equal(USV_OK, orm_conn_begin(&c, ORM_TX_WRITE));
    assert_int_equal(2, fake_begins);
    assert_int_equal(1, fake_reconnects);
    assert_true(c.in_tx);
    assert_int_equal(USV_OK, orm_conn_commit(&c));
    assert_false(c.in_tx);

    /* Never while the migration lock is held: the lock went with the session. */
    c.holds_lock = true;
    fake_begin_rc = USV_UNAVAILABLE;
    assert_int_equal(USV_UNAVAILABLE, orm_conn_begin(&c, ORM_TX_WRITE));
    assert_int_equal(3, fake_begins);
    assert_int_equal(1, fake_reconnects);
    assert_false(c.in_tx);
    orm_conn_finish(&c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backends_are_chosen_by_scheme),
        cmocka_unit_test(test_backends_configure_refuses_bad_urls_without_the_password),
        cmocka_unit_test(test_backends_connect_from_a_configured_url),
        cmocka_unit_test(test_backends_timestamps_have_one_canonical_text),
        cmocka_unit_test(test_backends_driver_messages_become_one_line),
        cmocka_unit_test(test_backends_reconnect_only_outside_transactions_and_the_lock),
        cmocka_unit_test(test_backends_statements_are_prepared_again_after_a_reconnect),
        cmocka_unit_test(test_backends_begin_is_said_again_once_after_a_goodbye),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
