/* SPDX-License-Identifier: MIT
 * test_jsonw.c - base/jsonw.c writes exactly what jansson writes.
 *
 * Every string of a generated corpus is given to both: json_stringn() then
 * json_dumps(JSON_COMPACT | JSON_ENCODE_ANY), as the service dumps bodies
 * (JSON_ENCODE_ANY only lets a bare string be dumped), and jsonw_string().
 * Either both refuse it (invalid UTF-8) or both give the same bytes. The
 * corpus: every single byte, every pair of bytes, every lead byte of a
 * longer sequence with a spread of continuation bytes (overlong forms,
 * surrogates, beyond U+10FFFF, truncated), emoji (ZWJ sequences, flags,
 * skin tones), every escape, NUL, U+007F, and pseudo-random strings glued
 * from all of these. Integers (the int64 edges and random values) and
 * objects (keys and values from the corpus) the same way. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "base/jsonw.h"
#include "tests/lib/jsonw_oracle.h"

static unsigned long n_checked, n_refused;

/* Both renderings of @s (@len bytes) agree. */
static void
check_string(const char *s, size_t len)
{
    bool refused = false;
    const char *why = jsonw_oracle_string(s, len, &refused);

    if (why != NULL)
        fail_msg("%s (%zu bytes)", why, len);
    n_refused += refused;
    n_checked++;
}

static void
test_every_escape_and_control_character(void **state)
{
    static const char *const fixed[] = {
        "", "\"", "\\", "\b", "\f", "\n", "\r", "\t", "/", "\x7F", "\x1F", "\x01",
        "a\"b\\c/d\be\ff\ng\rh\ti", "\"\"\\\\", "</script>", "\xC2\x80\xC2\x9F",
    };
    char all[33];

    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        check_string(fixed[i], strlen(fixed[i]));
    for (int c = 0; c < 32; c++)
        all[c] = (char)(c + 1 < 32 ? c + 1 : 0);   /* NUL last */
    check_string(all, 32);
    check_string("a\0b", 3);
    check_string("\0", 1);
}

static void
test_emoji(void **state)
{
    static const char *const emoji[] = {
        "\xF0\x9F\x98\x80",                                    /* U+1F600 */
        "\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7",  /* ZWJ family */
        "\xF0\x9F\x87\xB3\xF0\x9F\x87\xB4",                    /* a flag */
        "\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD",                    /* skin tone */
        "\xE2\x9D\xA4\xEF\xB8\x8F",                            /* heart + VS16 */
        "Zoe\xCC\x81 \xF0\x9D\x84\x9E \xE6\x97\xA5\xE6\x9C\xAC",
        "\xF4\x8F\xBF\xBF",                                    /* U+10FFFF */
        "\xEF\xBF\xBF\xEF\xBB\xBF",                            /* U+FFFF, BOM */
        "\xED\x9F\xBF\xEE\x80\x80",                            /* around the surrogates */
    };

    for (size_t i = 0; i < sizeof(emoji) / sizeof(emoji[0]); i++)
        check_string(emoji[i], strlen(emoji[i]));
}

/* Every byte alone and every pair: every lead byte with every follower. */
static void
test_every_byte_and_pair(void **state)
{
    char s[2];

    for (int a = 0; a < 256; a++) {
        s[0] = (char)a;
        check_string(s, 1);
        for (int b = 0; b < 256; b++) {
            s[1] = (char)b;
            check_string(s, 2);
        }
    }
}

/* Three- and four-byte sequences: each lead byte 0xC0..0xFF with every
 * second byte and a spread of later bytes (valid continuations at both
 * ends of the range, ASCII, leads), which covers overlong forms (0xE0
 * 0x80..0x9F, 0xF0 0x80..0x8F), surrogates (0xED 0xA0..0xBF), values above
 * U+10FFFF (0xF4 0x90.., 0xF5..) and truncated sequences. */
static void
test_long_sequences(void **state)
{
    static const unsigned char later[] = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F,
                                          0xA0, 0xBF, 0xC0, 0xE0, 0xFF};
    const size_t nl = sizeof(later);
    unsigned char s[5];

    for (int a = 0xC0; a < 256; a++) {
        s[0] = (unsigned char)a;
        for (int b = 0; b < 256; b++) {
            s[1] = (unsigned char)b;
            for (size_t c = 0; c < nl; c++) {
                s[2] = later[c];
                check_string((const char *)s, 3);
                if (a < 0xF0 || (b & 0xC0) != 0x80)
                    continue;
                for (size_t d = 0; d < nl; d++) {
                    s[3] = later[d];
                    check_string((const char *)s, 4);
                    s[4] = '"';
                    check_string((const char *)s, 5);
                }
            }
        }
    }
}

/* xorshift64*: the same corpus on every run. */
static uint64_t rng = 0x9E3779B97F4A7C15u;

static uint64_t
next_random(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545F4914F6CDD1Du;
}

static const char *const pieces[] = {
    "a", "Zz", " ", "\"", "\\", "/", "\b", "\f", "\n", "\r", "\t", "\x01", "\x1F", "\x7F",
    "\xC2\xA0", "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "\xE2\x80\x8D", "\xF4\x8F\xBF\xBF",
    "\xC0\xAF", "\xED\xA0\x80", "\xF5\x80\x80\x80", "\x80", "\xFF", "\xE2\x82", "\xF0\x9F\x98",
    "user1", "First42", "2026-12-06T06:00:00.000000Z",
};

/* A random string of up to @max pieces; @valid_only keeps to valid UTF-8
 * pieces (the first 20), so that most strings are rendered, not refused. */
static size_t
random_string(char *out, size_t max, bool valid_only)
{
    size_t n = (size_t)(next_random() % (max + 1)), len = 0;
    size_t choices = valid_only ? 20 : sizeof(pieces) / sizeof(pieces[0]);

    for (size_t i = 0; i < n; i++) {
        const char *p = pieces[next_random() % choices];
        size_t k = strlen(p);

        if (next_random() % 17 == 0) {
            out[len++] = '\0';
            continue;
        }
        memcpy(out + len, p, k);
        len += k;
    }
    return len;
}

static void
test_random_strings(void **state)
{
    char s[64 * 32];

    for (int i = 0; i < 40000; i++)
        check_string(s, random_string(s, 64, i % 2 == 0));
    /* Both sides of the corpus were exercised. */
    assert_true(n_refused > 1000);
    assert_true(n_checked - n_refused > 1000);
}

static void
check_int(int64_t n)
{
    json_t *v = json_integer((json_int_t)n);
    char *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    struct strbuf b;

    strbuf_init(&b);
    jsonw_int64(&b, n);
    assert_string_equal(want, strbuf_str(&b));
    strbuf_finish(&b);
    free(want);
    json_decref(v);
}

static void
test_integers(void **state)
{
    static const int64_t edges[] = {0, 1, -1, 9, 10, -10, 99, 100, INT32_MAX, INT32_MIN,
                                    (int64_t)INT32_MAX + 1, INT64_MAX, INT64_MIN,
                                    INT64_MIN + 1, INT64_MAX - 1, 1000000000000000000};

    for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
        check_int(edges[i]);
    for (int i = 0; i < 10000; i++)
        check_int((int64_t)(next_random() >> (next_random() % 64)) * (i % 2 ? -1 : 1));
}

/* Objects: keys and values from the corpus, in insertion order, with
 * integers and nulls between, against a jansson object dumped whole. */
static void
test_objects(void **state)
{
    for (int i = 0; i < 5000; i++) {
        json_t *obj = json_object();
        struct strbuf b;
        bool is_ok = true, is_first = true;
        int members = (int)(next_random() % 7);

        strbuf_init(&b);
        strbuf_add(&b, "{", 1);
        for (int m = 0; m < members; m++) {
            char key[40], value[64 * 32];
            size_t vlen = random_string(value, 32, i % 3 != 0);
            int kind = (int)(next_random() % 3);
            json_t *v;

            /* Distinct keys: a number, then a few corpus pieces (NUL-free). */
            snprintf(key, sizeof(key), "k%d%s", m, pieces[next_random() % 20]);
            if (kind == 0) {
                v = json_stringn(value, vlen);
            } else if (kind == 1) {
                v = json_integer((json_int_t)next_random());
            } else {
                v = json_null();
            }
            if (v == NULL) {
                is_ok = false;
                assert_false(jsonw_string(&b, value, vlen));
                break;
            }
            assert_int_equal(0, json_object_set_new(obj, key, v));
            assert_true(jsonw_key(&b, key, is_first));
            is_first = false;
            if (kind == 0)
                assert_true(jsonw_string(&b, value, vlen));
            else if (kind == 1)
                jsonw_int64(&b, (int64_t)json_integer_value(v));
            else
                strbuf_add(&b, "null", 4);
        }
        if (is_ok) {
            char *want = json_dumps(obj, JSON_COMPACT);

            strbuf_add(&b, "}", 1);
            assert_string_equal(want, strbuf_str(&b));
            free(want);
        }
        strbuf_finish(&b);
        json_decref(obj);
    }
}

/* A key that is not UTF-8: jansson will not set it, jsonw_key refuses it. */
static void
test_invalid_key_is_refused(void **state)
{
    json_t *obj = json_object();
    struct strbuf b;

    strbuf_init(&b);
    assert_int_not_equal(0, json_object_set_new(obj, "bad\xC0\xAF", json_null()));
    assert_false(jsonw_key(&b, "bad\xC0\xAF", false));
    assert_int_equal(0, strbuf_len(&b));
    assert_true(jsonw_key(&b, "ok", false));
    assert_string_equal(",\"ok\":", strbuf_str(&b));
    strbuf_finish(&b);
    json_decref(obj);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_escape_and_control_character),
        cmocka_unit_test(test_emoji),
        cmocka_unit_test(test_every_byte_and_pair),
        cmocka_unit_test(test_long_sequences),
        cmocka_unit_test(test_random_strings),
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_objects),
        cmocka_unit_test(test_invalid_key_is_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
