/* SPDX-License-Identifier: MIT
 * test_watchdog.c - orm/watchdog.c on real sockets (socketpair).
 *
 * A blocking read on a socket nobody writes to stands for a driver waiting
 * on a silent network: the watchdog must end it at the deadline, and only
 * then; a disarmed entry must leave its socket alone, even when its
 * deadline passes afterwards. No check depends on speed: a read that must
 * end has a 20 s receive timeout as a backstop (end of file, 0, is the
 * watchdog's doing; -1 the backstop's), and one that must not end is
 * checked after its deadline has passed. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "orm/watchdog.h"
#include "base/util.h"

static void
pair(int fds[2])
{
    /* A backstop so a broken watchdog fails the test instead of hanging it. */
    struct timeval tv = {.tv_sec = 20, .tv_usec = 0};

    assert_int_equal(0, socketpair(AF_UNIX, SOCK_STREAM, 0, fds));
    assert_int_equal(0, setsockopt(fds[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)));
}

static void
test_watchdog_ends_a_blocked_read_at_the_deadline(void **state)
{
    struct watchdog *w = NULL;
    struct watchdog_entry e;
    int fds[2];
    char c;
    uint64_t t0, deadline;
    ssize_t n;

    watchdog_create(&w);
    pair(fds);
    t0 = monotonic_ms();
    deadline = t0 + 100;
    watchdog_arm(w, &e, fds[0], deadline);
    n = read(fds[0], &c, 1);        /* nobody writes: only the watchdog ends it */
    assert_int_equal(0, n);          /* shut down: end of file, not the 20 s backstop */
    assert_true(monotonic_ms() >= deadline);
    assert_true(watchdog_disarm(w, &e));
    close(fds[0]);
    close(fds[1]);
    watchdog_destroy(w);
}

static void
test_watchdog_disarmed_entry_leaves_its_socket_alone(void **state)
{
    const struct timespec wait = {.tv_sec = 0, .tv_nsec = 200 * 1000 * 1000};
    struct watchdog *w = NULL;
    struct watchdog_entry e;
    int fds[2];
    char c = 'x';

    watchdog_create(&w);
    pair(fds);
    watchdog_arm(w, &e, fds[0], monotonic_ms() + 50);
    assert_false(watchdog_disarm(w, &e));
    nanosleep(&wait, NULL);         /* past the deadline it had */
    assert_int_equal(1, write(fds[1], &c, 1));
    assert_int_equal(1, read(fds[0], &c, 1));
    assert_int_equal('x', c);
    close(fds[0]);
    close(fds[1]);
    watchdog_destroy(w);
}

static void
test_watchdog_cuts_the_socket_even_after_the_driver_closed_its_descriptor(void **state)
{
    struct watchdog *w = NULL;
    struct watchdog_entry e;
    int fds[2], other;
    char c;

    watchdog_create(&w);
    pair(fds);
    other = dup(fds[0]);
    assert_true(other >= 0);
    /* The watchdog keeps its own duplicate: closing the armed descriptor
     * (a reconnect in place) neither confuses it nor touches another file
     * that reuses the number. */
    watchdog_arm(w, &e, fds[0], monotonic_ms() + 100);
    close(fds[0]);
    assert_int_equal(0, read(other, &c, 1));
    assert_true(watchdog_disarm(w, &e));
    close(other);
    close(fds[1]);
    watchdog_destroy(w);
}

static void
test_watchdog_fires_the_earliest_of_several_first(void **state)
{
    struct watchdog *w = NULL;
    struct watchdog_entry late, early;
    int a[2], b[2];
    char c = 'y';

    watchdog_create(&w);
    pair(a);
    pair(b);
    watchdog_arm(w, &late, a[0], monotonic_ms() + 60000);
    watchdog_arm(w, &early, b[0], monotonic_ms() + 50);   /* armed later, due sooner */
    assert_int_equal(0, read(b[0], &c, 1));
    assert_true(watchdog_disarm(w, &early));
    assert_false(watchdog_disarm(w, &late));
    assert_int_equal(1, write(a[1], &c, 1));
    assert_int_equal(1, read(a[0], &c, 1));
    close(a[0]);
    close(a[1]);
    close(b[0]);
    close(b[1]);
    watchdog_destroy(w);
}

static void
test_watchdog_without_a_socket_arms_nothing(void **state)
{
    struct watchdog *w = NULL;
    struct watchdog_entry e;

    watchdog_create(&w);
    watchdog_arm(w, &e, -1, monotonic_ms());
    assert_int_equal(-1, e.fd);
    assert_false(watchdog_disarm(w, &e));
    watchdog_destroy(w);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_watchdog_ends_a_blocked_read_at_the_deadline),
        cmocka_unit_test(test_watchdog_disarmed_entry_leaves_its_socket_alone),
        cmocka_unit_test(
            test_watchdog_cuts_the_socket_even_after_the_driver_closed_its_descriptor),
        cmocka_unit_test(test_watchdog_fires_the_earliest_of_several_first),
        cmocka_unit_test(test_watchdog_without_a_socket_arms_nothing),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
