/* SPDX-License-Identifier: MIT
 * test_log.c - base/log.c: lines carry the request id of the thread that
 * writes them (issue 14), in text and JSON, set and cleared per thread, and
 * not twice where a caller passes its own request_id field. stderr is
 * redirected to a temporary file for the checks. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/log.h"

struct capture {
    char path[64];
    int fd, saved;
};

/* Send stderr to a new temporary file. */
static void
capture_start(struct capture *c)
{
    snprintf(c->path, sizeof(c->path), "/tmp/usersvc-test-log-XXXXXX");
    c->fd = mkstemp(c->path);
    assert_true(c->fd >= 0);
    c->saved = dup(STDERR_FILENO);
    assert_true(c->saved >= 0);
    assert_true(dup2(c->fd, STDERR_FILENO) >= 0);
}

/* Restore stderr; return what was written (new string). */
static char *
capture_end(struct capture *c)
{
    FILE *f;
    char *text = calloc(1, 65536);

    assert_non_null(text);
    assert_true(dup2(c->saved, STDERR_FILENO) >= 0);
    close(c->saved);
    f = fdopen(c->fd, "r");
    assert_non_null(f);
    rewind(f);
    assert_true(fread(text, 1, 65535, f) < 65535);
    fclose(f);
    unlink(c->path);
    return text;
}

static void
test_log_lines_carry_the_request_id_until_cleared(void **state)
{
    struct capture c;
    char *out;

    log_setup(LOG_INFO, false);
    capture_start(&c);
    log_info("orm", "before");
    log_set_request_id("rid-123");
    log_error("orm", "while serving");
    assert_string_equal("rid-123", log_request_id());
    log_set_request_id(NULL);
    log_info("orm", "after");
    out = capture_end(&c);
    assert_non_null(strstr(out, "INFO orm before\n"));
    assert_non_null(strstr(out, "ERROR orm while serving request_id=rid-123\n"));
    assert_non_null(strstr(out, "INFO orm after\n"));
    free(out);
}

static void
test_log_json_lines_carry_the_request_id(void **state)
{
    struct capture c;
    char *out;

    log_setup(LOG_INFO, true);
    capture_start(&c);
    log_set_request_id("abc-1");
    log_warn("orm", "slow");
    log_set_request_id("");
    out = capture_end(&c);
    log_setup(LOG_INFO, false);
    assert_non_null(strstr(out, "\"msg\":\"slow\",\"request_id\":\"abc-1\"}"));
    free(out);
}

static void
test_log_fields_do_not_repeat_a_given_request_id(void **state)
{
    const struct log_field access[] = {{"status", NULL, 200}, {"request_id", "own", 0}};
    const struct log_field other[] = {{"status", NULL, 500}};
    struct capture c;
    char *out;

    log_setup(LOG_INFO, false);
    capture_start(&c);
    log_set_request_id("tl-9");
    log_fields(LOG_INFO, "http", "request", access, 2);
    log_fields(LOG_INFO, "http", "other", other, 1);
    log_set_request_id(NULL);
    out = capture_end(&c);
    assert_non_null(strstr(out, "http request status=200 request_id=own\n"));
    assert_non_null(strstr(out, "http other status=500 request_id=tl-9\n"));
    assert_null(strstr(out, "request_id=own request_id"));
    free(out);
}

/* Each thread logs under its own id: a thread-local, not a global. */
static void *
log_as(void *arg)
{
    const char *rid = arg;

    log_set_request_id(rid);
    for (int i = 0; i < 50; i++)
        log_info("orm", "from %s", rid);
    log_set_request_id(NULL);
    return NULL;
}

static void
test_log_request_id_is_per_thread(void **state)
{
    static const char *const rids[] = {"t-a", "t-b", "t-c"};
    pthread_t th[3];
    struct capture c;
    char *out, *line, *save = NULL;
    unsigned n = 0;

    log_setup(LOG_INFO, false);
    capture_start(&c);
    for (int i = 0; i < 3; i++)
        assert_int_equal(0, pthread_create(&th[i], NULL, log_as, (void *)(uintptr_t)rids[i]));
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    out = capture_end(&c);
    for (line = strtok_r(out, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        const char *from = strstr(line, "from ");
        char want[32];

        assert_non_null(from);
        snprintf(want, sizeof(want), "request_id=%.3s", from + 5);
        if (strstr(line, want) == NULL)
            fail_msg("line of another thread's request: %s", line);
        n++;
    }
    assert_int_equal(150, n);
    free(out);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_lines_carry_the_request_id_until_cleared),
        cmocka_unit_test(test_log_json_lines_carry_the_request_id),
        cmocka_unit_test(test_log_fields_do_not_repeat_a_given_request_id),
        cmocka_unit_test(test_log_request_id_is_per_thread),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
