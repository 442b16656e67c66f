/* SPDX-License-Identifier: MIT
 * test_head.c - http/head.c: the request-head rules of API.md "HTTP/1.1
 * strictness", one table row per rule.
 *
 * Each row is a head written as the wire shows it (lines end in CR LF; a
 * line starting with SP or HTAB is a folded continuation), split here the
 * way http/framing.c hands it over (name and value around the first colon,
 * the value trimmed of SP and HTAB), and the status head_check() must give:
 * 0 for accepted, else 400, 414, 501 or 505 (413 for a Content-Length too
 * large for any body). The raw-socket corpus (tests/e2e/http_conformance.py)
 * checks the same rules through the real server; this table pins the
 * function's own verdicts and details, and head_host_ok()'s grammar. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "http/head.h"

#define MAX_FIELDS 16

/* Split @raw into @h (pointing into @raw) and judge it. */
static enum usv_err
judge(const char *raw, struct head_verdict *v)
{
    struct head_field fields[MAX_FIELDS];
    struct head h;
    const char *line = raw, *end, *sp1, *sp2;
    size_t n = 0, spaces = 0;

    memset(&h, 0, sizeof(h));
    end = strstr(line, "\r\n");
    assert_non_null(end);
    sp1 = memchr(line, ' ', (size_t)(end - line));
    assert_non_null(sp1);
    sp2 = sp1;
    for (const char *p = line; p < end; p++) {
        if (*p == ' ') {
            spaces++;
            sp2 = p;
        }
    }
    h.has_bad_spacing = spaces != 2;
    h.method = line;
    h.method_len = (size_t)(sp1 - line);
    h.target = sp1 + 1;
    h.target_len = sp2 > sp1 ? (size_t)(sp2 - sp1 - 1) : 0;
    h.version = sp2 + 1;
    h.version_len = (size_t)(end - sp2 - 1);
    for (line = end + 2; (end = strstr(line, "\r\n")) != NULL && end != line; line = end + 2) {
        const char *colon = memchr(line, ':', (size_t)(end - line));
        const char *value;
        struct head_field *f = &fields[n++];

        assert_true(n <= MAX_FIELDS);
        if (colon == NULL)
            colon = end;
        value = colon < end ? colon + 1 : end;
        while (value < end && (*value == ' ' || *value == '\t'))
            value++;
        f->name = line;
        f->name_len = (size_t)(colon - line);
        f->value = value;
        f->value_len = (size_t)(end - value);
        while (f->value_len > 0 &&
               (value[f->value_len - 1] == ' ' || value[f->value_len - 1] == '\t'))
            f->value_len--;
        f->is_folded = line[0] == ' ' || line[0] == '\t';
    }
    h.fields = fields;
    h.n_fields = n;
    return head_check(&h, v);
}

struct row {
    const char *raw;
    int status;                    /* 0: accepted */
    const char *detail_has;        /* a word the detail must contain, or NULL */
};

#define HOST "Host: a\r\n"

static const struct row rows[] = {
    /* accepted */
    {"GET /healthz HTTP/1.1\r\n" HOST "\r\n", 0, NULL},
    {"GET /healthz HTTP/1.0\r\n\r\n", 0, NULL},
    {"POST /users HTTP/1.1\r\n" HOST "Content-Length: 17\r\n\r\n", 0, NULL},
    {"POST /users HTTP/1.1\r\n" HOST "Transfer-Encoding: chunked\r\n\r\n", 0, NULL},
    {"POST /users HTTP/1.1\r\n" HOST "Transfer-Encoding: ,chunked,\r\n\r\n", 0, NULL},
    {"GET http://127.0.0.1:8080/users/1 HTTP/1.1\r\nHost: other\r\n\r\n", 0, NULL},
    {"GET / HTTP/1.1\r\nHost: my_host.example:8080\r\n\r\n", 0, NULL},
    {"GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", 0, NULL},
    {"GET / HTTP/1.1\r\nHost:\r\n\r\n", 0, NULL},
    {"GET / HTTP/1.1\r\n" HOST "X-A: caf\xc3\xa9\t x\r\n\r\n", 0, NULL},
    {"OPTIONS * HTTP/1.1\r\n" HOST "\r\n", 0, NULL},
    /* field names and values */
    {"GET / HTTP/1.1\r\n" HOST "Content-Length : 5\r\n\r\n", 400, "whitespace"},
    {"GET / HTTP/1.1\r\n" HOST "Content-Length\t: 5\r\n\r\n", 400, "whitespace"},
    {"GET / HTTP/1.1\r\n" HOST "Content\x01Length: 5\r\n\r\n", 400, "token"},
    {"GET / HTTP/1.1\r\n" HOST "Content Length: 5\r\n\r\n", 400, "token"},
    {"GET / HTTP/1.1\r\n" HOST ": x\r\n\r\n", 400, "empty"},
    {"GET / HTTP/1.1\r\n" HOST "X-A: a\x7f\r\n\r\n", 400, "control"},
    {"GET / HTTP/1.1\r\n" HOST "X-A: a\r\n b\r\n\r\n", 400, "folding"},
    /* Content-Length */
    {"GET / HTTP/1.1\r\n" HOST "Content-Length: +5\r\n\r\n", 400, "decimal"},
    {"GET / HTTP/1.1\r\n" HOST "Content-Length: 0x10\r\n\r\n", 400, "decimal"},
    {"GET / HTTP/1.1\r\n" HOST "Content-Length: -1\r\n\r\n", 400, "decimal"},
    {"GET / HTTP/1.1\r\n" HOST "Content-Length: 5 5\r\n\r\n", 400, "decimal"},
    {"GET / HTTP/1.1\r\n" HOST "Content-Length: 2, 3\r\n\r\n", 400, "decimal"},
    {"GET / HTTP/1.1\r\n" HOST "Content-Length:\r\n\r\n", 400, "decimal"},
    {"GET / HTTP/1.1\r\n" HOST "Content-Length: 1\r\nContent-Length: 1\r\n\r\n", 400, "once"},
    {"GET / HTTP/1.1\r\n" HOST "Content-Length: 9999999999999999999\r\n\r\n", 413, NULL},
    {"GET / HTTP/1.1\r\n" HOST "Content-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
     "both"},
    /* Transfer-Encoding */
    {"POST / HTTP/1.1\r\n" HOST "Transfer-Encoding: gzip\r\n\r\n", 400, "final"},
    {"POST / HTTP/1.1\r\n" HOST "Transfer-Encoding: chunked, identity\r\n\r\n", 400, "final"},
    {"POST / HTTP/1.1\r\n" HOST "Transfer-Encoding: chunked, chunked\r\n\r\n", 400, "once"},
    {"POST / HTTP/1.1\r\n" HOST "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n",
     400, "final"},
    {"POST / HTTP/1.1\r\n" HOST "Transfer-Encoding: \x0b" "chunked\r\n\r\n", 400, NULL},
    {"POST / HTTP/1.1\r\n" HOST "Transfer-Encoding: chunked;x=1\r\n\r\n", 400, "final"},
    {"POST / HTTP/1.1\r\n" HOST "Transfer-Encoding:\r\n\r\n", 400, "list"},
    {"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "HTTP/1.0"},
    {"POST / HTTP/1.1\r\n" HOST "Transfer-Encoding: gzip, chunked\r\n\r\n", 501, "chunked"},
    {"POST / HTTP/1.1\r\n" HOST "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
     501, "chunked"},
    /* Host */
    {"GET / HTTP/1.1\r\n\r\n", 400, "Host"},
    {"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400, "once"},
    {"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, "Host"},
    {"GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400, "Host"},
    {"GET / HTTP/1.1\r\nHost: ::1\r\n\r\n", 400, "Host"},
    {"GET / HTTP/1.1\r\nHost: \xa0x\r\n\r\n", 400, "Host"},
    /* fields that must be single */
    {"GET / HTTP/1.1\r\n" HOST "Authorization: Bearer a\r\nAuthorization: Bearer b\r\n\r\n", 400,
     "Authorization"},
    {"POST / HTTP/1.1\r\n" HOST "Idempotency-Key: a\r\nidempotency-key: a\r\n\r\n", 400,
     "Idempotency-Key"},
    {"POST / HTTP/1.1\r\n" HOST "Idempotency-Key: a\r\nAuthorization: Bearer a\r\n\r\n", 0, NULL},
    /* the request line */
    {"GET  / HTTP/1.1\r\n" HOST "\r\n", 400, "one space"},
    {"G(T / HTTP/1.1\r\n" HOST "\r\n", 400, "method"},
    {"GET /\x01 HTTP/1.1\r\n" HOST "\r\n", 400, "visible"},
    {"GET users HTTP/1.1\r\n" HOST "\r\n", 400, "absolute"},
    {"GET http://u@h/ HTTP/1.1\r\n" HOST "\r\n", 400, "authority"},
    {"GET ftp://h/ HTTP/1.1\r\n" HOST "\r\n", 400, "absolute"},
    {"GET / HTTP/2.0\r\n" HOST "\r\n", 505, "HTTP/1.1"},
    {"GET / HTTP/1.2\r\n" HOST "\r\n", 505, NULL},
    {"GET / HTTP/01.1\r\n" HOST "\r\n", 400, NULL},
};

static void
test_head_table(void **state)
{
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct head_verdict v;
        enum usv_err rc = judge(rows[i].raw, &v);
        int status = rc == USV_OK ? 0 : usv_err_http_status(rc);

        if (status != rows[i].status)
            fail_msg("row %zu: status %d, not %d (%s)", i, status, rows[i].status,
                     v.detail != NULL ? v.detail : "-");
        if (rows[i].detail_has != NULL && strstr(v.detail, rows[i].detail_has) == NULL)
            fail_msg("row %zu: detail '%s' lacks '%s'", i, v.detail, rows[i].detail_has);
    }
}

static void
test_head_long_target_is_414(void **state)
{
    static const char tail[] = " HTTP/1.1\r\nHost: a\r\n\r\n";
    static char raw[HEAD_MAX_TARGET + 64];
    struct head_verdict v;

    memcpy(raw, "GET /", 5);
    memset(raw + 5, 'a', HEAD_MAX_TARGET - 1);   /* exactly the limit */
    memcpy(raw + 4 + HEAD_MAX_TARGET, tail, sizeof(tail));
    assert_int_equal(judge(raw, &v), USV_OK);
    memset(raw + 5, 'a', HEAD_MAX_TARGET);       /* one more */
    memcpy(raw + 5 + HEAD_MAX_TARGET, tail, sizeof(tail));
    assert_int_equal(judge(raw, &v), USV_URI_TOO_LONG);
}

static void
test_head_reports_framing(void **state)
{
    struct head_verdict v;

    assert_int_equal(judge("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0017\r\n\r\n", &v),
                     USV_OK);
    assert_true(v.has_length);
    assert_true(v.length == 17);
    assert_false(v.is_chunked);
    assert_int_equal(judge("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n",
                           &v),
                     USV_OK);
    assert_true(v.is_chunked);
    assert_false(v.has_length);
    assert_int_equal(judge("GET https://h:1/users?x HTTP/1.1\r\nHost: z\r\n\r\n", &v), USV_OK);
    assert_true(v.is_absolute);
    assert_int_equal(v.path_offset, strlen("https://h:1"));
}

static void
test_head_host_grammar(void **state)
{
    static const char *const good[] = {"a", "a:80", "a:", "127.0.0.1:8080", "[::1]", "[::1]:80",
                                       "[2001:db8::1]", "[::ffff:1.2.3.4]", "[v1.x]", "x%41y",
                                       "my_host.example", "", "a!$&'()*+,;=b"};
    static const char *const bad[] = {"a b", "u@a", "a/b", "::1", "[::1", "[::1]x", "a:b",
                                      "a:80:80", "[]", "[:]", "x%4", "x%zz", "\xa0", "a\tb",
                                      "[v.x]"};

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (!head_host_ok(good[i], strlen(good[i])))
            fail_msg("'%s' refused", good[i]);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (head_host_ok(bad[i], strlen(bad[i])))
            fail_msg("'%s' accepted", bad[i]);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_head_table),
        cmocka_unit_test(test_head_long_target_is_414),
        cmocka_unit_test(test_head_reports_framing),
        cmocka_unit_test(test_head_host_grammar),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
