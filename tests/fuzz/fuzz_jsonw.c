/* SPDX-License-Identifier: MIT
 * fuzz_jsonw.c - libFuzzer harness: base/jsonw.c against jansson.
 *
 * The service writes GET /users/{id} bodies with base/jsonw.h instead of
 * building a jansson object and dumping it; this checks over arbitrary
 * bytes that the two give the same text:
 *  - the whole input as one string (NUL bytes and invalid UTF-8 included):
 *    json_stringn() refuses it exactly when jsonw_string() does (and then
 *    the buffer is left as it was); otherwise json_dumps(JSON_COMPACT |
 *    JSON_ENCODE_ANY) and jsonw_string() give the same bytes;
 *  - the first 8 bytes as an int64: json_integer() dumped and
 *    jsonw_int64() agree;
 *  - the input split at '|' into up to 8 values, each a member of an
 *    object in order ("k0", "k1", ...; a value starting with 'N' is null,
 *    one starting with 'I' an integer of its next bytes): the object dumped
 *    with JSON_COMPACT equals the text jsonw_key()/jsonw_string() write,
 *    or both refuse the same member.
 * Run: tests/fuzz/run.sh. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/jsonw.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/lib/jsonw_oracle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_string(const char *s, size_t len)
{
    bool refused = false;
    const char *why = jsonw_oracle_string(s, len, &refused);

    if (why != NULL)
        fprintf(stderr, "%s\n", why);
    CHECK(why == NULL);
}

static int64_t
int_of(const uint8_t *p, size_t n)
{
    uint64_t u = 0;

    for (size_t i = 0; i < n && i < 8; i++)
        u = (u << 8) | p[i];
    return (int64_t)u;
}

static void
check_int(int64_t n)
{
    json_t *v = json_integer((json_int_t)n);
    char *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    struct strbuf b;

    CHECK(want != NULL);
    strbuf_init(&b);
    jsonw_int64(&b, n);
    CHECK(strcmp(want, strbuf_str(&b)) == 0);
    strbuf_finish(&b);
    free(want);
    json_decref(v);
}

static void
check_object(const char *s, size_t len)
{
    json_t *obj = json_object();
    struct strbuf b;
    size_t start = 0;
    bool is_refused = false;

    CHECK(obj != NULL);
    strbuf_init(&b);
    strbuf_add(&b, "{", 1);
    for (unsigned m = 0; m < 8 && start <= len && !is_refused; m++) {
        const char *bar = memchr(s + start, '|', len - start);
        size_t end = bar != NULL ? (size_t)(bar - s) : len;
        const char *v = s + start;
        size_t vlen = end - start;
        char key[8];
        json_t *jv;

        snprintf(key, sizeof(key), "k%u", m);
        if (vlen > 0 && v[0] == 'N') {
            jv = json_null();
        } else if (vlen > 0 && v[0] == 'I') {
            jv = json_integer((json_int_t)int_of((const uint8_t *)v + 1, vlen - 1));
        } else {
            jv = json_stringn(v, vlen);
        }
        if (jv == NULL) {
            struct strbuf scratch;

            strbuf_init(&scratch);
            CHECK(!jsonw_string(&scratch, v, vlen));
            strbuf_finish(&scratch);
            is_refused = true;
            break;
        }
        CHECK(json_object_set_new(obj, key, jv) == 0);
        CHECK(jsonw_key(&b, key, m == 0));
        if (json_is_null(jv))
            strbuf_add(&b, "null", 4);
        else if (json_is_integer(jv))
            jsonw_int64(&b, (int64_t)json_integer_value(jv));
        else
            CHECK(jsonw_string(&b, v, vlen));
        if (bar == NULL)
            break;
        start = end + 1;
    }
    if (!is_refused) {
        char *want = json_dumps(obj, JSON_COMPACT);

        CHECK(want != NULL);
        strbuf_add(&b, "}", 1);
        CHECK(strcmp(want, strbuf_str(&b)) == 0);
        free(want);
    }
    strbuf_finish(&b);
    json_decref(obj);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_string((const char *)data, size);
    check_int(int_of(data, size));
    check_object((const char *)data, size);
    return 0;
}
