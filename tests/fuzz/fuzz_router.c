/* SPDX-License-Identifier: MIT
 * fuzz_router.c - libFuzzer harness: router_find() over the application's
 * route table, and parse_id() on what it captures.
 *
 * Input: "METHOD PATH", split at the first space (no space: the whole input
 * is the method and the path is empty). Both become C strings, as
 * libmicrohttpd hands them to http/server.c (the path already
 * %-decoded, so any byte but NUL can occur). Checks, against an independent
 * matcher written from API.md and router.h:
 *  - the outcome (USV_OK / USV_BAD_METHOD / USV_NOT_FOUND), the route picked
 *    (the first one whose pattern and method match; HEAD counts as GET),
 *    the captured segment and the exact Allow list;
 *  - a path with a trailing slash never matches ("/users/7/" is 404);
 *  - parse_id() accepts exactly the decimal strings (leading zeros allowed)
 *    whose value is in [1, 2^63-1], on the captured segment and on the raw
 *    input bytes (NULs included: it takes a length).
 * Run: tests/fuzz/run.sh. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers/routes.h"
#include "base/strbuf.h"
#include "http/router.h"
#include "base/util.h"
#include "tests/fuzz/fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* parse_id() as API.md states it, without arithmetic that could overflow. */
static bool
id_oracle(const char *s, size_t len, int64_t *out)
{
    static const char max[] = "9223372036854775807";   /* 2^63 - 1 */
    size_t skip = 0, digits;
    char buf[20];

    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
    }
    while (skip < len && s[skip] == '0')
        skip++;
    digits = len - skip;
    if (digits == 0 || digits > strlen(max))
        return false;
    if (digits == strlen(max) && memcmp(s + skip, max, digits) > 0)
        return false;
    memcpy(buf, s + skip, digits);
    buf[digits] = '\0';
    *out = (int64_t)strtoull(buf, NULL, 10);
    return true;
}

static void
check_parse_id(const char *s, size_t len)
{
    int64_t got = -1, want = -2;
    bool ok = parse_id(s, len, &got);

    CHECK(ok == id_oracle(s, len, &want));
    if (ok)
        CHECK(got == want && got >= 1);
    else
        CHECK(got == -1);   /* written only on success */
}

/* Does @path match @pattern, where "{...}" stands for one whole non-empty
 * segment? Splits both at '/' and compares segment by segment. */
static bool
match_oracle(const char *pattern, const char *path, const char **seg, size_t *seg_len)
{
    *seg = NULL;
    *seg_len = 0;
    for (;;) {
        size_t pn = strcspn(pattern, "/"), n = strcspn(path, "/");

        if (pn > 0 && pattern[0] == '{') {
            if (n == 0)
                return false;
            *seg = path;
            *seg_len = n;
        } else if (pn != n || memcmp(pattern, path, n) != 0) {
            return false;
        }
        pattern += pn;
        path += n;
        if (*pattern == '\0' || *path == '\0')
            return *pattern == '\0' && *path == '\0';
        pattern++;   /* both are at a '/' */
        path++;
    }
}

/* The oracle's segment-wise reading holds for patterns whose parameters
 * are whole segments and that do not end in '/'; check the table once. */
static void
check_table(void)
{
    static bool done;

    if (done)
        return;
    for (size_t i = 0; i < app_n_routes; i++) {
        const char *p = app_routes[i].pattern;
        size_t len = strlen(p);

        CHECK(p[0] == '/' && (len == 1 || p[len - 1] != '/'));
        for (const char *b = strchr(p, '{'); b != NULL; b = strchr(b + 1, '{')) {
            const char *e = strchr(b, '}');

            CHECK(b[-1] == '/' && e != NULL && (e[1] == '/' || e[1] == '\0'));
        }
    }
    done = true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *input = xstrndup((const char *)data, size);   /* stops at a NUL, like MHD */
    char *sp = strchr(input, ' ');
    const char *method = input, *path = "";
    const char *want_method;
    const struct route *route = NULL, *want_route = NULL;
    const char *param = NULL, *want_param = NULL;
    size_t param_len = 0, want_len = 0;
    struct strbuf allow, want_allow;
    enum usv_err rc, want_rc = USV_NOT_FOUND;

    check_table();
    check_parse_id((const char *)data, size);
    if (sp != NULL) {
        *sp = '\0';
        path = sp + 1;
    }
    want_method = strcmp(method, "HEAD") == 0 ? "GET" : method;

    strbuf_init(&want_allow);
    for (size_t i = 0; i < app_n_routes; i++) {
        const char *seg;
        size_t seg_len;

        if (!match_oracle(app_routes[i].pattern, path, &seg, &seg_len))
            continue;
        if (strcmp(app_routes[i].method, want_method) == 0) {
            want_rc = USV_OK;
            want_route = &app_routes[i];
            want_param = seg;
            want_len = seg_len;
            break;
        }
        want_rc = USV_BAD_METHOD;
        strbuf_addf(&want_allow, "%s%s", strbuf_len(&want_allow) > 0 ? ", " : "",
                    app_routes[i].method);
        if (strcmp(app_routes[i].method, "GET") == 0)
            strbuf_adds(&want_allow, ", HEAD");
    }

    strbuf_init(&allow);
    rc = router_find(app_routes, app_n_routes, method, path, &route, &param, &param_len,
                     &allow);
    CHECK(rc == want_rc);
    if (rc == USV_OK) {
        CHECK(route == want_route);
        CHECK(param == want_param && param_len == want_len);
        if (param != NULL) {
            CHECK(param >= path && param + param_len <= path + strlen(path));
            CHECK(memchr(param, '/', param_len) == NULL);
            check_parse_id(param, param_len);
        }
    } else {
        CHECK(route == NULL && param == NULL);
    }
    /* The Allow list is defined for 405 (on USV_OK it holds whatever the
     * scan met before the match, and http.c ignores it). */
    if (rc == USV_BAD_METHOD)
        CHECK(strcmp(strbuf_str(&allow), strbuf_str(&want_allow)) == 0);
    else if (rc == USV_NOT_FOUND)
        CHECK(strbuf_len(&allow) == 0);
    if (strlen(path) > 1 && path[strlen(path) - 1] == '/')
        CHECK(rc == USV_NOT_FOUND);   /* API.md: "/users/7/" is an unknown path */

    strbuf_finish(&allow);
    strbuf_finish(&want_allow);
    free(input);
    return 0;
}
