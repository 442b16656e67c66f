/* SPDX-License-Identifier: MIT
 * test_pg_backend.c - the PostgreSQL backend against a real server.
 *
 * Drives the backend through its struct orm_backend hooks (orm_int.h) and,
 * for retries, through orm_transact(), in a database of its own created from
 * USERSVC_TEST_PG_URL (an admin URL: tests/db/pg.sh url prints one) and
 * dropped at the end. Without that variable the program exits 77, meson's
 * SKIP. Server errors are real ones: a genuine serialization failure from two
 * REPEATABLE READ sessions, a genuine unique violation, a backend killed with
 * pg_terminate_backend(); only deadlock and retry counts use RAISE. The
 * execute_batch hook (one pipeline) runs users_model's SQL as the ORM
 * generates it, on the users table the migrations create. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "handlers/users.h"
#include "orm/migrate.h"
#include "orm/orm.h"
#include "orm/orm_int.h"

/* No bounds: what the driver does by itself. */
static const struct orm_limits test_limits = {0};
#include "orm/sql.h"
#include "base/util.h"

static const char *admin_url;        /* from the environment */
static char db_url[1024];            /* the test database */
static char db_name[64];
static const struct orm_backend *be;

/* ---- helpers ------------------------------------------------------------ */

/* @admin_url with its database path replaced by @name (query kept). */
static void
url_for(const char *name, char *out, size_t size)
{
    const char *auth = strstr(admin_url, "://");
    const char *path, *query;

    assert_non_null(auth);
    path = auth + 3 + strcspn(auth + 3, "/?");
    query = strchr(path, '?');
    snprintf(out, size, "%.*s/%s%s", (int)(path - admin_url), admin_url, name,
             query != NULL ? query : "");
}

static struct orm_conn *
connect_to(const char *url)
{
    struct orm_conn *c = NULL;
    char err[256] = "";

    if (orm_connect_url(url, &test_limits, &c, err, sizeof(err)) != USV_OK)
        fail_msg("cannot connect: %s", err);
    return c;
}

/* Run @sql (no parameters) and expect USV_OK. */
static void
exec_ok(struct orm_conn *c, const char *sql)
{
    enum usv_err rc = orm_conn_query(c, sql, NULL, 0, NULL);

    if (rc != USV_OK)
        fail_msg("%s -> %s: %s", sql, usv_err_name(rc), c->errmsg);
}

/* The first cell of @sql's first row, copied into @out. */
static void
scalar(struct orm_conn *c, const char *sql, char *out, size_t size)
{
    struct orm_result res;
    const char *v;

    orm_result_init(&res, 1);
    if (orm_conn_query(c, sql, NULL, 0, &res) != USV_OK)
        fail_msg("%s: %s", sql, c->errmsg);
    assert_int_equal(1, orm_result_rows(&res));
    v = orm_result_cell(&res, 0, 0, NULL);
    snprintf(out, size, "%s", v != NULL ? v : "(null)");
    orm_result_finish(&res);
}

static uint64_t
now_ms(void)
{
    return monotonic_ms();
}

/* ---- fixtures ----------------------------------------------------------- */

static int
group_setup(void **state)
{
    struct orm_conn *admin;
    char sql[128];

    be = orm_backend_for(admin_url);
    if (be == NULL || strcmp(be->name, "postgres") != 0) {
        fprintf(stderr, "no PostgreSQL backend for %s\n", "USERSVC_TEST_PG_URL");
        return -1;
    }
    snprintf(db_name, sizeof(db_name), "usv_unit_pg_%ld_%ld", (long)getpid(),
             (long)time(NULL));
    admin = connect_to(admin_url);
    snprintf(sql, sizeof(sql), "CREATE DATABASE \"%s\"", db_name);
    exec_ok(admin, sql);
    be->close(admin);
    url_for(db_name, db_url, sizeof(db_url));
    return 0;
}

static int
group_teardown(void **state)
{
    struct orm_conn *admin = connect_to(admin_url);
    char sql[128];

    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS \"%s\" WITH (FORCE)", db_name);
    exec_ok(admin, sql);
    be->close(admin);
    return 0;
}

/* ---- connecting ----------------------------------------------------------- */

static void
test_pg_accepts_both_uri_schemes_only(void **state)
{
    assert_true(be->accepts("postgres"));
    assert_true(be->accepts("postgresql"));
    assert_false(be->accepts("sqlite"));
    assert_false(be->accepts("mysql"));
    assert_ptr_equal(be, orm_backend_for("postgres://u@h/db"));
    assert_ptr_equal(be, orm_backend_for("PostgreSQL://u@h/db"));
    assert_null(orm_backend_for("postgres:db"));
}

static void
test_pg_open_errors_never_show_the_password(void **state)
{
    /* A URL that parses but leads nowhere is USV_UNAVAILABLE; one that does
     * not parse, or names an option libpq lacks, is refused before libpq
     * sees anything (USV_BAD_REQUEST). Neither message shows the password. */
    static const struct {
        const char *url;
        enum usv_err want;
    } urls[] = {
        {"postgres://usersvc:s3cr3tpw@127.0.0.1:1/x", USV_UNAVAILABLE},
        {"postgres://usersvc:s3cr%zzpw@127.0.0.1/x", USV_BAD_REQUEST},
        {"postgres://usersvc:s3cr3tpw@[::1/x", USV_BAD_REQUEST},
        {"postgresql://usersvc@127.0.0.1:abc/x?password=s3cr3tpw", USV_BAD_REQUEST},
        {"postgres://usersvc:s3cr%33tpw@127.0.0.1:1/x?sslmod=require", USV_BAD_REQUEST},
        {"postgres://usersvc@127.0.0.1:1/x?passw%6Frd=s3cr3tpw", USV_UNAVAILABLE},
        {"postgres://usersvc@127.0.0.1:1/x?sslpassword=s3cr3tpw&connect_timeout=1",
         USV_UNAVAILABLE},
    };

    for (size_t i = 0; i < ARRAY_SIZE(urls); i++) {
        struct orm_conn *c = NULL;
        char err[256] = "";

        assert_int_equal(urls[i].want,
                         orm_connect_url(urls[i].url, &test_limits, &c, err, sizeof(err)));
        assert_null(c);
        assert_true(err[0] != '\0');
        if (strstr(err, "s3cr") != NULL || strstr(err, "3tpw") != NULL)
            fail_msg("password in \"%s\"", err);
    }
}

static void
test_pg_wrong_password_is_unavailable(void **state)
{
    char url[1100];
    const char *at = strchr(strstr(admin_url, "://") + 3, '@');
    const char *colon = strchr(strstr(admin_url, "://") + 3, ':');
    struct orm_conn *c = NULL;
    char err[256] = "";

    if (at == NULL || colon == NULL || colon > at)
        skip();                              /* no password in the URL to get wrong */
    snprintf(url, sizeof(url), "%.*s:wr0ngpw%s", (int)(colon - admin_url), admin_url, at);
    assert_int_equal(USV_UNAVAILABLE, orm_connect_url(url, &test_limits, &c, err, sizeof(err)));
    assert_null(strstr(err, "wr0ngpw"));
}

static void
test_pg_session_is_utf8_and_utc_whatever_the_url_says(void **state)
{
    char url[1200], v[64];
    struct orm_conn *c;

    /* Our defaults apply when the URL is silent... */
    c = connect_to(db_url);
    scalar(c, "SHOW application_name", v, sizeof(v));
    assert_string_equal("usersvc", v);
    scalar(c, "SHOW client_encoding", v, sizeof(v));
    assert_string_equal("UTF8", v);
    be->close(c);

    /* ...the URL's own parameters win over defaults, but not over UTC/UTF-8. */
    snprintf(url, sizeof(url), "%s%capplication_name=other&client_encoding=LATIN1"
             "&options=-c%%20TimeZone%%3DAsia/Tokyo", db_url,
             strchr(db_url, '?') != NULL ? '&' : '?');
    c = connect_to(url);
    scalar(c, "SHOW application_name", v, sizeof(v));
    assert_string_equal("other", v);
    scalar(c, "SHOW client_encoding", v, sizeof(v));
    assert_string_equal("UTF8", v);
    scalar(c, "SHOW TimeZone", v, sizeof(v));
    assert_string_equal("UTC", v);
    be->close(c);
}

static void
test_pg_notices_never_reach_stderr(void **state)
{
    struct orm_conn *c = connect_to(db_url);
    char path[] = "/tmp/usv-pg-stderr.XXXXXX";
    int fd = mkstemp(path), saved = dup(STDERR_FILENO);
    off_t size;

    assert_true(fd >= 0 && saved >= 0);
    fflush(stderr);
    dup2(fd, STDERR_FILENO);
    exec_ok(c, "CREATE TABLE IF NOT EXISTS notice_t (x int)");
    exec_ok(c, "CREATE TABLE IF NOT EXISTS notice_t (x int)");   /* NOTICE: skipping */
    exec_ok(c, "DO $$BEGIN RAISE NOTICE 'hello'; RAISE WARNING 'careful'; END$$");
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    size = lseek(fd, 0, SEEK_END);
    close(fd);
    unlink(path);
    assert_int_equal(0, size);
    exec_ok(c, "DROP TABLE notice_t");
    be->close(c);
}

/* ---- error mapping ------------------------------------------------------------ */

static void
test_pg_unique_violation_is_conflict(void **state)
{
    struct orm_conn *c = connect_to(db_url);

    exec_ok(c, "CREATE TABLE uniq_t (login text NOT NULL)");
    exec_ok(c, "CREATE UNIQUE INDEX ON uniq_t (lower(login COLLATE \"C\"))");
    exec_ok(c, "INSERT INTO uniq_t VALUES ('alice')");
    assert_int_equal(USV_CONFLICT, orm_conn_query(c, "INSERT INTO uniq_t VALUES ('ALICE')", NULL,
                                                  0, NULL));
    assert_false(c->is_broken);
    assert_non_null(strstr(c->errmsg, "23505"));
    assert_null(strstr(c->errmsg, "alice"));  /* DETAIL, which quotes the row, is left out */
    exec_ok(c, "DROP TABLE uniq_t");
    be->close(c);
}

static void
test_pg_serialization_failure_is_retry(void **state)
{
    struct orm_conn *a = connect_to(db_url), *b = connect_to(db_url);

    exec_ok(a, "CREATE TABLE ser_t (id int PRIMARY KEY, n int)");
    exec_ok(a, "INSERT INTO ser_t VALUES (1, 0)");
    /* A takes its snapshot, B commits a change, A writes the same row. */
    exec_ok(a, "BEGIN ISOLATION LEVEL REPEATABLE READ");
    exec_ok(a, "SELECT n FROM ser_t WHERE id = 1");
    exec_ok(b, "UPDATE ser_t SET n = n + 1 WHERE id = 1");
    assert_int_equal(USV_RETRY,
                     orm_conn_query(a, "UPDATE ser_t SET n = n + 1 WHERE id = 1", NULL, 0, NULL));
    assert_non_null(strstr(a->errmsg, "40001"));
    assert_false(a->is_broken);
    assert_int_equal(USV_OK, orm_conn_rollback(a));
    exec_ok(a, "DROP TABLE ser_t");
    be->close(a);
    be->close(b);
}

static void
test_pg_deadlock_is_retry_and_other_errors_internal(void **state)
{
    struct orm_conn *c = connect_to(db_url);

    assert_int_equal(USV_RETRY, orm_conn_query(c, "DO $$BEGIN RAISE EXCEPTION 'x' USING "
                                                  "ERRCODE = 'deadlock_detected'; END$$",
                                               NULL, 0, NULL));
    assert_int_equal(USV_INTERNAL, orm_conn_query(c, "SELECT * FROM no_such_table", NULL, 0, NULL));
    assert_int_equal(USV_INTERNAL, orm_conn_query(c, "SELEC 1", NULL, 0, NULL));
    assert_false(c->is_broken);
    /* "the database system is shutting down" and friends end the session. */
    assert_int_equal(USV_UNAVAILABLE, orm_conn_query(c, "DO $$BEGIN RAISE EXCEPTION 'x' USING "
                                                        "ERRCODE = 'admin_shutdown'; END$$",
                                                     NULL, 0, NULL));
    assert_true(c->is_broken);
    be->close(c);
}

/* Make the server end @victim's session, as a restart or an idle timeout would. */
static void
terminate(struct orm_conn *victim, struct orm_conn *killer, char *pid, size_t size)
{
    char sql[96];

    scalar(victim, "SELECT pg_backend_pid()", pid, size);
    snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%s, 5000)", pid);
    exec_ok(killer, sql);
}

static void
test_pg_connection_lost_in_a_transaction_is_broken_and_unavailable(void **state)
{
    struct orm_conn *a = connect_to(db_url), *b = connect_to(db_url);
    char pid[32];

    assert_int_equal(USV_OK, orm_conn_begin(a, ORM_TX_WRITE));
    terminate(a, b, pid, sizeof(pid));
    /* The transaction's work is lost: no silent reconnect here. */
    assert_int_equal(USV_UNAVAILABLE, orm_conn_query(a, "SELECT 1", NULL, 0, NULL));
    assert_true(a->is_broken);
    be->close(a);
    be->close(b);
}

static void
test_pg_connection_lost_holding_the_migration_lock_is_not_revived(void **state)
{
    struct orm_conn *a = connect_to(db_url), *b = connect_to(db_url);
    char pid[32];

    assert_int_equal(USV_OK, orm_conn_lock_migrations(a, 1000));
    terminate(a, b, pid, sizeof(pid));
    /* A new session would not hold the lock the runner thinks it holds. */
    assert_int_equal(USV_UNAVAILABLE, orm_conn_query(a, "SELECT 1", NULL, 0, NULL));
    assert_true(a->is_broken);
    be->close(a);
    be->close(b);
}

/* ---- statements ----------------------------------------------------------------- */

static void
test_pg_statement_is_prepared_once_and_executed_many_times(void **state)
{
    struct orm_conn *c = connect_to(db_url);
    struct orm_param p = {.type = ORM_INT64};
    char v[32];

    exec_ok(c, "CREATE TABLE prep_t (id bigint PRIMARY KEY, name text)");
    exec_ok(c, "INSERT INTO prep_t SELECT g, 'n' || g FROM generate_series(1, 5) g");
    assert_int_equal(USV_OK, orm_conn_prepare(c, 7, "SELECT name FROM prep_t WHERE id = $1", 1));
    for (int i = 1; i <= 5; i++) {
        struct orm_result res;
        char want[8];

        p.i = i;
        orm_result_init(&res, 1);
        assert_int_equal(USV_OK, orm_conn_execute(c, 7, &p, 1, &res));
        assert_int_equal(1, orm_result_rows(&res));
        snprintf(want, sizeof(want), "n%d", i);
        assert_string_equal(want, orm_result_cell(&res, 0, 0, NULL));
        orm_result_finish(&res);
    }
    scalar(c, "SELECT count(*) FROM pg_prepared_statements WHERE name = 'usv_7'", v,
           sizeof(v));
    assert_string_equal("1", v);
    /* The row count of a write is reported. */
    assert_int_equal(USV_OK,
                     orm_conn_prepare(c, 8, "UPDATE prep_t SET name = $1 WHERE id > $2", 2));
    {
        struct orm_param up[2] = {{.type = ORM_TEXT, .s = "x", .len = 1},
                                  {.type = ORM_INT64, .i = 2}};
        struct orm_result res;

        orm_result_init(&res, 0);
        assert_int_equal(USV_OK, orm_conn_execute(c, 8, up, 2, &res));
        assert_int_equal(3, res.affected);
        orm_result_finish(&res);
    }
    exec_ok(c, "DROP TABLE prep_t");
    be->close(c);
}

static void
test_pg_text_params_round_trip_byte_for_byte(void **state)
{
    struct orm_conn *c = connect_to(db_url);
    /* Not NUL-terminated at len: the backend must copy exactly len bytes. */
    static const char text[] = "Zo\xc3\xab \xf0\x9f\x98\x80 \xe2\x80\x8b'\";\\--XYZ";
    struct orm_param p[2] = {{.type = ORM_TEXT, .s = text, .len = sizeof(text) - 4},
                             {.type = ORM_TEXT, .is_null = true}};
    struct orm_result res;
    size_t len = 0;
    const char *v;

    orm_result_init(&res, 2);
    assert_int_equal(USV_OK, orm_conn_query(c, "SELECT $1::text, $2::text", p, 2, &res));
    v = orm_result_cell(&res, 0, 0, &len);
    assert_int_equal(sizeof(text) - 4, len);
    assert_memory_equal(text, v, len);
    assert_null(orm_result_cell(&res, 0, 1, NULL));
    orm_result_finish(&res);

    /* PostgreSQL text cannot hold U+0000: refuse rather than truncate. */
    p[0].s = "a\0b";
    p[0].len = 3;
    assert_int_equal(USV_INTERNAL, orm_conn_query(c, "SELECT $1::text", p, 1, NULL));
    assert_false(c->is_broken);
    be->close(c);
}

static void
test_pg_timestamps_come_back_in_canonical_form(void **state)
{
    static const char *const stamps[] = {
        "2026-11-21T08:00:00.000000Z", "2026-11-21T08:00:00.123456Z",
        "1999-12-31T23:59:59.999999Z", "2026-03-29T01:30:00.000100Z",
    };
    static const struct orm_column col = {.name = "t", .type = ORM_TIMESTAMP};
    struct orm_conn *c = connect_to(db_url);
    struct strbuf sql;

    /* The dialect hooks write both directions, as the ORM would use them. */
    strbuf_init(&sql);
    strbuf_adds(&sql, "SELECT ");
    be->select_column(&sql, &col);
    strbuf_adds(&sql, " FROM (SELECT ");
    be->placeholder(&sql, 1, ORM_TIMESTAMP);
    strbuf_adds(&sql, " AS t) s");
    /* A session time zone far from UTC must not show. */
    exec_ok(c, "SET TIME ZONE 'America/St_Johns'");
    for (size_t i = 0; i < ARRAY_SIZE(stamps); i++) {
        struct orm_param p = {.type = ORM_TIMESTAMP, .s = stamps[i], .len = strlen(stamps[i])};
        struct orm_result res;

        orm_result_init(&res, 1);
        assert_int_equal(USV_OK, orm_conn_query(c, strbuf_str(&sql), &p, 1, &res));
        assert_string_equal(stamps[i], orm_result_cell(&res, 0, 0, NULL));
        orm_result_finish(&res);
    }
    strbuf_finish(&sql);
    be->close(c);
}

static void
test_pg_nocase_equals_folds_ascii_only(void **state)
{
    static const struct orm_column col = {.name = "login", .type = ORM_TEXT,
                                          .flags = ORM_NOCASE};
    struct orm_conn *c = connect_to(db_url);
    struct strbuf sql;
    static const char *const probes[] = {"ALICE", "alice", "aLiCe", "ÄLICE", "alicE "};
    static const size_t want[] = {1, 1, 1, 0, 0};

    exec_ok(c, "CREATE TABLE nocase_t (login text)");
    exec_ok(c, "INSERT INTO nocase_t VALUES ('Alice'), ('älice')");
    strbuf_init(&sql);
    strbuf_adds(&sql, "SELECT login FROM nocase_t WHERE ");
    be->equals(&sql, &col, 1);
    for (size_t i = 0; i < ARRAY_SIZE(probes); i++) {
        struct orm_param p = {.type = ORM_TEXT, .s = probes[i], .len = strlen(probes[i])};
        struct orm_result res;

        orm_result_init(&res, 1);
        assert_int_equal(USV_OK, orm_conn_query(c, strbuf_str(&sql), &p, 1, &res));
        if (orm_result_rows(&res) != want[i])
            fail_msg("%s: %zu rows", probes[i], orm_result_rows(&res));
        orm_result_finish(&res);
    }
    strbuf_finish(&sql);
    exec_ok(c, "DROP TABLE nocase_t");
    be->close(c);
}

static void
test_pg_stale_prepared_statement_is_replanned_or_retried(void **state)
{
    struct orm_conn *c = connect_to(db_url), *other = connect_to(db_url);
    struct orm_param p = {.type = ORM_INT64, .i = 1};
    struct orm_result res;

    exec_ok(c, "CREATE TABLE stale_t (id bigint, name text)");
    exec_ok(c, "INSERT INTO stale_t VALUES (1, 'x')");
    assert_int_equal(USV_OK, orm_conn_prepare(c, 3, "SELECT name FROM stale_t WHERE id = $1", 1));
    /* A migration changes the result type under the running service. */
    exec_ok(other, "ALTER TABLE stale_t ALTER COLUMN name TYPE varchar(50)");
    assert_int_equal(USV_OK, orm_conn_begin(c, ORM_TX_READ));
    orm_result_init(&res, 1);
    assert_int_equal(USV_RETRY, orm_conn_execute(c, 3, &p, 1, &res));
    orm_result_finish(&res);
    assert_true(c->is_broken);   /* the session retries on a fresh connection */
    be->close(c);                /* first: its aborted transaction still holds a lock */

    /* Outside a transaction the statement is simply planned again. */
    c = connect_to(db_url);
    assert_int_equal(USV_OK, orm_conn_prepare(c, 3, "SELECT name FROM stale_t WHERE id = $1", 1));
    exec_ok(other, "ALTER TABLE stale_t ALTER COLUMN name TYPE text");
    orm_result_init(&res, 1);
    assert_int_equal(USV_OK, orm_conn_execute(c, 3, &p, 1, &res));
    assert_string_equal("x", orm_result_cell(&res, 0, 0, NULL));
    orm_result_finish(&res);
    assert_false(c->is_broken);
    be->close(c);
    exec_ok(other, "DROP TABLE stale_t");
    be->close(other);
}

/* ---- sessions ------------------------------------------------------------------- */

static void
test_pg_idle_connection_the_server_dropped_is_revived(void **state)
{
    struct orm_conn *a = connect_to(db_url), *b = connect_to(db_url);
    struct orm_param p = {.type = ORM_INT64, .i = 41};
    struct orm_result res;
    char pid[32], pid2[32];

    assert_int_equal(USV_OK, orm_conn_prepare(a, 5, "SELECT $1::bigint + 1", 1));

    /* A statement outside a transaction: reconnect, prepare again, run. */
    terminate(a, b, pid, sizeof(pid));
    orm_result_init(&res, 1);
    assert_int_equal(USV_OK, orm_conn_execute(a, 5, &p, 1, &res));
    assert_string_equal("42", orm_result_cell(&res, 0, 0, NULL));
    orm_result_finish(&res);
    assert_false(a->is_broken);
    scalar(a, "SELECT pg_backend_pid()", pid2, sizeof(pid2));
    assert_string_not_equal(pid, pid2);

    /* BEGIN on a dropped connection. */
    terminate(a, b, pid, sizeof(pid));
    assert_int_equal(USV_OK, orm_conn_begin(a, ORM_TX_WRITE));
    orm_result_init(&res, 1);
    assert_int_equal(USV_OK, orm_conn_execute(a, 5, &p, 1, &res));
    assert_string_equal("42", orm_result_cell(&res, 0, 0, NULL));
    orm_result_finish(&res);
    assert_int_equal(USV_OK, orm_conn_commit(a));

    /* The pool's idle check and /readyz: the database is usable. */
    terminate(a, b, pid, sizeof(pid));
    assert_int_equal(USV_OK, orm_conn_ping(a));
    assert_false(a->is_broken);

    /* The new session got the session settings again. */
    {
        char v[32];

        scalar(a, "SHOW TimeZone", v, sizeof(v));
        assert_string_equal("UTC", v);
    }
    be->close(a);
    be->close(b);
}

static void
test_pg_commit_of_a_failed_transaction_is_not_success(void **state)
{
    struct orm_conn *c = connect_to(db_url);

    assert_int_equal(USV_OK, orm_conn_begin(c, ORM_TX_WRITE));
    assert_int_equal(USV_INTERNAL, orm_conn_query(c, "SELECT 1/0", NULL, 0, NULL));
    /* The server answers COMMIT with ROLLBACK here. */
    assert_int_equal(USV_INTERNAL, orm_conn_commit(c));
    assert_false(c->is_broken);
    /* 25006 (read-only transaction) is what a demoted primary answers after a
     * failover: the connection is given up so a new one finds the primary. */
    assert_int_equal(USV_OK, orm_conn_begin(c, ORM_TX_READ));
    assert_int_equal(USV_UNAVAILABLE,
                     orm_conn_query(c, "CREATE TABLE ro_t (x int)", NULL, 0, NULL));
    assert_true(c->is_broken);
    be->close(c);
}

static void
test_pg_migration_lock_is_exclusive_and_bounded(void **state)
{
    struct orm_conn *a = connect_to(db_url), *b = connect_to(db_url);
    uint64_t t0, waited;
    char v[32];

    assert_int_equal(USV_OK, orm_conn_lock_migrations(a, 1000));
    t0 = now_ms();
    assert_int_equal(USV_UNAVAILABLE, orm_conn_lock_migrations(b, 300));
    waited = now_ms() - t0;
    if (waited < 250 || waited > 3000)
        fail_msg("waited %llu ms for a 300 ms lock timeout", (unsigned long long)waited);
    assert_false(b->is_broken);
    assert_int_equal(USV_UNAVAILABLE, orm_conn_lock_migrations(b, 0));
    scalar(b, "SHOW lock_timeout", v, sizeof(v));
    assert_string_equal("0", v);             /* restored after the wait */
    orm_conn_unlock_migrations(a);
    assert_int_equal(USV_OK, orm_conn_lock_migrations(b, 300));
    assert_int_equal(USV_UNAVAILABLE, orm_conn_lock_migrations(a, 0));
    orm_conn_unlock_migrations(b);
    assert_int_equal(USV_OK, orm_conn_lock_migrations(a, 0));
    orm_conn_unlock_migrations(a);
    be->close(a);
    be->close(b);
}

/* ---- through the ORM -------------------------------------------------------------- */

static const struct orm_column item_columns[] = {
    {.name = "id", .type = ORM_INT64, .flags = ORM_PK | ORM_READONLY},
    {.name = "name", .type = ORM_TEXT, .flags = ORM_REQUIRED},
    {.name = "created_at", .type = ORM_TIMESTAMP, .flags = ORM_READONLY | ORM_CREATED_AT},
};
static const struct orm_model item_model = {
    .table = "items", .singular = "item",
    .columns = item_columns, .n_columns = ARRAY_SIZE(item_columns),
};
static const struct orm_model *const item_models[] = {&item_model};

struct insert_op {
    json_t *values;
    json_t *row;
    unsigned calls;
};

static enum usv_err
insert_work(struct orm_session *s, void *arg)
{
    struct insert_op *op = arg;

    op->calls++;
    json_decref(op->row);
    op->row = NULL;
    return orm_insert(s, &item_model, op->values, &op->row);
}

static void
test_pg_orm_retries_a_serialization_failure(void **state)
{
    struct orm_db_options opts = {.pool_size = 2, .pool_timeout_ms = 2000,
                                  .idle_check_ms = 5000};
    struct orm_conn *c = connect_to(db_url);
    struct orm_db *db = NULL;
    struct insert_op op = {.values = json_pack("{s:s}", "name", "x")};
    regex_t re;
    char v[32];

    /* The first two inserts fail as a serialization failure would; the
     * sequence counts attempts and, unlike a table, ignores rollbacks. */
    exec_ok(c, "CREATE TABLE items (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
               " name text NOT NULL, created_at timestamptz NOT NULL)");
    exec_ok(c, "CREATE SEQUENCE attempts");
    exec_ok(c, "CREATE FUNCTION flaky() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN"
               " IF nextval('attempts') <= 2 THEN RAISE EXCEPTION 'injected' USING"
               " ERRCODE = 'serialization_failure'; END IF; RETURN NEW; END$$");
    exec_ok(c, "CREATE TRIGGER flaky BEFORE INSERT ON items FOR EACH ROW"
               " EXECUTE FUNCTION flaky()");

    assert_int_equal(USV_OK, orm_db_open(db_url, item_models, 1, &opts, &db));
    assert_int_equal(USV_OK, orm_transact(db, ORM_TX_WRITE, insert_work, &op));
    assert_int_equal(3, op.calls);
    assert_non_null(op.row);
    assert_string_equal("x", json_string_value(json_object_get(op.row, "name")));
    assert_int_equal(0, regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:"
                                     "[0-9]{2}\\.[0-9]{6}Z$", REG_EXTENDED | REG_NOSUB));
    assert_int_equal(0, regexec(&re, json_string_value(json_object_get(op.row, "created_at")),
                                0, NULL, 0));
    regfree(&re);
    scalar(c, "SELECT count(*) FROM items", v, sizeof(v));
    assert_string_equal("1", v);

    /* Failing every time: bounded retries, then "unavailable" (503). */
    exec_ok(c, "ALTER SEQUENCE attempts RESTART WITH -1000000 MINVALUE -1000000");
    op.calls = 0;
    assert_int_equal(USV_UNAVAILABLE, orm_transact(db, ORM_TX_WRITE, insert_work, &op));
    assert_true(op.calls > 1 && op.calls < 20);
    scalar(c, "SELECT count(*) FROM items", v, sizeof(v));
    assert_string_equal("1", v);

    json_decref(op.row);
    json_decref(op.values);
    orm_db_close(db);
    exec_ok(c, "DROP TABLE items");
    exec_ok(c, "DROP FUNCTION flaky()");
    exec_ok(c, "DROP SEQUENCE attempts");
    be->close(c);
}

/* ---- batches: pg_execute_batch (one pipeline, one Sync) -------------------- */

/* Statement ids of users_model's SQL on the tests' own connections. */
enum { BATCH_FIND = 20, BATCH_INSERT = 21, BATCH_SUICIDE = 22, BATCH_COUNTED = 23 };

/* The users table as the migrations make it, emptied. */
static void
users_table_empty(struct orm_conn *c)
{
    static const struct orm_db_options opts = {.pool_size = 1, .pool_timeout_ms = 5000};
    static const struct orm_model *const models[] = {&users_model};
    struct orm_db *db = NULL;

    assert_int_equal(USV_OK, orm_db_open(db_url, models, 1, &opts, &db));
    assert_int_equal(USV_OK, migrate_up(db, NULL));
    orm_db_close(db);
    exec_ok(c, "TRUNCATE users RESTART IDENTITY");
}

/* Prepare users_model's @op as statement @id, from the SQL the ORM generates. */
static void
prepare_users(struct orm_conn *c, unsigned id, enum orm_op op, size_t n_params)
{
    struct strbuf sql;

    strbuf_init(&sql);
    orm_sql_build(be, &users_model, op, &sql);
    if (orm_conn_prepare(c, id, strbuf_str(&sql), n_params) != USV_OK)
        fail_msg("prepare %s: %s", strbuf_str(&sql), c->errmsg);
    strbuf_finish(&sql);
}

/* One statement of a batch, with its parameters and result. */
struct batch_stmt {
    struct orm_param params[5];
    struct orm_result res;
    struct orm_batch_item item;
};

static void
batch_find_init(struct batch_stmt *bs, int64_t id)
{
    memset(bs, 0, sizeof(*bs));
    bs->params[0] = (struct orm_param){.type = ORM_INT64, .i = id};
    orm_result_init(&bs->res, users_model.n_columns);
    bs->item = (struct orm_batch_item){.id = BATCH_FIND, .params = bs->params, .n_params = 1,
                                       .res = &bs->res, .rc = USV_INTERNAL};
}

/* INSERT ... RETURNING of users_model: login, first_name, last_name, the times. */
static void
batch_insert_init(struct batch_stmt *bs, const char *login)
{
    static const char stamp[] = "2026-11-21T08:00:00.000000Z";

    memset(bs, 0, sizeof(*bs));
    bs->params[0] = (struct orm_param){.type = ORM_TEXT, .s = login, .len = strlen(login)};
    bs->params[1] = (struct orm_param){.type = ORM_TEXT, .is_null = true};
    bs->params[2] = (struct orm_param){.type = ORM_TEXT, .is_null = true};
    bs->params[3] = (struct orm_param){.type = ORM_TIMESTAMP, .s = stamp,
                                       .len = sizeof(stamp) - 1};
    bs->params[4] = bs->params[3];
    orm_result_init(&bs->res, users_model.n_columns);
    bs->item = (struct orm_batch_item){.id = BATCH_INSERT, .params = bs->params,
                                       .n_params = 5, .res = &bs->res, .rc = USV_INTERNAL,
                                       .is_write = true};
}

static void
run_batch(struct orm_conn *c, struct batch_stmt *bs, size_t n)
{
    struct orm_batch_item *items[8];

    assert_true(n <= ARRAY_SIZE(items));
    for (size_t i = 0; i < n; i++)
        items[i] = &bs[i].item;
    orm_conn_execute_batch(c, items, n);
}

static void
batch_finish(struct batch_stmt *bs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        orm_result_finish(&bs[i].res);
}

static void
test_pg_batch_of_finds_returns_each_its_own_row(void **state)
{
    static const int64_t ids[] = {4, 1, 99, 5, 2};     /* 99 is no user */
    struct orm_conn *c = connect_to(db_url);
    struct batch_stmt bs[ARRAY_SIZE(ids)];

    users_table_empty(c);
    exec_ok(c, "INSERT INTO users (login, created_at, updated_at) SELECT 'user' || g, now(),"
               " now() FROM generate_series(1, 5) g");
    prepare_users(c, BATCH_FIND, ORM_OP_FIND, 1);
    for (size_t i = 0; i < ARRAY_SIZE(ids); i++)
        batch_find_init(&bs[i], ids[i]);
    run_batch(c, bs, ARRAY_SIZE(ids));

    for (size_t i = 0; i < ARRAY_SIZE(ids); i++) {
        char id[24], login[24];

        assert_int_equal(USV_OK, bs[i].item.rc);
        if (ids[i] == 99) {
            assert_int_equal(0, orm_result_rows(&bs[i].res));
            continue;
        }
        snprintf(id, sizeof(id), "%lld", (long long)ids[i]);
        snprintf(login, sizeof(login), "user%lld", (long long)ids[i]);
        assert_int_equal(1, orm_result_rows(&bs[i].res));
        assert_string_equal(id, orm_result_cell(&bs[i].res, 0, 0, NULL));
        assert_string_equal(login, orm_result_cell(&bs[i].res, 0, 1, NULL));
    }
    assert_false(c->is_broken);
    {
        char v[32];

        /* Out of pipeline mode: a plain query works on the connection again. */
        scalar(c, "SELECT count(*) FROM users", v, sizeof(v));
        assert_string_equal("5", v);
    }
    batch_finish(bs, ARRAY_SIZE(ids));
    be->close(c);
}

static void
test_pg_batch_duplicate_login_fails_only_the_duplicate(void **state)
{
    static const char *const logins[] = {"alice", "bob", "ALICE", "carol"};
    static const enum usv_err want[] = {USV_OK, USV_OK, USV_CONFLICT, USV_OK};
    struct orm_conn *c = connect_to(db_url), *other = connect_to(db_url);
    struct batch_stmt bs[ARRAY_SIZE(logins)];
    char v[64];

    users_table_empty(c);
    prepare_users(c, BATCH_INSERT, ORM_OP_INSERT_RETURNING, 5);
    for (size_t i = 0; i < ARRAY_SIZE(logins); i++)
        batch_insert_init(&bs[i], logins[i]);
    run_batch(c, bs, ARRAY_SIZE(logins));

    for (size_t i = 0; i < ARRAY_SIZE(logins); i++) {
        char sql[96];

        if (bs[i].item.rc != want[i])
            fail_msg("%s: %s, expected %s (%s)", logins[i], usv_err_name(bs[i].item.rc),
                     usv_err_name(want[i]), c->errmsg);
        if (want[i] != USV_OK) {
            assert_int_equal(0, orm_result_rows(&bs[i].res));
            continue;
        }
        /* Exactly its own row: nothing left over from a pipeline that failed,
         * and the id is the one stored. */
        assert_int_equal(1, orm_result_rows(&bs[i].res));
        assert_string_equal(logins[i], orm_result_cell(&bs[i].res, 0, 1, NULL));
        snprintf(sql, sizeof(sql), "SELECT id FROM users WHERE login = '%s'", logins[i]);
        scalar(other, sql, v, sizeof(v));
        assert_string_equal(v, orm_result_cell(&bs[i].res, 0, 0, NULL));
    }
    assert_false(c->is_broken);
    /* Committed, seen from another session: nothing lost, nothing doubled. */
    scalar(other, "SELECT string_agg(login, ',' ORDER BY login) FROM users", v, sizeof(v));
    assert_string_equal("alice,bob,carol", v);
    scalar(c, "SELECT count(*) FROM users", v, sizeof(v));
    assert_string_equal("3", v);
    batch_finish(bs, ARRAY_SIZE(logins));
    be->close(c);
    be->close(other);
}

/* A write that fails costs only itself: the reads of the batch ran once
 * (each in its own transaction: a sequence counts how often the server ran
 * them) and are not sent again; the other writes are sent again once and
 * stored once. */
static void
test_pg_batch_failed_write_leaves_the_reads_alone(void **state)
{
    struct orm_conn *c = connect_to(db_url), *other = connect_to(db_url);
    struct batch_stmt bs[5];
    char v[64];

    users_table_empty(c);
    exec_ok(other, "DROP SEQUENCE IF EXISTS usv_batch_reads");
    exec_ok(other, "CREATE SEQUENCE usv_batch_reads");
    exec_ok(other, "INSERT INTO users (login, created_at, updated_at)"
                   " VALUES ('taken', now(), now())");
    prepare_users(c, BATCH_INSERT, ORM_OP_INSERT_RETURNING, 5);
    prepare_users(c, BATCH_FIND, ORM_OP_FIND, 1);
    assert_int_equal(USV_OK, orm_conn_prepare(c, BATCH_COUNTED,
                                              "SELECT nextval('usv_batch_reads')", 0));
    batch_insert_init(&bs[0], "TAKEN");             /* fails: the login is taken */
    batch_find_init(&bs[1], 1);
    memset(&bs[2], 0, sizeof(bs[2]));
    orm_result_init(&bs[2].res, 1);
    bs[2].item = (struct orm_batch_item){.id = BATCH_COUNTED, .res = &bs[2].res,
                                         .rc = USV_INTERNAL};
    batch_insert_init(&bs[3], "hugo");
    batch_insert_init(&bs[4], "ida");
    run_batch(c, bs, 5);

    assert_int_equal(USV_CONFLICT, bs[0].item.rc);
    for (size_t i = 1; i < 5; i++) {
        if (bs[i].item.rc != USV_OK)
            fail_msg("item %zu: %s (%s)", i, usv_err_name(bs[i].item.rc), c->errmsg);
        assert_int_equal(1, orm_result_rows(&bs[i].res));
    }
    assert_string_equal("taken", orm_result_cell(&bs[1].res, 0, 1, NULL));
    assert_string_equal("1", orm_result_cell(&bs[2].res, 0, 0, NULL));
    scalar(other, "SELECT last_value FROM usv_batch_reads", v, sizeof(v));
    assert_string_equal("1", v);                    /* the read ran once */
    scalar(other, "SELECT string_agg(login, ',' ORDER BY login) FROM users", v, sizeof(v));
    assert_string_equal("hugo,ida,taken", v);
    assert_false(c->is_broken);
    exec_ok(other, "DROP SEQUENCE usv_batch_reads");
    batch_finish(bs, 5);
    be->close(c);
    be->close(other);
}

static void
test_pg_batch_on_a_connection_the_server_dropped_while_idle_is_revived(void **state)
{
    struct orm_conn *a = connect_to(db_url), *b = connect_to(db_url);
    struct batch_stmt bs[3];
    char pid[32], pid2[32], v[32];

    users_table_empty(a);
    exec_ok(a, "INSERT INTO users (login, created_at, updated_at) VALUES ('dora', now(), now())");
    prepare_users(a, BATCH_FIND, ORM_OP_FIND, 1);
    prepare_users(a, BATCH_INSERT, ORM_OP_INSERT_RETURNING, 5);
    terminate(a, b, pid, sizeof(pid));

    batch_find_init(&bs[0], 1);
    batch_insert_init(&bs[1], "emil");
    batch_find_init(&bs[2], 1);
    run_batch(a, bs, 3);
    for (size_t i = 0; i < 3; i++) {
        if (bs[i].item.rc != USV_OK)
            fail_msg("item %zu: %s (%s)", i, usv_err_name(bs[i].item.rc), a->errmsg);
        assert_int_equal(1, orm_result_rows(&bs[i].res));
    }
    assert_string_equal("dora", orm_result_cell(&bs[0].res, 0, 1, NULL));
    assert_string_equal("emil", orm_result_cell(&bs[1].res, 0, 1, NULL));
    assert_string_equal("dora", orm_result_cell(&bs[2].res, 0, 1, NULL));
    assert_false(a->is_broken);
    scalar(a, "SELECT pg_backend_pid()", pid2, sizeof(pid2));
    assert_string_not_equal(pid, pid2);      /* a new server session */
    scalar(b, "SELECT count(*) FROM users WHERE login = 'emil'", v, sizeof(v));
    assert_string_equal("1", v);
    batch_finish(bs, 3);
    be->close(a);
    be->close(b);
}

static void
test_pg_batch_whose_session_dies_in_the_pipeline_fails_every_item_and_is_broken(void **state)
{
    struct orm_conn *c = connect_to(db_url), *other = connect_to(db_url);
    struct batch_stmt bs[3];
    char v[32];

    users_table_empty(c);
    prepare_users(c, BATCH_INSERT, ORM_OP_INSERT_RETURNING, 5);
    /* The server ends the session while the pipeline runs. */
    assert_int_equal(USV_OK, orm_conn_prepare(c, BATCH_SUICIDE,
                                              "SELECT pg_terminate_backend(pg_backend_pid())", 0));
    batch_insert_init(&bs[0], "fred");
    memset(&bs[1], 0, sizeof(bs[1]));
    orm_result_init(&bs[1].res, 1);
    bs[1].item = (struct orm_batch_item){.id = BATCH_SUICIDE, .res = &bs[1].res,
                                         .rc = USV_INTERNAL};
    batch_insert_init(&bs[2], "gert");
    run_batch(c, bs, 3);

    for (size_t i = 0; i < 3; i++) {
        if (bs[i].item.rc != USV_UNAVAILABLE)
            fail_msg("item %zu: %s, expected UNAVAILABLE (%s)", i,
                     usv_err_name(bs[i].item.rc), c->errmsg);
    }
    assert_true(c->is_broken);
    /* The work's outcome is the server's: it rolled the lot back, and the
     * backend did not run anything again on a new session. */
    scalar(other, "SELECT count(*) FROM users", v, sizeof(v));
    assert_string_equal("0", v);
    batch_finish(bs, 3);
    be->close(c);
    be->close(other);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pg_accepts_both_uri_schemes_only),
        cmocka_unit_test(test_pg_open_errors_never_show_the_password),
        cmocka_unit_test(test_pg_wrong_password_is_unavailable),
        cmocka_unit_test(test_pg_session_is_utf8_and_utc_whatever_the_url_says),
        cmocka_unit_test(test_pg_notices_never_reach_stderr),
        cmocka_unit_test(test_pg_unique_violation_is_conflict),
        cmocka_unit_test(test_pg_serialization_failure_is_retry),
        cmocka_unit_test(test_pg_deadlock_is_retry_and_other_errors_internal),
        cmocka_unit_test(test_pg_connection_lost_in_a_transaction_is_broken_and_unavailable),
        cmocka_unit_test(test_pg_connection_lost_holding_the_migration_lock_is_not_revived),
        cmocka_unit_test(test_pg_statement_is_prepared_once_and_executed_many_times),
        cmocka_unit_test(test_pg_text_params_round_trip_byte_for_byte),
        cmocka_unit_test(test_pg_timestamps_come_back_in_canonical_form),
        cmocka_unit_test(test_pg_nocase_equals_folds_ascii_only),
        cmocka_unit_test(test_pg_stale_prepared_statement_is_replanned_or_retried),
        cmocka_unit_test(test_pg_idle_connection_the_server_dropped_is_revived),
        cmocka_unit_test(test_pg_commit_of_a_failed_transaction_is_not_success),
        cmocka_unit_test(test_pg_migration_lock_is_exclusive_and_bounded),
        cmocka_unit_test(test_pg_orm_retries_a_serialization_failure),
        cmocka_unit_test(test_pg_batch_of_finds_returns_each_its_own_row),
        cmocka_unit_test(test_pg_batch_duplicate_login_fails_only_the_duplicate),
        cmocka_unit_test(test_pg_batch_failed_write_leaves_the_reads_alone),
        cmocka_unit_test(test_pg_batch_on_a_connection_the_server_dropped_while_idle_is_revived),
        cmocka_unit_test(
            test_pg_batch_whose_session_dies_in_the_pipeline_fails_every_item_and_is_broken),
    };

    admin_url = getenv("USERSVC_TEST_PG_URL");
    if (admin_url == NULL || admin_url[0] == '\0') {
        printf("1..0 # SKIP USERSVC_TEST_PG_URL not set\n");
        return 77;
    }
    json_object_seed(0);
    return cmocka_run_group_tests_name("pg_backend", tests, group_setup, group_teardown);
}
