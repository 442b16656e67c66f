/* SPDX-License-Identifier: MIT
 * fuzz_body.c - libFuzzer harness: a request body, parsed and validated
 * exactly as POST /users and PATCH /users/{id} do it.
 *
 * http/request.c parses the body with json_loadb(JSON_REJECT_DUPLICATES |
 * JSON_DECODE_ANY | JSON_ALLOW_NUL); a non-object is a 400, an object goes
 * to orm_validate(&users_model, ...) and a 422 lists its errors in a
 * problem body. This harness does the same on arbitrary bytes and checks:
 *  - nothing crashes, leaks or trips a sanitizer (deep nesting included);
 *  - orm_validate() agrees with an independent reading of API.md's rules
 *    (written here from the spec, not from orm/model.c): USV_OK exactly
 *    when every key is valid, otherwise USV_INVALID with one error per
 *    offending key, in the body's key order, then "login" when missing on
 *    create; *errors untouched on USV_OK;
 *  - the problem body (as http.c builds it) serialises, and re-parses with
 *    the service's own flags to an equal value; so does an accepted object
 *    (the values the service stores and echoes back).
 * Run: tests/fuzz/run.sh (see tests/fuzz/build.sh for the build). */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers/users.h"
#include "orm/model.h"
#include "base/err.h"
#include "tests/fuzz/fuzz_check.h"

#define PARSE_FLAGS (JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Like assert(), but also in -DNDEBUG builds, and libFuzzer sees an abort. */

/* ---- API.md's rules, read independently of orm/model.c --------------- */

/* Does the UTF-8 text contain a Unicode Cc character (U+0000-U+001F,
 * U+007F-U+009F)? In UTF-8 those are the bytes 00-1F and 7F, and C2 80-C2 9F. */
static bool
has_control(const unsigned char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] < 0x20 || s[i] == 0x7F)
            return true;
        if (s[i] == 0xC2 && i + 1 < len && s[i + 1] >= 0x80 && s[i + 1] <= 0x9F)
            return true;
    }
    return false;
}

/* Code points in valid UTF-8: every byte that is not a continuation byte. */
static size_t
code_points(const unsigned char *s, size_t len)
{
    size_t n = 0;

    for (size_t i = 0; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            n++;
    }
    return n;
}

static bool
login_ok(const json_t *v)
{
    const char *s;
    size_t len;

    if (!json_is_string(v))
        return false;
    s = json_string_value(v);
    len = json_string_length(v);
    if (len < 1 || len > 30)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];

        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static bool
name_ok(const json_t *v)
{
    const unsigned char *s;
    size_t len;

    if (json_is_null(v))
        return true;
    if (!json_is_string(v))
        return false;
    s = (const unsigned char *)json_string_value(v);
    len = json_string_length(v);
    return code_points(s, len) <= 30 && !has_control(s, len);
}

/* The fields a 422 must list, in order: offending keys, then "login" when
 * it is missing on create. Returns a new array of strings. */
static json_t *
expected_errors(json_t *obj, enum orm_validate_mode mode)
{
    json_t *want = json_array();
    const char *key;
    json_t *value;

    json_object_foreach(obj, key, value) {
        bool ok;

        if (strcmp(key, "login") == 0)
            ok = login_ok(value);
        else if (strcmp(key, "first_name") == 0 || strcmp(key, "last_name") == 0)
            ok = name_ok(value);
        else
            ok = false;  /* unknown, or read-only (id, created_at) */
        if (!ok)
            json_array_append_new(want, json_string(key));
    }
    if (mode == ORM_FOR_CREATE && json_object_get(obj, "login") == NULL)
        json_array_append_new(want, json_string("login"));
    return want;
}

/* ---- what the service does with the outcome --------------------------- */

/* Serialise @v as the service does (compact), parse it back with the
 * service's flags and require an equal value. */
static void
check_roundtrip(json_t *v)
{
    json_error_t err;
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    json_t *back;

    CHECK(text != NULL);
    back = json_loads(text, PARSE_FLAGS, &err);
    CHECK(back != NULL);
    CHECK(json_equal(v, back));
    json_decref(back);
    free(text);
}

/* The RFC 9457 body http.c's problem_body() builds for @rc. */
static json_t *
problem(enum usv_err rc, const char *detail, json_t *extra)
{
    json_t *p = json_object();

    CHECK(p != NULL);
    json_object_set_new(p, "type", json_string("about:blank"));
    json_object_set_new(p, "title", json_string(usv_err_title(rc)));
    json_object_set_new(p, "status", json_integer(usv_err_http_status(rc)));
    json_object_set_new(p, "detail", json_string(detail));
    if (json_is_object(extra))
        json_object_update_missing(p, extra);
    CHECK(json_object_size(p) == (json_is_object(extra) ? 5u : 4u));
    return p;
}

static void
check_validate(json_t *obj, enum orm_validate_mode mode)
{
    json_t *sentinel = json_string("untouched");
    json_t *errors = sentinel;
    json_t *want = expected_errors(obj, mode);
    enum usv_err rc = orm_validate(&users_model, obj, mode, &errors);
    size_t i;
    json_t *e;

    if (json_array_size(want) == 0) {
        CHECK(rc == USV_OK);
        CHECK(errors == sentinel);   /* written only on USV_INVALID */
        check_roundtrip(obj);        /* what would be stored and echoed */
    } else {
        json_t *extra, *p;

        CHECK(rc == USV_INVALID);
        CHECK(json_is_array(errors));
        CHECK(json_array_size(errors) == json_array_size(want));
        json_array_foreach(errors, i, e) {
            json_t *field = json_object_get(e, "field");
            json_t *message = json_object_get(e, "message");

            CHECK(json_is_object(e) && json_object_size(e) == 2);
            CHECK(json_is_string(field) && json_is_string(message));
            CHECK(json_string_length(message) > 0);
            CHECK(json_equal(field, json_array_get(want, i)));
        }
        /* handlers/users.c wraps the list as {"errors": [...]}. */
        extra = json_pack("{s:o}", "errors", errors);
        CHECK(extra != NULL);
        p = problem(rc, "some fields are invalid", extra);
        check_roundtrip(p);
        json_decref(p);
        json_decref(extra);
    }
    json_decref(want);
    json_decref(sentinel);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t err;
    json_t *body = json_loadb((const char *)data, size, PARSE_FLAGS, &err);

    if (body == NULL) {
        /* 400: http.c quotes the parser's message, made printable. */
        char text[160], detail[512];
        size_t n = 0;
        json_t *p;

        CHECK(memchr(err.text, '\0', sizeof(err.text)) != NULL);
        for (const char *q = err.text; *q != '\0' && n < sizeof(text) - 1; q++)
            text[n++] = (*q >= 0x20 && *q < 0x7F) ? *q : '?';
        text[n] = '\0';
        snprintf(detail, sizeof(detail), "body is not valid JSON: %s (line %d, column %d)",
                 text, err.line, err.column);
        p = problem(USV_BAD_REQUEST, detail, NULL);
        check_roundtrip(p);
        json_decref(p);
        return 0;
    }
    if (json_is_object(body)) {
        check_validate(body, ORM_FOR_CREATE);
        check_validate(body, ORM_FOR_UPDATE);
    } else {
        json_t *p = problem(USV_BAD_REQUEST, "body must be a JSON object", NULL);

        check_roundtrip(p);
        json_decref(p);
    }
    json_decref(body);
    return 0;
}
