/* SPDX-License-Identifier: MIT
 * test_mysql_options.c - the MySQL backend before it reaches a server:
 * which URLs it takes, how it reads their options, what its dialect hooks
 * write, and that no error it gives back contains the password.
 * Needs no server (connection attempts go to a closed port). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "orm/orm_int.h"

/* No bounds: what the driver does by itself. */
static const struct orm_limits test_limits = {0};

#define SECRET "S3cretPw"

static const struct orm_backend *
backend(void)
{
    const struct orm_backend *be = orm_backend_for("mysql://localhost/db");

    assert_non_null(be);
    assert_string_equal(be->name, "mysql");
    return be;
}

/* open() must fail with @want and an error containing @fragment but not SECRET. */
static void
open_fails(const char *url, enum usv_err want, const char *fragment)
{
    struct orm_conn *c = NULL;
    char err[256] = "";
    enum usv_err rc = orm_connect_url(url, &test_limits, &c, err, sizeof(err));

    if (rc != want)
        fail_msg("open(%s): expected %s, got %s (%s)", url, usv_err_name(want),
                 usv_err_name(rc), err);
    assert_null(c);
    if (fragment != NULL && strstr(err, fragment) == NULL)
        fail_msg("open(%s): error '%s' does not mention '%s'", url, err, fragment);
    if (strstr(err, SECRET) != NULL)
        fail_msg("open(%s): error leaks the password: %s", url, err);
}

static void
test_mysql_accepts_its_schemes_only(void **state)
{
    const struct orm_backend *be = backend();

    assert_true(be->accepts("mysql"));
    assert_true(be->accepts("mariadb"));
    assert_false(be->accepts("mysqlx"));
    assert_false(be->accepts("postgres"));
    assert_false(be->accepts("sqlite"));
    assert_ptr_equal(orm_backend_for("mariadb://h/db"), be);
    assert_ptr_equal(orm_backend_for("MySQL://h/db"), be);
    assert_null(orm_backend_for("mysqlx://h/db"));
    assert_null(orm_backend_for("mysql:/h/db"));
}

static void
test_mysql_vtable_constants(void **state)
{
    const struct orm_backend *be = backend();

    assert_int_equal(be->default_pool_size, 16);
    assert_false(be->has_transactional_ddl);
    assert_false(be->has_returning);
    assert_string_equal(be->lock_suffix, " FOR UPDATE");
}

static void
test_mysql_dialect_hooks(void **state)
{
    const struct orm_backend *be = backend();
    const struct orm_column login = {.name = "login", .type = ORM_TEXT, .flags = ORM_NOCASE};
    const struct orm_column id = {.name = "id", .type = ORM_INT64};
    const struct orm_column created = {.name = "created_at", .type = ORM_TIMESTAMP};
    struct strbuf b;

    strbuf_init(&b);
    be->placeholder(&b, 1, ORM_TEXT);
    be->placeholder(&b, 2, ORM_INT64);
    assert_string_equal(strbuf_str(&b), "??");
    strbuf_reset(&b);
    be->placeholder(&b, 3, ORM_TIMESTAMP);
    assert_string_equal(strbuf_str(&b), "STR_TO_DATE(?, '%Y-%m-%dT%H:%i:%s.%fZ')");
    strbuf_reset(&b);
    /* Timestamps are selected bare and formatted by the backend (issue #6). */
    be->select_column(&b, &created);
    assert_string_equal(strbuf_str(&b), "created_at");
    strbuf_reset(&b);
    be->select_column(&b, &login);
    assert_string_equal(strbuf_str(&b), "login");
    strbuf_reset(&b);
    be->equals(&b, &login, 1);
    assert_string_equal(strbuf_str(&b), "login = ?");
    strbuf_reset(&b);
    be->equals(&b, &id, 1);
    assert_string_equal(strbuf_str(&b), "id = ?");
    strbuf_finish(&b);
}

static void
test_mysql_rejects_unknown_options(void **state)
{
    open_fails("mysql://bob:" SECRET "@127.0.0.1:1/db?sslmode=REQUIRED", USV_BAD_REQUEST,
               "'sslmode'");
    open_fails("mysql://bob:" SECRET "@127.0.0.1:1/db?ssl-mod=REQUIRED", USV_BAD_REQUEST,
               "unknown");
    /* A key that is not a plain name may be a piece of a password: not quoted. */
    open_fails("mysql://bob@127.0.0.1:1/db?" SECRET "=1", USV_BAD_REQUEST, "unknown");
}

static void
test_mysql_option_values_are_checked(void **state)
{
    open_fails("mysql://bob:" SECRET "@127.0.0.1:1/db?ssl-mode=SOMETIMES", USV_BAD_REQUEST,
               "ssl-mode");
    open_fails("mysql://bob:" SECRET "@127.0.0.1:1/db?connect-timeout=0", USV_BAD_REQUEST,
               "connect-timeout");
    open_fails("mysql://bob:" SECRET "@127.0.0.1:1/db?read-timeout=abc", USV_BAD_REQUEST,
               "read-timeout");
    open_fails("mysql://bob:" SECRET "@127.0.0.1:1/db?write-timeout=86401", USV_BAD_REQUEST,
               "write-timeout");
    open_fails("mysql://bob:" SECRET "@127.0.0.1:1/db?ssl-mode=DISABLED&ssl-ca=/x.pem",
               USV_BAD_REQUEST, "DISABLED");
    open_fails("mysql://bob:" SECRET "@db.example.com/db?socket=/tmp/x.sock", USV_BAD_REQUEST,
               "socket");
    open_fails("mysql://bob:" SECRET "@127.0.0.1:1/a/b", USV_BAD_REQUEST, "database name");
}

static void
test_mysql_bad_url_is_reported_without_password(void **state)
{
    open_fails("mysql://bob:" SECRET "@x@127.0.0.1/db", USV_BAD_REQUEST, "bad DATABASE_URL");
    open_fails("mysql://bob:" SECRET "/x@127.0.0.1/db", USV_BAD_REQUEST, "port");
    open_fails("mysql://bob:" SECRET "#x@127.0.0.1/db", USV_BAD_REQUEST, "%23");
}

static void
test_mysql_option_spellings_are_accepted(void **state)
{
    /* Valid options (with '_' for '-' and any case for the mode): the
     * failure must be the closed port, not the options. */
    open_fails("mysql://bob:" SECRET "@127.0.0.1:1/db?ssl_mode=required&connect_timeout=2"
               "&read-timeout=60&write_timeout=60",
               USV_UNAVAILABLE, "127.0.0.1:1");
    open_fails("mysql://bob:" SECRET "@127.0.0.1:1/db?ssl-mode=PREFERRED", USV_UNAVAILABLE,
               "cannot connect");
}

static void
test_mysql_unreachable_server_is_unavailable(void **state)
{
    open_fails("mysql://bob:" SECRET "@127.0.0.1:1/db?connect-timeout=2", USV_UNAVAILABLE,
               "127.0.0.1:1");
    open_fails("mysql://bob:" SECRET "@[::1]:1/db?connect-timeout=2", USV_UNAVAILABLE,
               "[::1]:1");
    open_fails("mysql://bob:" SECRET "@localhost/db?socket=/nonexistent/usersvc.sock",
               USV_UNAVAILABLE, "/nonexistent/usersvc.sock");
    open_fails("mysql://bob:" SECRET "@/db?socket=%2Fnonexistent%2Fx.sock", USV_UNAVAILABLE,
               "socket /nonexistent/x.sock");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mysql_accepts_its_schemes_only),
        cmocka_unit_test(test_mysql_vtable_constants),
        cmocka_unit_test(test_mysql_dialect_hooks),
        cmocka_unit_test(test_mysql_rejects_unknown_options),
        cmocka_unit_test(test_mysql_option_values_are_checked),
        cmocka_unit_test(test_mysql_bad_url_is_reported_without_password),
        cmocka_unit_test(test_mysql_option_spellings_are_accepted),
        cmocka_unit_test(test_mysql_unreachable_server_is_unavailable),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
