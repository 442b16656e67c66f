/* SPDX-License-Identifier: MIT
 * fuzz_head.c - libFuzzer harness: head_check() (http/head.h), the rules of
 * API.md "HTTP/1.1 strictness" that every request head passes before its
 * body is read.
 *
 * Input: raw bytes of a request head. They are split as a simple HTTP/1.1
 * reader would (lines end at LF, a CR before it is dropped; the first line
 * is "method SP target SP version"; a line starting with SP or HTAB is an
 * obs-fold continuation; a field line splits at its first colon, its value
 * trimmed of SP/HTAB) and every piece is copied into a buffer of exactly
 * its size, so that AddressSanitizer sees any read past a piece. Checks,
 * against an independent reading of API.md:
 *  - the verdict is one of the documented statuses, with a detail exactly
 *    when it refuses, and the same when asked twice;
 *  - an accepted head has a token method, version HTTP/1.0 or HTTP/1.1, a
 *    target of visible ASCII of at most 8000 bytes, token field names, no
 *    control character but HTAB in values, no folded line, one Host in
 *    HTTP/1.1 (at most one in 1.0) that head_host_ok() accepts, at most one
 *    Content-Length of digits only, never both Content-Length and
 *    Transfer-Encoding, and a Transfer-Encoding (HTTP/1.1 only) whose last
 *    coding is "chunked"; the framing it reports (chunked, length) is the
 *    one those fields say;
 *  - 501 only for a list ending in chunked with another coding before;
 *    505 only for an "HTTP/d.d" other than 1.0 and 1.1;
 *  - head_host_ok() never accepts a Host with whitespace, '@', '/', or a
 *    control byte.
 * Run: tests/fuzz/run.sh. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/head.h"
#include "tests/fuzz/fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FIELDS 64

/* A copy of [p, p+n) in a buffer of exactly n bytes (1 when n is 0). */
static char *
piece(const char *p, size_t n)
{
    char *c = malloc(n > 0 ? n : 1);

    CHECK(c != NULL);
    if (n > 0)
        memcpy(c, p, n);
    return c;
}

static bool
eq_ci(const char *a, size_t n, const char *b)
{
    return n == strlen(b) && strncasecmp(a, b, n) == 0;
}

static bool
oracle_token(const char *s, size_t n)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";

    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              (c != 0 && memchr(extra, c, sizeof(extra) - 1) != NULL)))
            return false;
    }
    return true;
}

/* The last non-empty element of a comma list, trimmed of SP/HTAB. */
static void
last_element(const char *s, size_t n, const char **out, size_t *out_len)
{
    size_t end = n;

    *out = NULL;
    *out_len = 0;
    while (end > 0) {
        size_t start = end;

        while (start > 0 && s[start - 1] != ',')
            start--;
        {
            size_t a = start, b = end;

            while (a < b && (s[a] == ' ' || s[a] == '\t'))
                a++;
            while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t'))
                b--;
            if (b > a) {
                *out = s + a;
                *out_len = b - a;
                return;
            }
        }
        end = start > 0 ? start - 1 : 0;
    }
}

static void
check_host_ok(const char *s, size_t n)
{
    if (!head_host_ok(s, n))
        return;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        CHECK(c > 0x20 && c < 0x7F && c != '@' && c != '/' && c != '?' && c != '#');
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    struct head_field fields[MAX_FIELDS];
    char *owned[2 * MAX_FIELDS + 3];
    size_t n_owned = 0, n_fields = 0, pos = 0, line_no = 0;
    struct head h;
    struct head_verdict v, v2;
    enum usv_err rc;

    memset(&h, 0, sizeof(h));
    check_host_ok(in, size);
    while (pos < size && n_fields < MAX_FIELDS) {
        const char *nl = memchr(in + pos, '\n', size - pos);
        size_t end = nl != NULL ? (size_t)(nl - in) : size;
        size_t len = end - pos;
        const char *line = in + pos;

        if (len > 0 && line[len - 1] == '\r')
            len--;
        pos = end + 1;
        if (line_no++ == 0) {
            const char *sp1 = memchr(line, ' ', len);
            const char *sp2 = NULL;
            size_t spaces = 0;

            for (size_t i = 0; i < len; i++) {
                if (line[i] == ' ') {
                    spaces++;
                    sp2 = line + i;
                }
            }
            if (sp1 == NULL) {
                sp1 = sp2 = line + len;
            }
            h.has_bad_spacing = spaces != 2;
            h.method_len = (size_t)(sp1 - line);
            h.method = owned[n_owned++] = piece(line, h.method_len);
            h.target_len = sp2 > sp1 ? (size_t)(sp2 - sp1 - 1) : 0;
            h.target = owned[n_owned++] = piece(sp1 + (sp2 > sp1), h.target_len);
            h.version_len = sp2 < line + len ? (size_t)(line + len - sp2 - 1) : 0;
            h.version = owned[n_owned++] = piece(sp2 + (sp2 < line + len), h.version_len);
            continue;
        }
        if (len == 0)
            break;   /* the end of the head */
        {
            struct head_field *f = &fields[n_fields++];
            const char *colon = memchr(line, ':', len);
            size_t name_len = colon != NULL ? (size_t)(colon - line) : len;
            const char *value = colon != NULL ? colon + 1 : line + len;
            size_t value_len = (size_t)(line + len - value);

            while (value_len > 0 && (value[0] == ' ' || value[0] == '\t')) {
                value++;
                value_len--;
            }
            while (value_len > 0 && (value[value_len - 1] == ' ' || value[value_len - 1] == '\t'))
                value_len--;
            f->is_folded = line[0] == ' ' || line[0] == '\t';
            f->name_len = name_len;
            f->name = owned[n_owned++] = piece(line, name_len);
            f->value_len = value_len;
            f->value = owned[n_owned++] = piece(value, value_len);
        }
    }
    if (h.method == NULL) {
        h.method = owned[n_owned++] = piece("", 0);
        h.target = owned[n_owned++] = piece("", 0);
        h.version = owned[n_owned++] = piece("", 0);
    }
    h.fields = fields;
    h.n_fields = n_fields;

    rc = head_check(&h, &v);
    CHECK(rc == v.rc);
    CHECK(rc == USV_OK || rc == USV_BAD_REQUEST || rc == USV_NOT_IMPLEMENTED ||
          rc == USV_BAD_VERSION || rc == USV_URI_TOO_LONG || rc == USV_TOO_LARGE);
    CHECK((rc == USV_OK) == (v.detail == NULL));
    CHECK(head_check(&h, &v2) == rc && v2.is_chunked == v.is_chunked &&
          v2.has_length == v.has_length && v2.length == v.length);
    if (rc == USV_BAD_VERSION) {
        CHECK(h.version_len == 8 && memcmp(h.version, "HTTP/", 5) == 0 &&
              memcmp(h.version, "HTTP/1.1", 8) != 0 && memcmp(h.version, "HTTP/1.0", 8) != 0);
    }
    if (rc == USV_NOT_IMPLEMENTED || rc == USV_OK) {
        size_t n_host = 0, n_cl = 0, n_te = 0;
        const struct head_field *cl = NULL;
        const char *last = NULL;   /* the combined Transfer-Encoding list's last coding */
        size_t last_len = 0;
        bool is_11 = h.version_len == 8 && memcmp(h.version, "HTTP/1.1", 8) == 0;

        CHECK(oracle_token(h.method, h.method_len));
        CHECK(!h.has_bad_spacing);
        CHECK(is_11 || (h.version_len == 8 && memcmp(h.version, "HTTP/1.0", 8) == 0));
        CHECK(h.target_len > 0 && h.target_len <= HEAD_MAX_TARGET);
        for (size_t i = 0; i < h.target_len; i++)
            CHECK((unsigned char)h.target[i] > 0x20 && (unsigned char)h.target[i] < 0x7F);
        for (size_t i = 0; i < n_fields; i++) {
            const struct head_field *f = &fields[i];

            CHECK(!f->is_folded && oracle_token(f->name, f->name_len));
            for (size_t j = 0; j < f->value_len; j++) {
                unsigned char c = (unsigned char)f->value[j];

                CHECK(c == '\t' || (c >= 0x20 && c != 0x7F));
            }
            if (eq_ci(f->name, f->name_len, "Host")) {
                n_host++;
                CHECK(v.is_absolute || head_host_ok(f->value, f->value_len));
            } else if (eq_ci(f->name, f->name_len, "Content-Length")) {
                n_cl++;
                cl = f;
            } else if (eq_ci(f->name, f->name_len, "Transfer-Encoding")) {
                const char *e;
                size_t e_len;

                n_te++;
                last_element(f->value, f->value_len, &e, &e_len);
                if (e != NULL) {   /* lines combine into one list (RFC 9110 5.3) */
                    last = e;
                    last_len = e_len;
                }
            }
        }
        CHECK(n_host == 1 || (!is_11 && n_host == 0));
        CHECK(n_cl <= 1 && !(n_cl > 0 && n_te > 0));
        CHECK(v.has_length == (cl != NULL));
        if (cl != NULL) {
            unsigned long long len = 0;

            CHECK(cl->value_len > 0 && cl->value_len <= 18);
            for (size_t j = 0; j < cl->value_len; j++) {
                CHECK(cl->value[j] >= '0' && cl->value[j] <= '9');
                len = len * 10 + (unsigned)(cl->value[j] - '0');
            }
            CHECK(v.length == len);
        }
        if (n_te > 0) {
            CHECK(is_11);
            CHECK(last != NULL && eq_ci(last, last_len, "chunked"));
        }
        CHECK(v.is_chunked == (rc == USV_OK && n_te > 0));
        if (v.is_absolute) {
            CHECK(v.path_offset <= h.target_len);
            CHECK(h.target_len >= 7 && (strncasecmp(h.target, "http://", 7) == 0 ||
                                        strncasecmp(h.target, "https://", 8) == 0));
        }
    }
    for (size_t i = 0; i < n_owned; i++)
        free(owned[i]);
    return 0;
}
