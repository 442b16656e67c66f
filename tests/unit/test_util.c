/* SPDX-License-Identifier: MIT
 * test_util.c - base/util.c: parse_id (the {id} rule of API.md),
 * parse_long (numbers in the configuration) and the utc_stamp format.
 * Every parser is checked to leave its output untouched on failure. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/util.h"

#define UNTOUCHED_ID ((int64_t)-12345)
#define UNTOUCHED_LONG (-12345L)

/* Parse @s as an id; check it is accepted as @expected. */
static void
expect_id(const char *s, int64_t expected)
{
    int64_t v = UNTOUCHED_ID;

    assert_true(parse_id(s, strlen(s), &v));
    assert_true(v == expected);
}

/* Parse @s as an id; check it is rejected and the output left alone. */
static void
expect_no_id(const char *s)
{
    int64_t v = UNTOUCHED_ID;

    assert_false(parse_id(s, strlen(s), &v));
    assert_true(v == UNTOUCHED_ID);
}

static void
test_util_parse_id_accepts_plain_decimal(void **state)
{
    expect_id("7", 7);
    expect_id("1", 1);
    expect_id("1234567890", 1234567890);
}

static void
test_util_parse_id_accepts_leading_zeros(void **state)
{
    expect_id("007", 7);
    expect_id("0000000000000000000000000001", 1);
}

static void
test_util_parse_id_rejects_zero(void **state)
{
    expect_no_id("0");
    expect_no_id("000");
}

static void
test_util_parse_id_rejects_signs(void **state)
{
    expect_no_id("-1");
    expect_no_id("+1");
    expect_no_id("-0");
}

static void
test_util_parse_id_rejects_empty(void **state)
{
    int64_t v = UNTOUCHED_ID;

    expect_no_id("");
    /* A zero length wins over whatever the pointer points at. */
    assert_false(parse_id("7", 0, &v));
    assert_true(v == UNTOUCHED_ID);
}

static void
test_util_parse_id_rejects_non_digits(void **state)
{
    expect_no_id("abc");
    expect_no_id("7a");
    expect_no_id("a7");
    expect_no_id("1.0");
    expect_no_id("1e3");
    expect_no_id("0x10");
    expect_no_id("\xd9\xa7");   /* ARABIC-INDIC DIGIT SEVEN is not 0-9 */
}

static void
test_util_parse_id_rejects_spaces(void **state)
{
    expect_no_id(" 7");
    expect_no_id("7 ");
    expect_no_id("\t7");
    expect_no_id("\n7");
    expect_no_id("1 2");
}

static void
test_util_parse_id_accepts_int64_max(void **state)
{
    expect_id("9223372036854775807", INT64_MAX);
    expect_id("09223372036854775807", INT64_MAX);
}

static void
test_util_parse_id_rejects_int64_max_plus_one(void **state)
{
    expect_no_id("9223372036854775808");
    expect_no_id("9223372036854775810");
}

static void
test_util_parse_id_rejects_twenty_digits(void **state)
{
    expect_no_id("99999999999999999999");
    expect_no_id("18446744073709551615");   /* UINT64_MAX */
    expect_no_id("18446744073709551616");   /* UINT64_MAX + 1, wraps to 0 in 64 bits */
    expect_no_id("18446744073709551623");   /* wraps to 7 in 64 bits */
}

static void
test_util_parse_id_reads_exactly_len_bytes(void **state)
{
    int64_t v = UNTOUCHED_ID;

    /* The path segment is not NUL-terminated: "/users/12/x" gives "12". */
    assert_true(parse_id("12/x", 2, &v));
    assert_true(v == 12);
    v = UNTOUCHED_ID;
    assert_false(parse_id("12/x", 3, &v));
    assert_true(v == UNTOUCHED_ID);
}

/* ---- parse_long -------------------------------------------------------- */

static void
expect_long(const char *s, long min, long max, long expected)
{
    long v = UNTOUCHED_LONG;

    assert_true(parse_long(s, min, max, &v));
    assert_int_equal(expected, v);
}

static void
expect_no_long(const char *s, long min, long max)
{
    long v = UNTOUCHED_LONG;

    assert_false(parse_long(s, min, max, &v));
    assert_int_equal(UNTOUCHED_LONG, v);
}

static void
test_util_parse_long_accepts_values_in_range(void **state)
{
    expect_long("0", 0, 65535, 0);
    expect_long("8080", 0, 65535, 8080);
    expect_long("65535", 0, 65535, 65535);
    expect_long("007", 0, 10, 7);
}

static void
test_util_parse_long_rejects_values_out_of_range(void **state)
{
    expect_no_long("65536", 0, 65535);
    expect_no_long("0", 1, 10);
    expect_no_long("11", 1, 10);
}

static void
test_util_parse_long_accepts_negative_only_when_min_is_negative(void **state)
{
    expect_long("-5", -10, 10, -5);
    expect_no_long("-5", 0, 10);
    expect_no_long("-0", 0, 10);
    expect_no_long("+5", 0, 10);
}

static void
test_util_parse_long_rejects_empty_and_null(void **state)
{
    long v = UNTOUCHED_LONG;

    expect_no_long("", 0, 10);
    assert_false(parse_long(NULL, 0, 10, &v));
    assert_int_equal(UNTOUCHED_LONG, v);
}

static void
test_util_parse_long_rejects_trailing_garbage(void **state)
{
    expect_no_long("5 ", 0, 10);
    expect_no_long("5x", 0, 10);
    expect_no_long("1.5", 0, 10);
    expect_no_long("1e3", 0, 10000);
    expect_no_long("0x10", 0, 100);
}

static void
test_util_parse_long_rejects_leading_whitespace(void **state)
{
    /* "the whole string": strtol would skip any isspace() prefix. */
    expect_no_long(" 5", 0, 10);
    expect_no_long("\t5", 0, 10);
    expect_no_long("\n5", 0, 10);
    expect_no_long("\r5", 0, 10);
    expect_no_long("\v5", 0, 10);
    expect_no_long("\f5", 0, 10);
    expect_no_long(" -5", -10, 10);
}

static void
test_util_parse_long_rejects_overflow(void **state)
{
    expect_no_long("99999999999999999999", 0, LONG_MAX);
    expect_no_long("-99999999999999999999", LONG_MIN, 0);
    expect_long("9223372036854775807", 0, LONG_MAX, LONG_MAX);
}

/* ---- utc_stamp --------------------------------------------------------- */

static bool
is_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
    }
    return true;
}

static int
two_digits(const char *s)
{
    return (s[0] - '0') * 10 + (s[1] - '0');
}

static void
test_util_utc_stamp_has_rfc3339_microsecond_format(void **state)
{
    char buf[UTC_STAMP_LEN + 1];

    memset(buf, 'x', sizeof(buf));
    utc_stamp(buf, sizeof(buf));
    /* YYYY-MM-DDTHH:MM:SS.ffffffZ */
    assert_int_equal(UTC_STAMP_LEN, strlen(buf));
    assert_int_equal(27, strlen(buf));
    assert_true(is_digits(buf, 4));
    assert_int_equal('-', buf[4]);
    assert_true(is_digits(buf + 5, 2));
    assert_int_equal('-', buf[7]);
    assert_true(is_digits(buf + 8, 2));
    assert_int_equal('T', buf[10]);
    assert_true(is_digits(buf + 11, 2));
    assert_int_equal(':', buf[13]);
    assert_true(is_digits(buf + 14, 2));
    assert_int_equal(':', buf[16]);
    assert_true(is_digits(buf + 17, 2));
    assert_int_equal('.', buf[19]);
    assert_true(is_digits(buf + 20, 6));
    assert_int_equal('Z', buf[26]);
    assert_int_equal('\0', buf[27]);
    assert_in_range(two_digits(buf + 5), 1, 12);
    assert_in_range(two_digits(buf + 8), 1, 31);
    assert_in_range(two_digits(buf + 11), 0, 23);
    assert_in_range(two_digits(buf + 14), 0, 59);
    assert_in_range(two_digits(buf + 17), 0, 60);
}

static void
test_util_utc_stamp_truncates_to_buffer(void **state)
{
    char buf[11];

    memset(buf, 'x', sizeof(buf));
    utc_stamp(buf, sizeof(buf));
    assert_int_equal(10, strlen(buf));   /* "YYYY-MM-DD", NUL-terminated */
    assert_int_equal('-', buf[4]);
    assert_int_equal('-', buf[7]);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_util_parse_id_accepts_plain_decimal),
        cmocka_unit_test(test_util_parse_id_accepts_leading_zeros),
        cmocka_unit_test(test_util_parse_id_rejects_zero),
        cmocka_unit_test(test_util_parse_id_rejects_signs),
        cmocka_unit_test(test_util_parse_id_rejects_empty),
        cmocka_unit_test(test_util_parse_id_rejects_non_digits),
        cmocka_unit_test(test_util_parse_id_rejects_spaces),
        cmocka_unit_test(test_util_parse_id_accepts_int64_max),
        cmocka_unit_test(test_util_parse_id_rejects_int64_max_plus_one),
        cmocka_unit_test(test_util_parse_id_rejects_twenty_digits),
        cmocka_unit_test(test_util_parse_id_reads_exactly_len_bytes),
        cmocka_unit_test(test_util_parse_long_accepts_values_in_range),
        cmocka_unit_test(test_util_parse_long_rejects_values_out_of_range),
        cmocka_unit_test(test_util_parse_long_accepts_negative_only_when_min_is_negative),
        cmocka_unit_test(test_util_parse_long_rejects_empty_and_null),
        cmocka_unit_test(test_util_parse_long_rejects_trailing_garbage),
        cmocka_unit_test(test_util_parse_long_rejects_leading_whitespace),
        cmocka_unit_test(test_util_parse_long_rejects_overflow),
        cmocka_unit_test(test_util_utc_stamp_has_rfc3339_microsecond_format),
        cmocka_unit_test(test_util_utc_stamp_truncates_to_buffer),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
