/* SPDX-License-Identifier: MIT
 * test_etag.c - http/etag.c: the strong ETag of a representation and
 * RFC 9110 conditional request evaluation.
 *
 * etag_of() is a quoted, stable fingerprint that changes when the JSON
 * does; etag_of_text() is the same fingerprint of text already serialized,
 * so a tag taken over the bytes of a response equals etag_of() of the
 * entity they were serialized from. etag_if_match() uses strong comparison (a W/ tag never matches,
 * even with the same opaque value), etag_if_none_match() weak comparison
 * (W/ ignored on either side). Both accept "*" and comma-separated lists
 * with optional whitespace; a malformed list matches nothing (etag.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "http/etag.h"

#define TAG "\"0123456789abcdef\""        /* the resource's current ETag */
#define OTHER "\"fedcba9876543210\""

/* ---- etag_of ------------------------------------------------------------ */

static json_t *
parse(const char *text)
{
    json_error_t err;
    json_t *v = json_loads(text, 0, &err);

    if (v == NULL)
        fail_msg("test JSON does not parse (%s): %s", err.text, text);
    return v;
}

static void
tag_of(const char *json, char out[ETAG_SIZE])
{
    json_t *v = parse(json);

    memset(out, 'X', ETAG_SIZE);
    etag_of(v, out);
    json_decref(v);
}

static void
test_etag_of_is_a_strong_quoted_tag(void **state)
{
    char tag[ETAG_SIZE];

    tag_of("{\"id\":1,\"login\":\"alice\"}", tag);
    assert_int_equal(ETAG_SIZE - 1, strlen(tag));
    assert_int_equal('"', tag[0]);
    assert_int_equal('"', tag[ETAG_SIZE - 2]);
    assert_int_equal('\0', tag[ETAG_SIZE - 1]);
    assert_true(strncmp(tag, "W/", 2) != 0);
    for (size_t i = 1; i < ETAG_SIZE - 2; i++) {
        if (!((tag[i] >= '0' && tag[i] <= '9') || (tag[i] >= 'a' && tag[i] <= 'f')))
            fail_msg("ETag %s: character %zu is not lower-case hex", tag, i);
    }
}

static void
test_etag_of_is_stable_for_the_same_representation(void **state)
{
    char a[ETAG_SIZE], b[ETAG_SIZE];

    tag_of("{\"id\":1,\"login\":\"alice\",\"first_name\":null}", a);
    tag_of("{\"id\":1,\"login\":\"alice\",\"first_name\":null}", b);
    assert_string_equal(a, b);
}

static void
test_etag_of_changes_with_the_representation(void **state)
{
    static const char *const variants[] = {
        "{\"id\":1,\"login\":\"alice\",\"updated_at\":\"2026-01-01T00:00:00.000000Z\"}",
        "{\"id\":1,\"login\":\"alice\",\"updated_at\":\"2026-01-01T00:00:00.000001Z\"}",
        "{\"id\":1,\"login\":\"Alice\",\"updated_at\":\"2026-01-01T00:00:00.000000Z\"}",
        "{\"id\":2,\"login\":\"alice\",\"updated_at\":\"2026-01-01T00:00:00.000000Z\"}",
        "{\"id\":1,\"login\":\"alice\",\"updated_at\":null}",
        "{\"id\":1,\"login\":\"alice\"}",
    };
    char tags[sizeof(variants) / sizeof(variants[0])][ETAG_SIZE];

    for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
        tag_of(variants[i], tags[i]);
        for (size_t j = 0; j < i; j++) {
            if (strcmp(tags[i], tags[j]) == 0)
                fail_msg("%s and %s share the ETag %s", variants[i], variants[j], tags[i]);
        }
    }
}

/* ---- etag_of_text -------------------------------------------------------- */

/* FNV-1a 64 test vectors (the tags did not change when the text variant
 * came), in "%016llx" form: lower case, leading zeros kept. */
static void
test_etag_of_text_is_fnv1a_64_in_sixteen_hex_digits(void **state)
{
    static const struct {
        const char *text, *tag;
    } cases[] = {
        {"", "\"cbf29ce484222325\""},
        {"a", "\"af63dc4c8601ec8c\""},
        {"foobar", "\"85944171f73967e8\""},
        {"baa", "\"0039231913392937\""},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char tag[ETAG_SIZE];

        memset(tag, 'X', sizeof(tag));
        etag_of_text(cases[i].text, strlen(cases[i].text), tag);
        assert_string_equal(cases[i].tag, tag);
    }
}

/* Only @len bytes count: the text need not end there. */
static void
test_etag_of_text_hashes_exactly_len_bytes(void **state)
{
    char a[ETAG_SIZE], b[ETAG_SIZE];

    etag_of_text("foobar and more", 6, a);
    etag_of_text("foobar", 6, b);
    assert_string_equal(a, b);
    etag_of_text("foobar", 5, b);
    assert_string_not_equal(a, b);
}

/* The invariant the handlers rely on: the tag of the compact JSON that is
 * sent equals etag_of() of the entity (If-Match is checked with etag_of()
 * before anything is serialized for the response). */
static void
test_etag_of_equals_etag_of_text_of_the_compact_json(void **state)
{
    static const char *const entities[] = {
        "{\"id\":1,\"login\":\"alice\",\"first_name\":null,\"last_name\":\"Ça va 🙂\","
        "\"created_at\":\"2026-11-21T08:00:00.123456Z\","
        "\"updated_at\":\"2026-11-21T08:00:00.123456Z\"}",
        "{\"z\":1, \"a\":[1, 2, {\"b\": \"\\u0001\"}]}",
        "{}",
    };

    for (size_t i = 0; i < sizeof(entities) / sizeof(entities[0]); i++) {
        json_t *v = parse(entities[i]);
        char *text = json_dumps(v, JSON_COMPACT);
        char of_entity[ETAG_SIZE], of_text[ETAG_SIZE];

        assert_non_null(text);
        etag_of(v, of_entity);
        etag_of_text(text, strlen(text), of_text);
        assert_string_equal(of_entity, of_text);
        free(text);
        json_decref(v);
    }
}

/* ---- If-Match: strong comparison ---------------------------------------- */

static void
test_etag_if_match_accepts_the_exact_tag(void **state)
{
    assert_true(etag_if_match(TAG, TAG));
    assert_true(etag_if_match(" " TAG, TAG));
    assert_true(etag_if_match(TAG " ", TAG));
    assert_true(etag_if_match("\t" TAG "\t", TAG));
}

static void
test_etag_if_match_rejects_other_tags(void **state)
{
    assert_false(etag_if_match(OTHER, TAG));
    assert_false(etag_if_match("\"0123456789abcde\"", TAG));     /* a prefix */
    assert_false(etag_if_match("\"0123456789abcdef0\"", TAG));   /* longer */
    assert_false(etag_if_match("\"123456789abcdef\"", TAG));     /* a suffix */
    assert_false(etag_if_match("\"0123456789ABCDEF\"", TAG));    /* opaque: case matters */
    assert_false(etag_if_match("\"\"", TAG));
}

static void
test_etag_if_match_never_matches_a_weak_tag(void **state)
{
    assert_false(etag_if_match("W/" TAG, TAG));
    assert_false(etag_if_match(" W/" TAG " ", TAG));
    assert_false(etag_if_match("W/" OTHER ", W/" TAG, TAG));
}

static void
test_etag_if_match_finds_the_tag_in_a_list(void **state)
{
    assert_true(etag_if_match(OTHER ", " TAG, TAG));
    assert_true(etag_if_match(TAG ", " OTHER, TAG));
    assert_true(etag_if_match(OTHER "," TAG, TAG));
    assert_true(etag_if_match(OTHER " ,\t" TAG, TAG));
    assert_true(etag_if_match("W/" TAG ", " TAG, TAG));   /* the strong one matches */
    assert_true(etag_if_match("\"a\", \"b\", \"c\", " TAG ", \"d\"", TAG));
    /* Empty list elements are allowed (RFC 9110 5.6.1). */
    assert_true(etag_if_match(", , " TAG ",", TAG));
    assert_false(etag_if_match(OTHER ", \"x\", W/" TAG, TAG));
}

static void
test_etag_if_match_star_matches_any_current_tag(void **state)
{
    assert_true(etag_if_match("*", TAG));
    assert_true(etag_if_match("*", OTHER));
    assert_true(etag_if_match(" *", TAG));
}

static void
test_etag_if_match_malformed_header_matches_nothing(void **state)
{
    static const char *const malformed[] = {
        "",
        " ",
        ",",
        "0123456789abcdef",              /* unquoted */
        "\"0123456789abcdef",            /* unterminated */
        "W/",
        "w/" TAG,                        /* W/ is case-sensitive */
        "W/ " TAG,
        "W/W/" TAG,
        "* , " TAG,                      /* "*" is not a list element */
        "*, *",
        "**",
        "'0123456789abcdef'",
        "<" TAG ">",
        OTHER " " TAG,                   /* no comma between tags */
        OTHER "x, " TAG,
        "\"a\" \"b\"",
    };

    for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
        if (etag_if_match(malformed[i], TAG))
            fail_msg("If-Match: [%s] matched %s", malformed[i], TAG);
        if (etag_if_none_match(malformed[i], TAG))
            fail_msg("If-None-Match: [%s] matched %s", malformed[i], TAG);
    }
}

/* etag.h: "A malformed list matches nothing" - also when the current tag
 * comes before the part that is malformed. */
static void
test_etag_malformed_list_matches_nothing_even_after_a_matching_tag(void **state)
{
    static const char *const malformed[] = {
        TAG " garbage",
        TAG ", garbage",
        TAG "x",
        TAG ", \"unterminated",
        TAG ", W/",
        TAG ", *",
    };

    for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
        if (etag_if_match(malformed[i], TAG))
            fail_msg("If-Match: malformed [%s] matched %s", malformed[i], TAG);
        if (etag_if_none_match(malformed[i], TAG))
            fail_msg("If-None-Match: malformed [%s] matched %s", malformed[i], TAG);
    }
}

/* ---- If-None-Match: weak comparison ------------------------------------- */

static void
test_etag_if_none_match_uses_weak_comparison(void **state)
{
    assert_true(etag_if_none_match(TAG, TAG));
    assert_true(etag_if_none_match("W/" TAG, TAG));
    assert_true(etag_if_none_match(" W/" TAG " ", TAG));
    assert_false(etag_if_none_match(OTHER, TAG));
    assert_false(etag_if_none_match("W/" OTHER, TAG));
    assert_false(etag_if_none_match("\"0123456789abcde\"", TAG));
    assert_false(etag_if_none_match("W/\"0123456789abcdef0\"", TAG));
}

static void
test_etag_if_none_match_finds_the_tag_in_a_list(void **state)
{
    assert_true(etag_if_none_match(OTHER ", " TAG, TAG));
    assert_true(etag_if_none_match(OTHER ", W/" TAG, TAG));
    assert_true(etag_if_none_match("W/" OTHER ",W/" TAG ", \"z\"", TAG));
    assert_false(etag_if_none_match(OTHER ", W/" OTHER ", \"z\"", TAG));
}

static void
test_etag_if_none_match_star_matches(void **state)
{
    assert_true(etag_if_none_match("*", TAG));
    assert_true(etag_if_none_match("*", OTHER));
}

/* The tags etag_of() writes go through both checks unchanged. */
static void
test_etag_of_round_trips_through_the_conditions(void **state)
{
    char tag[ETAG_SIZE], other[ETAG_SIZE], header[3 * ETAG_SIZE + 8];

    tag_of("{\"id\":7,\"login\":\"x\"}", tag);
    tag_of("{\"id\":7,\"login\":\"y\"}", other);
    assert_true(etag_if_match(tag, tag));
    assert_false(etag_if_match(other, tag));
    snprintf(header, sizeof(header), "W/%s", tag);
    assert_false(etag_if_match(header, tag));
    assert_true(etag_if_none_match(header, tag));
    snprintf(header, sizeof(header), "%s, %s", other, tag);
    assert_true(etag_if_match(header, tag));
    assert_true(etag_if_none_match(header, tag));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_etag_of_is_a_strong_quoted_tag),
        cmocka_unit_test(test_etag_of_is_stable_for_the_same_representation),
        cmocka_unit_test(test_etag_of_changes_with_the_representation),
        cmocka_unit_test(test_etag_of_text_is_fnv1a_64_in_sixteen_hex_digits),
        cmocka_unit_test(test_etag_of_text_hashes_exactly_len_bytes),
        cmocka_unit_test(test_etag_of_equals_etag_of_text_of_the_compact_json),
        cmocka_unit_test(test_etag_if_match_accepts_the_exact_tag),
        cmocka_unit_test(test_etag_if_match_rejects_other_tags),
        cmocka_unit_test(test_etag_if_match_never_matches_a_weak_tag),
        cmocka_unit_test(test_etag_if_match_finds_the_tag_in_a_list),
        cmocka_unit_test(test_etag_if_match_star_matches_any_current_tag),
        cmocka_unit_test(test_etag_if_match_malformed_header_matches_nothing),
        cmocka_unit_test(test_etag_malformed_list_matches_nothing_even_after_a_matching_tag),
        cmocka_unit_test(test_etag_if_none_match_uses_weak_comparison),
        cmocka_unit_test(test_etag_if_none_match_finds_the_tag_in_a_list),
        cmocka_unit_test(test_etag_if_none_match_star_matches),
        cmocka_unit_test(test_etag_of_round_trips_through_the_conditions),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
