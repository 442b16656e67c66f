/* SPDX-License-Identifier: MIT
 * test_model.c - orm/model.c: request validation driven by users_model.
 *
 * Every 422 case of API.md "The user resource": the login rule (charset and
 * 1-30 characters), names of at most 30 code points (emoji count as one),
 * Unicode Cc control characters, wrong JSON types, null, unknown and
 * read-only keys, the missing login, and several errors reported together
 * in the object's key order. Bodies are parsed with jansson exactly as
 * JSON text, so the cases read like the requests they stand for. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "handlers/users.h"
#include "orm/model.h"

#define LOGIN_RULE "must be 1-30 characters of A-Z a-z 0-9 . _ -"
#define NAME_RULE  "must be at most 30 characters, without control characters"

#define EMOJI "\xF0\x9F\x98\x80"   /* U+1F600, 4 bytes, one code point */

struct field_error {
    const char *field, *message;
};

static json_t *
parse(const char *text)
{
    json_error_t err;
    /* JSON_ALLOW_NUL: "\u0000" reaches the model, as the contract allows. */
    json_t *obj = json_loads(text, JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &err);

    if (obj == NULL)
        fail_msg("test body is not JSON (%s): %s", err.text, text);
    assert_true(json_is_object(obj));
    return obj;
}

/* Validate @text for create; expect it to be accepted. */
static void
expect_valid_mode(const char *text, enum orm_validate_mode mode)
{
    json_t *obj = parse(text);
    json_t *sentinel = json_string("untouched");
    json_t *errors = sentinel;

    assert_int_equal(USV_OK, orm_validate(&users_model, obj, mode, &errors));
    assert_ptr_equal(sentinel, errors);   /* written only on USV_INVALID */
    json_decref(sentinel);
    json_decref(obj);
}

static void
expect_valid(const char *text)
{
    expect_valid_mode(text, ORM_FOR_CREATE);
}

/* Validate @text in @mode; expect exactly the @n errors @want, in order. */
static void
expect_errors_mode(const char *text, enum orm_validate_mode mode,
                   const struct field_error *want, size_t n)
{
    json_t *obj = parse(text);
    json_t *errors = NULL;

    assert_int_equal(USV_INVALID, orm_validate(&users_model, obj, mode, &errors));
    assert_non_null(errors);
    assert_true(json_is_array(errors));
    if (json_array_size(errors) != n) {
        char *dump = json_dumps(errors, 0);

        print_error("expected %zu errors for %s, got %s\n", n, text, dump);
        free(dump);
        json_decref(errors);
        json_decref(obj);
        fail();
    }
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(errors, i);

        assert_true(json_is_object(e));
        assert_int_equal(2, json_object_size(e));
        assert_string_equal(want[i].field, json_string_value(json_object_get(e, "field")));
        assert_string_equal(want[i].message,
                            json_string_value(json_object_get(e, "message")));
    }
    json_decref(errors);
    json_decref(obj);
}

#define expect_errors(text, ...)                                                \
    do {                                                                        \
        const struct field_error want_[] = {__VA_ARGS__};                       \
        expect_errors_mode(text, ORM_FOR_CREATE, want_,                         \
                           sizeof(want_) / sizeof(want_[0]));                   \
    } while (0)

/* Expect @text to fail with the one error {@field, @message}. */
static void
expect_one_error(const char *text, const char *field, const char *message)
{
    const struct field_error want = {field, message};

    expect_errors_mode(text, ORM_FOR_CREATE, &want, 1);
}

/* '{"login":"x","first_name":"<@n copies of @unit><@tail>"}', malloc'd. */
static char *
name_body_tail(const char *unit, size_t n, const char *tail)
{
    static const char head[] = "{\"login\":\"x\",\"first_name\":\"";
    size_t ulen = strlen(unit), tlen = strlen(tail);
    size_t size = sizeof(head) + n * ulen + tlen + 2;
    char *s = malloc(size);
    size_t off = sizeof(head) - 1;

    assert_non_null(s);
    memcpy(s, head, off);
    for (size_t i = 0; i < n; i++) {
        memcpy(s + off, unit, ulen);
        off += ulen;
    }
    memcpy(s + off, tail, tlen);
    off += tlen;
    memcpy(s + off, "\"}", 3);
    assert_true(off + 3 <= size);
    return s;
}

static char *
name_body(const char *unit, size_t n)
{
    return name_body_tail(unit, n, "");
}

/* '{"login":"<@n copies of @c>"}', malloc'd. */
static char *
login_body(char c, size_t n)
{
    static const char head[] = "{\"login\":\"";
    size_t off = sizeof(head) - 1;
    char *s = malloc(off + n + 3);

    assert_non_null(s);
    memcpy(s, head, off);
    memset(s + off, c, n);
    memcpy(s + off + n, "\"}", 3);
    return s;
}

/* ---- accepted bodies --------------------------------------------------- */

static void
test_model_minimal_user_is_valid(void **state)
{
    expect_valid("{\"login\":\"alice\"}");
}

static void
test_model_full_user_is_valid(void **state)
{
    expect_valid("{\"login\":\"alice\",\"first_name\":\"Alice\",\"last_name\":\"Liddell\"}");
}

static void
test_model_login_accepts_every_allowed_character(void **state)
{
    expect_valid("{\"login\":\"ABCDEFGHIJKLMNOPQRSTUVWXYZ\"}");
    expect_valid("{\"login\":\"abcdefghijklmnopqrstuvwxyz\"}");
    expect_valid("{\"login\":\"0123456789._-\"}");
    expect_valid("{\"login\":\"-\"}");
    expect_valid("{\"login\":\".\"}");
}

static void
test_model_login_of_1_and_30_characters_is_valid(void **state)
{
    char *one = login_body('a', 1);
    char *thirty = login_body('Z', 30);

    expect_valid(one);
    expect_valid(thirty);
    free(one);
    free(thirty);
}

static void
test_model_names_may_be_null(void **state)
{
    expect_valid("{\"login\":\"a\",\"first_name\":null,\"last_name\":null}");
}

static void
test_model_names_may_be_empty(void **state)
{
    expect_valid("{\"login\":\"a\",\"first_name\":\"\",\"last_name\":\"\"}");
}

static void
test_model_name_of_30_emoji_is_valid(void **state)
{
    char *body = name_body(EMOJI, 30);   /* 120 bytes, 30 code points */

    expect_valid(body);
    free(body);
}

static void
test_model_name_of_30_multibyte_characters_is_valid(void **state)
{
    char *two = name_body("\xC3\xA9", 30);        /* é, 2 bytes */
    char *three = name_body("\xE2\x82\xAC", 30);  /* €, 3 bytes */
    char *mixed = name_body("a\xC3\xA9\xE2\x82\xAC" EMOJI "\xF0\x9D\x84\x9E", 6);

    expect_valid(two);
    expect_valid(three);
    expect_valid(mixed);
    free(two);
    free(three);
    free(mixed);
}

static void
test_model_name_accepts_u00a0_and_other_non_cc_characters(void **state)
{
    /* U+00A0 is the first code point after the C1 controls. */
    expect_valid("{\"login\":\"a\",\"first_name\":\"a\\u00a0b\"}");
    expect_valid("{\"login\":\"a\",\"first_name\":\"\\u00a0\"}");
    /* Format and separator characters are not Cc. */
    expect_valid("{\"login\":\"a\",\"first_name\":\"\\u200b\\u2028\\ufeff\"}");
    expect_valid("{\"login\":\"a\",\"last_name\":\"~ !\\\"\\\\/\"}");
    /* Escaped and raw UTF-8 spellings of one emoji are the same string. */
    expect_valid("{\"login\":\"a\",\"first_name\":\"\\ud83d\\ude00\"}");
}

static void
test_model_update_mode_does_not_require_login(void **state)
{
    expect_valid_mode("{}", ORM_FOR_UPDATE);
    expect_valid_mode("{\"first_name\":\"Bob\"}", ORM_FOR_UPDATE);
}

static void
test_model_update_mode_applies_the_create_rules_to_present_keys(void **state)
{
    const struct field_error login_null[] = {{"login", "must be a string"}};
    const struct field_error login_bad[] = {{"login", LOGIN_RULE}};
    const struct field_error several[] = {
        {"firstname", "unknown field"},
        {"last_name", "must be a string or null"},
    };

    /* null clears a name, but a login cannot be cleared (PATCH: 422). */
    expect_valid_mode("{\"first_name\":null,\"last_name\":null}", ORM_FOR_UPDATE);
    expect_valid_mode("{\"login\":\"New.Login_1\"}", ORM_FOR_UPDATE);
    expect_errors_mode("{\"login\":null}", ORM_FOR_UPDATE, login_null, 1);
    expect_errors_mode("{\"login\":\"no spaces\"}", ORM_FOR_UPDATE, login_bad, 1);
    expect_errors_mode("{\"firstname\":\"x\",\"last_name\":1}", ORM_FOR_UPDATE, several, 2);
}

/* ---- login ------------------------------------------------------------- */

static void
test_model_login_of_0_characters_is_invalid(void **state)
{
    expect_one_error("{\"login\":\"\"}", "login", LOGIN_RULE);
}

static void
test_model_login_of_31_characters_is_invalid(void **state)
{
    char *body = login_body('a', 31);

    expect_one_error(body, "login", LOGIN_RULE);
    free(body);
}

static void
test_model_login_with_disallowed_characters_is_invalid(void **state)
{
    static const char *const bodies[] = {
        "{\"login\":\"al ice\"}",
        "{\"login\":\"alice@example\"}",
        "{\"login\":\"a+b\"}",
        "{\"login\":\"a/b\"}",
        "{\"login\":\"al'ice\"}",
        "{\"login\":\"a\\\"b\"}",
        "{\"login\":\"\\u00e9\"}",                 /* é */
        "{\"login\":\"\\uff41\"}",                 /* fullwidth a */
        "{\"login\":\"a\\u0000\"}",
        "{\"login\":\"a\\t\"}",
        "{\"login\":\"" EMOJI "\"}",
    };

    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++)
        expect_one_error(bodies[i], "login", LOGIN_RULE);
}

static void
test_model_login_of_wrong_json_type_is_invalid(void **state)
{
    expect_one_error("{\"login\":42}", "login", "must be a string");
    expect_one_error("{\"login\":4.5}", "login", "must be a string");
    expect_one_error("{\"login\":{\"a\":1}}", "login", "must be a string");
    expect_one_error("{\"login\":[\"alice\"]}", "login", "must be a string");
    expect_one_error("{\"login\":true}", "login", "must be a string");
    expect_one_error("{\"login\":false}", "login", "must be a string");
}

static void
test_model_login_null_is_invalid(void **state)
{
    /* Present but null: a type error, not "is required". */
    expect_one_error("{\"login\":null}", "login", "must be a string");
}

static void
test_model_missing_login_is_invalid(void **state)
{
    expect_one_error("{}", "login", "is required");
    expect_one_error("{\"first_name\":\"Alice\"}", "login", "is required");
}

/* ---- names ------------------------------------------------------------- */

static void
test_model_name_of_31_emoji_is_invalid(void **state)
{
    char *body = name_body(EMOJI, 31);

    expect_one_error(body, "first_name", NAME_RULE);
    free(body);
}

static void
test_model_name_of_31_ascii_characters_is_invalid(void **state)
{
    char *ok = name_body("n", 30);
    char *bad = name_body("n", 31);

    expect_valid(ok);
    expect_one_error(bad, "first_name", NAME_RULE);
    free(ok);
    free(bad);
}

static void
test_model_name_length_counts_code_points_not_graphemes(void **state)
{
    /* Thumbs up with a skin-tone modifier: one glyph, two code points. */
    static const char thumb[] = "\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD";
    char *thirty = name_body(thumb, 15);
    char *thirty_one = name_body_tail(thumb, 15, "\xCC\x81");   /* + U+0301 */

    expect_valid(thirty);
    expect_one_error(thirty_one, "first_name", NAME_RULE);
    free(thirty);
    free(thirty_one);
}

static void
test_model_name_with_u0000_is_invalid(void **state)
{
    expect_one_error("{\"login\":\"a\",\"first_name\":\"a\\u0000b\"}", "first_name",
                     NAME_RULE);
    expect_one_error("{\"login\":\"a\",\"last_name\":\"\\u0000\"}", "last_name", NAME_RULE);
}

static void
test_model_name_with_c0_controls_is_invalid(void **state)
{
    static const char *const escapes[] = {"\\u0001", "\\t", "\\n", "\\r", "\\u001b",
                                          "\\u001f"};
    char body[128];

    for (size_t i = 0; i < sizeof(escapes) / sizeof(escapes[0]); i++) {
        snprintf(body, sizeof(body), "{\"login\":\"a\",\"first_name\":\"x%sy\"}", escapes[i]);
        expect_one_error(body, "first_name", NAME_RULE);
    }
}

static void
test_model_name_with_u007f_is_invalid(void **state)
{
    expect_one_error("{\"login\":\"a\",\"first_name\":\"x\\u007fy\"}", "first_name",
                     NAME_RULE);
    expect_one_error("{\"login\":\"a\",\"last_name\":\"\x7f\"}", "last_name", NAME_RULE);
}

static void
test_model_name_with_c1_controls_is_invalid(void **state)
{
    expect_one_error("{\"login\":\"a\",\"first_name\":\"x\\u0080y\"}", "first_name",
                     NAME_RULE);
    expect_one_error("{\"login\":\"a\",\"first_name\":\"x\\u0085y\"}", "first_name",
                     NAME_RULE);
    expect_one_error("{\"login\":\"a\",\"first_name\":\"x\\u009fy\"}", "first_name",
                     NAME_RULE);
    /* The same code points as raw UTF-8 bytes. */
    expect_one_error("{\"login\":\"a\",\"last_name\":\"\xC2\x80\"}", "last_name", NAME_RULE);
    expect_one_error("{\"login\":\"a\",\"last_name\":\"\xC2\x9F\"}", "last_name", NAME_RULE);
}

static void
test_model_name_of_wrong_json_type_is_invalid(void **state)
{
    const char *msg = "must be a string or null";

    expect_one_error("{\"login\":\"a\",\"first_name\":{}}", "first_name", msg);
    expect_one_error("{\"login\":\"a\",\"first_name\":{\"x\":\"y\"}}", "first_name", msg);
    expect_one_error("{\"login\":\"a\",\"first_name\":[]}", "first_name", msg);
    expect_one_error("{\"login\":\"a\",\"first_name\":7}", "first_name", msg);
    expect_one_error("{\"login\":\"a\",\"last_name\":true}", "last_name", msg);
}

/* ---- keys -------------------------------------------------------------- */

static void
test_model_unknown_field_is_invalid(void **state)
{
    expect_one_error("{\"login\":\"a\",\"firstname\":\"Alice\"}", "firstname",
                     "unknown field");
    expect_one_error("{\"login\":\"a\",\"Login\":\"b\"}", "Login", "unknown field");
    expect_one_error("{\"login\":\"a\",\"\":1}", "", "unknown field");
    /* Even a null value is reported, not silently dropped. */
    expect_one_error("{\"login\":\"a\",\"email\":null}", "email", "unknown field");
}

static void
test_model_id_is_read_only(void **state)
{
    expect_one_error("{\"login\":\"a\",\"id\":7}", "id", "is read-only");
    expect_one_error("{\"id\":null,\"login\":\"a\"}", "id", "is read-only");
}

static void
test_model_created_at_is_read_only(void **state)
{
    expect_one_error("{\"login\":\"a\",\"created_at\":\"2026-11-21T08:00:00Z\"}",
                     "created_at", "is read-only");
}

static void
test_model_updated_at_is_read_only(void **state)
{
    expect_one_error("{\"login\":\"a\",\"updated_at\":\"2026-11-21T08:00:00Z\"}",
                     "updated_at", "is read-only");
    expect_one_error("{\"login\":\"a\",\"updated_at\":null}", "updated_at", "is read-only");
}

static void
test_model_read_only_fields_are_rejected_in_update_mode(void **state)
{
    const struct field_error want[] = {
        {"id", "is read-only"},
        {"created_at", "is read-only"},
        {"updated_at", "is read-only"},
    };

    expect_errors_mode("{\"id\":1,\"created_at\":\"x\",\"updated_at\":\"y\"}",
                       ORM_FOR_UPDATE, want, 3);
}

/* ---- several errors ---------------------------------------------------- */

static void
test_model_several_errors_are_listed_in_key_order(void **state)
{
    expect_errors("{\"nick\":\"x\",\"last_name\":5,\"login\":\"a b\","
                  "\"id\":3,\"first_name\":\"\\u0007\"}",
                  {"nick", "unknown field"},
                  {"last_name", "must be a string or null"},
                  {"login", LOGIN_RULE},
                  {"id", "is read-only"},
                  {"first_name", NAME_RULE});
}

static void
test_model_key_order_is_the_clients_not_the_models(void **state)
{
    expect_errors("{\"first_name\":1,\"login\":1}",
                  {"first_name", "must be a string or null"},
                  {"login", "must be a string"});
    expect_errors("{\"login\":1,\"first_name\":1}",
                  {"login", "must be a string"},
                  {"first_name", "must be a string or null"});
}

static void
test_model_missing_login_is_listed_after_the_other_errors(void **state)
{
    expect_errors("{\"first_name\":\"\\u001f\",\"created_at\":\"x\",\"zzz\":0}",
                  {"first_name", NAME_RULE},
                  {"created_at", "is read-only"},
                  {"zzz", "unknown field"},
                  {"login", "is required"});
}

/* ---- model metadata ---------------------------------------------------- */

static void
test_model_users_metadata_matches_the_api(void **state)
{
    const struct orm_column *pk = orm_model_pk(&users_model);
    const struct orm_column *login = orm_model_column(&users_model, "login");
    const struct orm_column *first = orm_model_column(&users_model, "first_name");
    const struct orm_column *created = orm_model_column(&users_model, "created_at");
    const struct orm_column *updated = orm_model_column(&users_model, "updated_at");

    assert_string_equal("users", users_model.table);
    assert_int_equal(6, users_model.n_columns);
    assert_string_equal("id", pk->name);
    assert_int_equal(ORM_INT64, pk->type);
    assert_non_null(login);
    assert_true(login->flags & ORM_UNIQUE);
    assert_true(login->flags & ORM_NOCASE);
    assert_true(login->flags & ORM_REQUIRED);
    assert_false(login->flags & ORM_NULLABLE);
    assert_int_equal(30, login->max_chars);
    assert_non_null(first);
    assert_true(first->flags & ORM_NULLABLE);
    assert_int_equal(30, first->max_chars);
    assert_non_null(created);
    assert_int_equal(ORM_TIMESTAMP, created->type);
    assert_true(created->flags & ORM_READONLY);
    assert_true(created->flags & ORM_CREATED_AT);
    assert_false(created->flags & ORM_UPDATED_AT);
    /* Second stage: updated_at, service-set on insert and on every change. */
    assert_non_null(updated);
    assert_int_equal(ORM_TIMESTAMP, updated->type);
    assert_true(updated->flags & ORM_READONLY);
    assert_true(updated->flags & ORM_UPDATED_AT);
    assert_false(updated->flags & ORM_CREATED_AT);
    assert_false(updated->flags & ORM_NULLABLE);
    /* Column order is the JSON/SELECT order: updated_at comes last. */
    assert_ptr_equal(&users_model.columns[5], updated);
    assert_ptr_equal(&users_model.columns[4], created);
    assert_null(orm_model_column(&users_model, "firstname"));
}

static void
test_model_character_rules_at_their_boundaries(void **state)
{
    assert_false(orm_char_not_control(0x00));
    assert_false(orm_char_not_control(0x1F));
    assert_true(orm_char_not_control(0x20));
    assert_true(orm_char_not_control(0x7E));
    assert_false(orm_char_not_control(0x7F));
    assert_false(orm_char_not_control(0x80));
    assert_false(orm_char_not_control(0x9F));
    assert_true(orm_char_not_control(0xA0));
    assert_true(orm_char_not_control(0x1F600));

    assert_true(orm_char_login('a'));
    assert_true(orm_char_login('Z'));
    assert_true(orm_char_login('0'));
    assert_true(orm_char_login('9'));
    assert_true(orm_char_login('.'));
    assert_true(orm_char_login('_'));
    assert_true(orm_char_login('-'));
    assert_false(orm_char_login('@'));   /* just before 'A' */
    assert_false(orm_char_login('['));   /* just after 'Z' */
    assert_false(orm_char_login('`'));   /* just before 'a' */
    assert_false(orm_char_login('{'));   /* just after 'z' */
    assert_false(orm_char_login('/'));   /* just before '0' */
    assert_false(orm_char_login(':'));   /* just after '9' */
    assert_false(orm_char_login(' '));
    assert_false(orm_char_login(0xE9));
    assert_false(orm_char_login(0x100 + 'a'));   /* must not truncate to a byte */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_minimal_user_is_valid),
        cmocka_unit_test(test_model_full_user_is_valid),
        cmocka_unit_test(test_model_login_accepts_every_allowed_character),
        cmocka_unit_test(test_model_login_of_1_and_30_characters_is_valid),
        cmocka_unit_test(test_model_names_may_be_null),
        cmocka_unit_test(test_model_names_may_be_empty),
        cmocka_unit_test(test_model_name_of_30_emoji_is_valid),
        cmocka_unit_test(test_model_name_of_30_multibyte_characters_is_valid),
        cmocka_unit_test(test_model_name_accepts_u00a0_and_other_non_cc_characters),
        cmocka_unit_test(test_model_update_mode_does_not_require_login),
        cmocka_unit_test(test_model_update_mode_applies_the_create_rules_to_present_keys),
        cmocka_unit_test(test_model_login_of_0_characters_is_invalid),
        cmocka_unit_test(test_model_login_of_31_characters_is_invalid),
        cmocka_unit_test(test_model_login_with_disallowed_characters_is_invalid),
        cmocka_unit_test(test_model_login_of_wrong_json_type_is_invalid),
        cmocka_unit_test(test_model_login_null_is_invalid),
        cmocka_unit_test(test_model_missing_login_is_invalid),
        cmocka_unit_test(test_model_name_of_31_emoji_is_invalid),
        cmocka_unit_test(test_model_name_of_31_ascii_characters_is_invalid),
        cmocka_unit_test(test_model_name_length_counts_code_points_not_graphemes),
        cmocka_unit_test(test_model_name_with_u0000_is_invalid),
        cmocka_unit_test(test_model_name_with_c0_controls_is_invalid),
        cmocka_unit_test(test_model_name_with_u007f_is_invalid),
        cmocka_unit_test(test_model_name_with_c1_controls_is_invalid),
        cmocka_unit_test(test_model_name_of_wrong_json_type_is_invalid),
        cmocka_unit_test(test_model_unknown_field_is_invalid),
        cmocka_unit_test(test_model_id_is_read_only),
        cmocka_unit_test(test_model_created_at_is_read_only),
        cmocka_unit_test(test_model_updated_at_is_read_only),
        cmocka_unit_test(test_model_read_only_fields_are_rejected_in_update_mode),
        cmocka_unit_test(test_model_several_errors_are_listed_in_key_order),
        cmocka_unit_test(test_model_key_order_is_the_clients_not_the_models),
        cmocka_unit_test(test_model_missing_login_is_listed_after_the_other_errors),
        cmocka_unit_test(test_model_users_metadata_matches_the_api),
        cmocka_unit_test(test_model_character_rules_at_their_boundaries),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
