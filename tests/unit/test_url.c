/* SPDX-License-Identifier: MIT
 * test_url.c - orm/url.c: the database URL parser, fed odd inputs.
 *
 * Besides the grammar in url.h, every failing case checks the one promise
 * that matters most: the error message never repeats the password. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "orm/url.h"

#define DEFAULT_PORT 3306

/* Parse @text, expecting success; the caller calls url_finish(). */
static void
parse_ok(const char *text, struct url *u)
{
    char err[256] = "";

    if (!url_parse(text, DEFAULT_PORT, u, err, sizeof(err)))
        fail_msg("'%s' should parse, got: %s", text, err);
}

/* Parse @text, expecting failure with a message containing @fragment (may
 * be NULL) and none of @secret (may be NULL). */
static void
parse_fails(const char *text, const char *fragment, const char *secret)
{
    char err[256] = "";
    struct url u;

    if (url_parse(text, DEFAULT_PORT, &u, err, sizeof(err))) {
        url_finish(&u);
        fail_msg("'%s' should not parse", text);
    }
    assert_true(strlen(err) > 0);
    if (fragment != NULL && strstr(err, fragment) == NULL)
        fail_msg("error for '%s' is '%s', expected it to mention '%s'", text, err, fragment);
    if (secret != NULL && strstr(err, secret) != NULL)
        fail_msg("error for '%s' leaks '%s': %s", text, secret, err);
    /* Left empty on failure, so url_finish() is harmless. */
    assert_null(u.scheme);
    assert_null(u.params);
    url_finish(&u);
}

static void
test_url_parses_every_part(void **state)
{
    struct url u;

    parse_ok("mysql://alice:s3cret@db.example.com:3307/users?socket=/tmp/x.sock", &u);
    assert_string_equal(u.scheme, "mysql");
    assert_string_equal(u.user, "alice");
    assert_string_equal(u.password, "s3cret");
    assert_string_equal(u.host, "db.example.com");
    assert_int_equal(u.port, 3307);
    assert_true(u.has_port);
    assert_string_equal(u.path, "users");
    assert_int_equal(u.n_params, 1);
    assert_string_equal(url_param(&u, "socket"), "/tmp/x.sock");
    assert_null(url_param(&u, "ssl-mode"));
    url_finish(&u);
}

static void
test_url_default_port_when_absent_or_empty(void **state)
{
    struct url u;

    parse_ok("mysql://h/db", &u);
    assert_int_equal(u.port, DEFAULT_PORT);
    assert_false(u.has_port);
    url_finish(&u);
    /* RFC 3986 3.2.3: an empty port is the default one. */
    parse_ok("mysql://h:/db", &u);
    assert_int_equal(u.port, DEFAULT_PORT);
    assert_false(u.has_port);
    url_finish(&u);
}

static void
test_url_port_range_and_leading_zeros(void **state)
{
    struct url u;

    parse_ok("mysql://h:65535", &u);
    assert_int_equal(u.port, 65535);
    url_finish(&u);
    parse_ok("mysql://h:1", &u);
    assert_int_equal(u.port, 1);
    url_finish(&u);
    parse_ok("mysql://h:03306/db", &u);
    assert_int_equal(u.port, 3306);
    url_finish(&u);
}

static void
test_url_rejects_bad_ports(void **state)
{
    static const char *const bad[] = {
        "mysql://h:0/db",
        "mysql://h:65536/db",
        "mysql://h:99999999999999999999/db",
        "mysql://h:-1/db",
        "mysql://h:+1/db",
        "mysql://h:abc/db",
        "mysql://h:3306x/db",
        "mysql://h:33 06/db",
        "mysql://h:3306:3307/db",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        parse_fails(bad[i], NULL, NULL);
    parse_fails("mysql://h:0/db", "port", NULL);
    parse_fails("mysql://h:70000/db", "port", NULL);
}

static void
test_url_decodes_percent_escapes_in_password(void **state)
{
    struct url u;

    /* %40 @, %3A :, %2F /, %3F ?, %23 #, %25 %, %26 &, %20 space. */
    parse_ok("mysql://bob:p%40ss%3Aw%2Fo%3Fr%23d%25%26%20x@h/db", &u);
    assert_string_equal(u.user, "bob");
    assert_string_equal(u.password, "p@ss:w/o?r#d%& x");
    assert_string_equal(u.host, "h");
    url_finish(&u);
    /* Lower-case hex digits too. */
    parse_ok("mysql://bob:%3a%2f@h", &u);
    assert_string_equal(u.password, ":/");
    url_finish(&u);
}

static void
test_url_plus_is_not_a_space(void **state)
{
    struct url u;

    parse_ok("mysql://bob:a+b@h/d+b?socket=/tmp/a+b", &u);
    assert_string_equal(u.password, "a+b");
    assert_string_equal(u.path, "d+b");
    assert_string_equal(url_param(&u, "socket"), "/tmp/a+b");
    url_finish(&u);
}

static void
test_url_raw_colon_belongs_to_the_password(void **state)
{
    struct url u;

    parse_ok("mysql://bob:a:b:c@h", &u);
    assert_string_equal(u.user, "bob");
    assert_string_equal(u.password, "a:b:c");
    url_finish(&u);
    /* An escaped colon in the user name stays in the user name. */
    parse_ok("mysql://a%3Ab:pw@h", &u);
    assert_string_equal(u.user, "a:b");
    assert_string_equal(u.password, "pw");
    url_finish(&u);
}

static void
test_url_empty_and_missing_password(void **state)
{
    struct url u;

    parse_ok("mysql://bob:@h/db", &u);
    assert_string_equal(u.user, "bob");
    assert_non_null(u.password);
    assert_string_equal(u.password, "");
    url_finish(&u);
    parse_ok("mysql://bob@h/db", &u);
    assert_string_equal(u.user, "bob");
    assert_null(u.password);
    url_finish(&u);
}

static void
test_url_without_user(void **state)
{
    struct url u;

    parse_ok("mysql://h/db", &u);
    assert_null(u.user);
    assert_null(u.password);
    assert_string_equal(u.host, "h");
    url_finish(&u);
}

static void
test_url_rejects_empty_user(void **state)
{
    parse_fails("mysql://@h/db", "user", NULL);
    parse_fails("mysql://:SECRETPW@h/db", "user", "SECRETPW");
}

static void
test_url_raw_at_sign_in_password_is_an_error(void **state)
{
    /* Userinfo ends at the first '@'; the rest is not a valid host. */
    parse_fails("mysql://bob:SECRET@PW@h/db", "%40", "PW");
}

static void
test_url_ipv6_hosts(void **state)
{
    struct url u;

    parse_ok("mysql://bob:pw@[::1]:3307/db", &u);
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 3307);
    assert_string_equal(u.path, "db");
    url_finish(&u);
    parse_ok("mysql://[2001:db8::1]/db", &u);
    assert_string_equal(u.host, "2001:db8::1");
    assert_int_equal(u.port, DEFAULT_PORT);
    url_finish(&u);
    parse_ok("mysql://[::ffff:192.0.2.1]", &u);
    assert_string_equal(u.host, "::ffff:192.0.2.1");
    assert_null(u.path);
    url_finish(&u);
    /* RFC 6874 zone identifier, "%25" in the URL. */
    parse_ok("mysql://[fe80::1%25eth0]:3306/db", &u);
    assert_string_equal(u.host, "fe80::1%eth0");
    url_finish(&u);
}

static void
test_url_rejects_bad_ipv6_hosts(void **state)
{
    static const char *const bad[] = {
        "mysql://[::1/db",
        "mysql://[::1]x/db",
        "mysql://[]/db",
        "mysql://[1.2.3.4]/db",
        "mysql://[gg::1]/db",
        "mysql://[fe80::1%eth0]/db",
        "mysql://[fe80::1%25]/db",
        "mysql://::1/db",
        "mysql://h]/db",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        parse_fails(bad[i], NULL, NULL);
}

static void
test_url_host_forms(void **state)
{
    struct url u;

    parse_ok("mysql://127.0.0.1:3306/db", &u);
    assert_string_equal(u.host, "127.0.0.1");
    url_finish(&u);
    parse_ok("mysql://db_1.internal-net~x/db", &u);
    assert_string_equal(u.host, "db_1.internal-net~x");
    url_finish(&u);
    /* An empty host: the driver's local default (a socket). */
    parse_ok("mysql:///db?socket=/run/mysqld/mysqld.sock", &u);
    assert_string_equal(u.host, "");
    assert_string_equal(u.path, "db");
    assert_string_equal(url_param(&u, "socket"), "/run/mysqld/mysqld.sock");
    url_finish(&u);
    parse_ok("mysql://bob:pw@/db", &u);
    assert_string_equal(u.host, "");
    assert_string_equal(u.user, "bob");
    url_finish(&u);
}

static void
test_url_rejects_odd_host_characters(void **state)
{
    parse_fails("mysql://ho$t/db", "host", NULL);
    parse_fails("mysql://h%41/db", "host", NULL);
    parse_fails("mysql://h=1;user=x/db", "host", NULL);
    parse_fails("mysql://h\xc3\xa9/db", NULL, NULL);
}

static void
test_url_scheme(void **state)
{
    struct url u;

    parse_ok("MySQL://h", &u);
    assert_string_equal(u.scheme, "mysql");
    assert_null(u.path);
    url_finish(&u);
    parse_ok("mariadb://h", &u);
    assert_string_equal(u.scheme, "mariadb");
    url_finish(&u);
    parse_fails("mysql:/h/db", "://", NULL);
    parse_fails("mysql:h/db", "://", NULL);
    parse_fails("://h/db", "scheme", NULL);
    parse_fails("1mysql://h/db", "scheme", NULL);
    parse_fails("mysql", "://", NULL);
    parse_fails("", "scheme", NULL);
}

static void
test_url_path(void **state)
{
    struct url u;

    parse_ok("mysql://h/", &u);
    assert_null(u.path);
    url_finish(&u);
    parse_ok("mysql://h/my%20db", &u);
    assert_string_equal(u.path, "my db");
    url_finish(&u);
    /* The parser returns what is there; backends judge it. */
    parse_ok("mysql://h/a/b", &u);
    assert_string_equal(u.path, "a/b");
    url_finish(&u);
    parse_ok("mysql://h?socket=/x", &u);
    assert_null(u.path);
    assert_string_equal(url_param(&u, "socket"), "/x");
    url_finish(&u);
}

static void
test_url_rejects_bad_escapes(void **state)
{
    parse_fails("mysql://bob:SECRET%4@h/db", "password", "SECRET");
    parse_fails("mysql://bob:SECRET%zz@h/db", "password", "SECRET");
    parse_fails("mysql://bob:SECRET%@h/db", "password", "SECRET");
    parse_fails("mysql://bob:SECRET%00x@h/db", "password", "SECRET");
    parse_fails("mysql://b%g0b:pw@h/db", "user", NULL);
    parse_fails("mysql://h/db%2", "path", NULL);
    parse_fails("mysql://h/a%00b", "path", NULL);
    parse_fails("mysql://h/db?socket=%2", "escape", NULL);
    parse_fails("mysql://h/db?so%zzcket=x", "escape", NULL);
}

static void
test_url_rejects_trailing_garbage(void **state)
{
    parse_fails("mysql://h/db extra", "space", NULL);
    parse_fails("mysql://h/db\n", "control", NULL);
    parse_fails("mysql://h/db\t", "control", NULL);
    parse_fails(" mysql://h/db", "space", NULL);
    parse_fails("mysql://h/db#frag", "fragment", NULL);
    parse_fails("mysql://h/db\x7f", "control", NULL);
}

static void
test_url_query_parameters(void **state)
{
    struct url u;

    parse_ok("mysql://h/db?socket=%2Ftmp%2Fmy%20sock&ssl-mode=REQUIRED", &u);
    assert_int_equal(u.n_params, 2);
    assert_string_equal(u.params[0].key, "socket");
    assert_string_equal(u.params[0].value, "/tmp/my sock");
    assert_string_equal(url_param(&u, "ssl-mode"), "REQUIRED");
    url_finish(&u);
    /* Empty pairs are nothing, not errors. */
    parse_ok("mysql://h/db?a=1&&b=2&", &u);
    assert_int_equal(u.n_params, 2);
    assert_string_equal(url_param(&u, "a"), "1");
    assert_string_equal(url_param(&u, "b"), "2");
    url_finish(&u);
    parse_ok("mysql://h/db?", &u);
    assert_int_equal(u.n_params, 0);
    url_finish(&u);
    /* A value may contain '=' (only the first one splits). */
    parse_ok("mysql://h/db?k=a=b", &u);
    assert_string_equal(url_param(&u, "k"), "a=b");
    url_finish(&u);
}

static void
test_url_rejects_bad_query_parameters(void **state)
{
    parse_fails("mysql://h/db?socket", "key=value", NULL);
    parse_fails("mysql://h/db?=x", "key=value", NULL);
    parse_fails("mysql://h/db?socket=", "key=value", NULL);
    parse_fails("mysql://h/db?ssl-mode=REQUIRED&ssl-mode=DISABLED", "twice", NULL);
    /* The same key, once escaped: still the same key. */
    parse_fails("mysql://h/db?a=1&%61=2", "twice", NULL);
}

static void
test_url_unescaped_reserved_characters_in_password(void **state)
{
    /* A '/', '?' or '#' typed raw in a password cuts the URL in the wrong
     * place. Whatever part then fails, the message must not quote it. */
    static const char *const bad[] = {
        "mysql://bob:SEC/RETPW@h/db",
        "mysql://bob:SEC?RETPW@h/db",
        "mysql://bob:SEC#RETPW@h/db",
        "mysql://bob:SEC RETPW@h/db",
        "mysql://bob:SECRETPW@h:SECRETPW/db",
        "mysql://SECRETPW@h:x/db",
        "mysql://bob:SECRETPW@[SECRETPW]/db",
        "mysql://bob:SECRETPW@h/db?SECRETPW",
        "mysql://bob:SECRETPW@h/db?x=%SECRETPW",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        parse_fails(bad[i], NULL, "SEC");
        parse_fails(bad[i], NULL, "RETPW");
    }
}

static void
test_url_raw_utf8_passes_through(void **state)
{
    struct url u;

    parse_ok("mysql://bob:p\xc3\xa4ss@h/d\xc3\xa9", &u);
    assert_string_equal(u.password, "p\xc3\xa4ss");
    assert_string_equal(u.path, "d\xc3\xa9");
    url_finish(&u);
    parse_ok("mysql://bob:p%C3%A4ss@h", &u);
    assert_string_equal(u.password, "p\xc3\xa4ss");
    url_finish(&u);
}

static void
test_url_long_password(void **state)
{
    char text[2200], pw[2001];
    struct url u;

    memset(pw, 'x', sizeof(pw) - 1);
    pw[sizeof(pw) - 1] = '\0';
    snprintf(text, sizeof(text), "mysql://bob:%s@h/db", pw);
    parse_ok(text, &u);
    assert_string_equal(u.password, pw);
    url_finish(&u);
}

static void
test_url_finish_accepts_null_and_twice(void **state)
{
    struct url u;

    url_finish(NULL);
    parse_ok("mysql://bob:pw@h/db?a=1", &u);
    url_finish(&u);
    url_finish(&u);
    assert_null(u.user);
}

/* ---- DATABASE_URL: one parser, one redactor (issue 14) -------------------- */

/* A parse case: what url_parse_database() makes of @text. NULL strings are
 * "absent"; @err (for a failure) is a fragment the message must contain and
 * @secret what it must never contain. */
struct parse_case {
    const char *text;
    bool ok;
    const char *scheme, *user, *password, *host;
    unsigned port;
    size_t n_hosts;
    const char *path;
    const char *err, *secret;
};

static void
expect_str(const char *text, const char *what, const char *want, const char *got)
{
    if (want == NULL && got == NULL)
        return;
    if (want == NULL || got == NULL || strcmp(want, got) != 0)
        fail_msg("'%s': %s is '%s', expected '%s'", text, what, got != NULL ? got : "(null)",
                 want != NULL ? want : "(null)");
}

static void
test_url_database_urls_parse_as_the_table_says(void **state)
{
    static const struct parse_case cases[] = {
        {"postgres://alice:s3cret@db.example:5432/app?sslmode=require", true, "postgres",
         "alice", "s3cret", "db.example", 5432, 1, "app", NULL, NULL},
        {"postgresql://alice@db.example/app", true, "postgresql", "alice", NULL, "db.example",
         5432, 1, "app", NULL, NULL},
        {"mysql://root:hunter2@127.0.0.1/users", true, "mysql", "root", "hunter2",
         "127.0.0.1", 3306, 1, "users", NULL, NULL},
        {"MariaDB://root@h:3307/db", true, "mariadb", "root", NULL, "h", 3307, 1, "db", NULL,
         NULL},
        /* ':' in a password is the password's; '@' must be %40. */
        {"mysql://root:a:b:c@db/users", true, "mysql", "root", "a:b:c", "db", 3306, 1, "users",
         NULL, NULL},
        {"postgres://u:p%40ss%3Aw%2F@h/db", true, "postgres", "u", "p@ss:w/", "h", 5432, 1,
         "db", NULL, NULL},
        {"postgres://u:p@ssw0rd@h/db", false, NULL, NULL, NULL, NULL, 0, 0, NULL, "%40",
         "ssw0rd"},
        {"postgres://u:s3cr#t@h/db", false, NULL, NULL, NULL, NULL, 0, 0, NULL, "%23", "s3cr"},
        {"postgres://u:s3cr%zzt@h/db", false, NULL, NULL, NULL, NULL, 0, 0, NULL, "escape",
         "s3cr"},
        /* IPv6, with and without a port; a host list (libpq's multi-host form). */
        {"postgres://[::1]:5433/db", true, "postgres", NULL, NULL, "::1", 5433, 1, "db", NULL,
         NULL},
        {"mysql://u:pw@[fe80::1%25eth0]/db", true, "mysql", "u", "pw", "fe80::1%eth0", 3306, 1,
         "db", NULL, NULL},
        {"postgres://app:secret@db1:5432,db2:5433,[::1]/users?target_session_attrs=read-write",
         true, "postgres", "app", "secret", "db1", 5432, 3, "users", NULL, NULL},
        {"postgres://h1,,h2/db", false, NULL, NULL, NULL, NULL, 0, 0, NULL, "empty", NULL},
        {"postgres://u:pw@,h2/db", false, NULL, NULL, NULL, NULL, 0, 0, NULL, "empty", "pw"},
        {"postgres://h1,:5433/db", false, NULL, NULL, NULL, NULL, 0, 0, NULL, "empty", NULL},
        {"postgres://h1,/db", false, NULL, NULL, NULL, NULL, 0, 0, NULL, "empty", NULL},
        {"postgres://h:99999/db", false, NULL, NULL, NULL, NULL, 0, 0, NULL, "port", NULL},
        {"postgres://u:pw@h:abc/db", false, NULL, NULL, NULL, NULL, 0, 0, NULL, "port", "pw@"},
        /* Query options, percent-encoded keys included. */
        {"postgres://u@h/db?sslpassword=k3y&password=s3cret", true, "postgres", "u", NULL, "h",
         5432, 1, "db", NULL, NULL},
        {"postgres://u@h/db?password=a&password=b", false, NULL, NULL, NULL, NULL, 0, 0, NULL,
         "twice", NULL},
        /* SQLite: a path, taken as written. */
        {"sqlite:usersvc.db", true, "sqlite", NULL, NULL, "", 0, 0, "usersvc.db", NULL, NULL},
        {"sqlite::memory:", true, "sqlite", NULL, NULL, "", 0, 0, ":memory:", NULL, NULL},
        {"sqlite:/var/lib/usersvc/a b.db", true, "sqlite", NULL, NULL, "", 0, 0,
         "/var/lib/usersvc/a b.db", NULL, NULL},
        {"sqlite:", false, NULL, NULL, NULL, NULL, 0, 0, NULL, "path", NULL},
        {"postgres:/h/db", false, NULL, NULL, NULL, NULL, 0, 0, NULL, "://", NULL},
        {"", false, NULL, NULL, NULL, NULL, 0, 0, NULL, "scheme", NULL},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct parse_case *c = &cases[i];
        char err[256] = "";
        struct url u;
        bool ok = url_parse_database(c->text, &u, err, sizeof(err));

        if (ok != c->ok)
            fail_msg("'%s' %s (%s)", c->text, ok ? "parsed" : "did not parse", err);
        if (!ok) {
            if (c->err != NULL && strstr(err, c->err) == NULL)
                fail_msg("error for '%s' is '%s', expected it to mention '%s'", c->text, err,
                         c->err);
            if (c->secret != NULL && strstr(err, c->secret) != NULL)
                fail_msg("error for '%s' shows '%s': %s", c->text, c->secret, err);
            continue;
        }
        expect_str(c->text, "scheme", c->scheme, u.scheme);
        expect_str(c->text, "user", c->user, u.user);
        expect_str(c->text, "password", c->password, u.password);
        expect_str(c->text, "host", c->host, u.host);
        expect_str(c->text, "path", c->path, u.path);
        if (u.port != c->port || u.n_hosts != c->n_hosts)
            fail_msg("'%s': port %u with %zu hosts, expected %u with %zu", c->text, u.port,
                     u.n_hosts, c->port, c->n_hosts);
        url_finish(&u);
    }
}

static void
test_url_host_lists_keep_each_port(void **state)
{
    struct url u;
    char err[256] = "";

    assert_true(url_parse_database("postgres://db1,db2:6000,[::1]:7000/x", &u, err,
                                   sizeof(err)));
    assert_int_equal(3, u.n_hosts);
    assert_string_equal("db1", u.hosts[0].host);
    assert_int_equal(5432, u.hosts[0].port);
    assert_false(u.hosts[0].has_port);
    assert_string_equal("db2", u.hosts[1].host);
    assert_int_equal(6000, u.hosts[1].port);
    assert_true(u.hosts[1].has_port);
    assert_string_equal("::1", u.hosts[2].host);
    assert_int_equal(7000, u.hosts[2].port);
    url_finish(&u);
}

static void
test_url_copy_is_deep(void **state)
{
    struct url u, copy;
    char err[256] = "";

    assert_true(url_parse_database("postgres://u:pw@a,b:2/db?sslmode=require", &u, err,
                                   sizeof(err)));
    url_copy(&copy, &u);
    url_finish(&u);
    assert_string_equal("pw", copy.password);
    assert_string_equal("b", copy.hosts[1].host);
    assert_string_equal("require", url_param(&copy, "sslmode"));
    url_finish(&copy);
}

/* Every log line that shows a URL shows url_redact()'s text. */
static void
test_url_redact_hides_every_password_form(void **state)
{
    static const char *const cases[][2] = {
        {"postgres://alice:s3cret@db.example:5432/app?sslmode=require",
         "postgres://alice:***@db.example:5432/app?sslmode=require"},
        {"postgresql://alice:s3cret@db.example/app", "postgresql://alice:***@db.example/app"},
        {"mysql://root:hunter2@127.0.0.1:3306/users", "mysql://root:***@127.0.0.1:3306/users"},
        {"mysql://root:a:b:c@db/users", "mysql://root:***@db/users"},
        /* Malformed: a raw '@', '?', '#' or '/' in the password. */
        {"postgres://u:p@ss@h/db", "postgres://u:***@h/db"},
        {"postgres://alice:p?w#d@db.example/app", "postgres://alice:***@db.example/app"},
        {"postgres://alice:p/w@db.example/app", "postgres://alice:***@db.example/app"},
        {"postgres://alice:p%40w@db/app", "postgres://alice:***@db/app"},
        {"postgres://u:s3cret@h1:1,h2:2/db", "postgres://u:***@h1:1,h2:2/db"},
        /* Query keys naming a secret, percent-encoded or not, any case. */
        {"postgres://alice@db.example/app?password=s3cret&sslmode=require",
         "postgres://alice@db.example/app?password=***&sslmode=require"},
        {"postgres://alice@db/app?sslmode=require&sslpassword=k3y",
         "postgres://alice@db/app?sslmode=require&sslpassword=***"},
        {"postgres://alice@db/app?passw%6Frd=s3cret", "postgres://alice@db/app?passw%6Frd=***"},
        {"postgres://alice@db/app?PASSWORD=s3cret", "postgres://alice@db/app?PASSWORD=***"},
        {"postgres://alice@db/app?%70assword=s3cret&x=1",
         "postgres://alice@db/app?%70assword=***&x=1"},
        {"postgres://a:pw@db/app?password=s3cret", "postgres://a:***@db/app?password=***"},
        /* libpq's keyword form, should one ever reach a log. */
        {"host=db password=s3cret user=x", "host=db password=*** user=x"},
        /* Nothing to hide. */
        {"sqlite:usersvc.db", "sqlite:usersvc.db"},
        {"sqlite::memory:", "sqlite::memory:"},
        {"postgres://alice@db.example/app", "postgres://alice@db.example/app"},
        {"postgres://db.example:5432/app", "postgres://db.example:5432/app"},
        {"postgres://[::1]:5432/app?sslmode=require", "postgres://[::1]:5432/app?sslmode=require"},
    };
    char buf[256];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *out = url_redact(cases[i][0], buf, sizeof(buf));

        assert_ptr_equal(buf, out);
        if (strcmp(cases[i][1], out) != 0)
            fail_msg("url_redact('%s') = '%s', expected '%s'", cases[i][0], out, cases[i][1]);
    }
}

static void
test_url_redact_never_leaks_when_truncated(void **state)
{
    char buf[24];

    url_redact("postgres://alice:s3cret@db.example/app", buf, sizeof(buf));
    assert_int_equal(sizeof(buf) - 1, strlen(buf));
    assert_null(strstr(buf, "s3c"));
}

static void
test_url_scrub_removes_the_password_from_messages(void **state)
{
    struct url u;
    char err[256] = "";
    char msg[128] = "could not connect with s3cret (also k3y, s3cret) to db";

    assert_true(url_parse_database("postgres://u:s3cret@db/x?sslpassword=k3y&sslmode=require",
                                   &u, err, sizeof(err)));
    url_scrub(msg, sizeof(msg), &u);
    assert_string_equal("could not connect with *** (also ***, ***) to db", msg);
    url_finish(&u);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_parses_every_part),
        cmocka_unit_test(test_url_default_port_when_absent_or_empty),
        cmocka_unit_test(test_url_port_range_and_leading_zeros),
        cmocka_unit_test(test_url_rejects_bad_ports),
        cmocka_unit_test(test_url_decodes_percent_escapes_in_password),
        cmocka_unit_test(test_url_plus_is_not_a_space),
        cmocka_unit_test(test_url_raw_colon_belongs_to_the_password),
        cmocka_unit_test(test_url_empty_and_missing_password),
        cmocka_unit_test(test_url_without_user),
        cmocka_unit_test(test_url_rejects_empty_user),
        cmocka_unit_test(test_url_raw_at_sign_in_password_is_an_error),
        cmocka_unit_test(test_url_ipv6_hosts),
        cmocka_unit_test(test_url_rejects_bad_ipv6_hosts),
        cmocka_unit_test(test_url_host_forms),
        cmocka_unit_test(test_url_rejects_odd_host_characters),
        cmocka_unit_test(test_url_scheme),
        cmocka_unit_test(test_url_path),
        cmocka_unit_test(test_url_rejects_bad_escapes),
        cmocka_unit_test(test_url_rejects_trailing_garbage),
        cmocka_unit_test(test_url_query_parameters),
        cmocka_unit_test(test_url_rejects_bad_query_parameters),
        cmocka_unit_test(test_url_unescaped_reserved_characters_in_password),
        cmocka_unit_test(test_url_raw_utf8_passes_through),
        cmocka_unit_test(test_url_long_password),
        cmocka_unit_test(test_url_finish_accepts_null_and_twice),
        cmocka_unit_test(test_url_database_urls_parse_as_the_table_says),
        cmocka_unit_test(test_url_host_lists_keep_each_port),
        cmocka_unit_test(test_url_copy_is_deep),
        cmocka_unit_test(test_url_redact_hides_every_password_form),
        cmocka_unit_test(test_url_redact_never_leaks_when_truncated),
        cmocka_unit_test(test_url_scrub_removes_the_password_from_messages),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
