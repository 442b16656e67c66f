/* SPDX-License-Identifier: MIT
 * test_err.c - base/err.c: the error table gives every code a status, a
 * title and a default detail (issue 14: details live in the table, so they
 * cannot drift), and out-of-range codes read as internal errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"

static const enum usv_err all[] = {
#define X(name, status, title, detail) USV_##name,
    USV_ERR_TABLE(X)
#undef X
};

static void
test_err_every_code_has_status_title_detail_and_name(void **state)
{
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        int st = usv_err_http_status(all[i]);

        assert_true(st >= 200 && st <= 599);
        assert_true(strlen(usv_err_title(all[i])) > 0);
        assert_true(strlen(usv_err_detail(all[i])) > 0);
        assert_true(strlen(usv_err_name(all[i])) > 0);
    }
}

static void
test_err_details_say_what_clients_need(void **state)
{
    assert_int_equal(409, usv_err_http_status(USV_CONFLICT));
    assert_string_equal("the request conflicts with the current state of the resource",
                        usv_err_detail(USV_CONFLICT));
    assert_string_equal("no such resource", usv_err_detail(USV_NOT_FOUND));
    assert_string_equal(usv_err_detail(USV_UNAVAILABLE), usv_err_detail(USV_RETRY));
    /* A 500 never says more than that the log has it. */
    assert_string_equal("internal error; the server log has the details",
                        usv_err_detail(USV_INTERNAL));
    assert_string_equal(usv_err_detail(USV_INTERNAL), usv_err_detail(USV_NOMEM));
    /* The refusals of the front door and of the bearer-token guard explain
     * themselves instead of repeating their titles. */
    {
        static const enum usv_err explained[] = {USV_NOT_IMPLEMENTED, USV_BAD_VERSION,
                                                 USV_URI_TOO_LONG, USV_HEAD_TOO_LARGE,
                                                 USV_UNAUTHORIZED, USV_FORBIDDEN};

        for (size_t i = 0; i < sizeof(explained) / sizeof(explained[0]); i++)
            assert_string_not_equal(usv_err_title(explained[i]), usv_err_detail(explained[i]));
    }
}

static void
test_err_unknown_codes_are_internal(void **state)
{
    enum usv_err bogus = (enum usv_err)(sizeof(all) / sizeof(all[0]) + 7);

    assert_int_equal(500, usv_err_http_status(bogus));
    assert_string_equal("Internal Server Error", usv_err_title(bogus));
    assert_string_equal(usv_err_detail(USV_INTERNAL), usv_err_detail(bogus));
    assert_string_equal("UNKNOWN", usv_err_name(bogus));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_err_every_code_has_status_title_detail_and_name),
        cmocka_unit_test(test_err_details_say_what_clients_need),
        cmocka_unit_test(test_err_unknown_codes_are_internal),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
