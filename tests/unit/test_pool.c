/* SPDX-License-Identifier: MIT
 * test_pool.c - orm/pool.c with the real SQLite backend on a temporary file
 * (the shared fixture, tests/lib/testdb.h).
 *
 * Acquire and release, the timeout (USV_UNAVAILABLE, *out untouched),
 * reuse of released connections, broken connections discarded and their
 * slot reconnected, a failing connect giving its slot back, waiters woken by
 * a release, and N threads x M acquire/release on a pool of 2 that never
 * hold more than 2 connections at once; a full database (USV_DB_FULL from
 * a wrapped open()) waited out for the pool's own connection, counted, and
 * tried again; idle connections beyond the minimum closed by the reaper.
 * No check depends on elapsed time: timeouts are only ever expected when
 * the pool is provably exhausted. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "orm/orm.h"
#include "orm/orm_int.h"
#include "orm/watchdog.h"

static const struct orm_limits test_limits = {0};
static struct watchdog *test_wd;   /* one for the whole run */
#include "orm/pool.h"
#include "tests/lib/testdb.h"

extern const struct orm_backend orm_backend_sqlite;

/* Long enough never to expire on a loaded machine or under valgrind. */
#define LONG_WAIT_MS 60000u

struct fixture {
    struct testdb tdb;           /* the shared throwaway-database fixture */
    void *cfg;                   /* the backend's configuration of tdb.url */
};

/* The SQLite backend's configuration of @url (orm_backend_configure()). */
static void *
configure(const char *url)
{
    const struct orm_backend *be = NULL;
    void *cfg = NULL;
    char err[256] = "";

    if (orm_backend_configure(url, &be, &cfg, err, sizeof(err)) != USV_OK)
        fail_msg("configure %s: %s", url, err);
    assert_ptr_equal(&orm_backend_sqlite, be);
    return cfg;
}

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (f == NULL)
        return -1;
    *state = f;
    if (testdb_create(&f->tdb, "sqlite", "pool") != TESTDB_OK)
        return -1;
    f->cfg = configure(f->tdb.url);
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    orm_backend_sqlite.free_config(f->cfg);
    testdb_destroy(&f->tdb);
    free(f);
    return 0;
}

static struct pool *
make_pool(void **state, unsigned size)
{
    struct fixture *f = *state;
    struct pool *p = NULL;

    assert_int_equal(USV_OK, pool_create(&orm_backend_sqlite, f->cfg, size, 0, &test_limits,
                                         test_wd, &p));
    assert_non_null(p);
    return p;
}

static struct orm_pool_stats
stats_of(struct pool *p)
{
    struct orm_pool_stats s;

    memset(&s, 0xA5, sizeof(s));
    pool_stats(p, &s);
    return s;
}

static void
sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* ---- single thread ------------------------------------------------------ */

static void
test_pool_create_opens_no_connection(void **state)
{
    struct pool *p = make_pool(state, 3);
    struct orm_pool_stats s = stats_of(p);

    assert_int_equal(3, s.size);
    assert_int_equal(0, s.open);
    assert_int_equal(0, s.in_use);
    assert_int_equal(0, s.waiting);
    assert_int_equal(0, s.acquired);
    assert_int_equal(0, s.connects);
    assert_int_equal(0, s.timeouts);
    assert_int_equal(0, s.connect_failures);
    assert_int_equal(0, s.discarded);
    pool_destroy(p);
}

static void
test_pool_acquire_and_release(void **state)
{
    struct pool *p = make_pool(state, 2);
    struct orm_conn *c = NULL;
    struct orm_pool_stats s;

    assert_int_equal(USV_OK, pool_acquire(p, LONG_WAIT_MS, &c));
    assert_non_null(c);
    assert_false(c->is_broken);
    /* The connection works. */
    assert_int_equal(USV_OK, orm_backend_sqlite.ping(c));
    s = stats_of(p);
    assert_int_equal(1, s.open);
    assert_int_equal(1, s.in_use);
    assert_int_equal(1, s.acquired);
    assert_int_equal(1, s.connects);
    pool_release(p, c);
    s = stats_of(p);
    assert_int_equal(1, s.open);   /* kept for reuse */
    assert_int_equal(0, s.in_use);
    pool_destroy(p);
}

static void
test_pool_release_and_destroy_accept_null(void **state)
{
    struct pool *p = make_pool(state, 1);

    pool_release(p, NULL);
    assert_int_equal(0, stats_of(p).in_use);
    pool_destroy(p);
    pool_destroy(NULL);
}

static void
test_pool_acquire_times_out_when_exhausted(void **state)
{
    struct pool *p = make_pool(state, 1);
    struct orm_conn *a = NULL;
    struct orm_conn *const untouched = (struct orm_conn *)(uintptr_t)0x5A5A5A50u;
    struct orm_conn *b = untouched;
    struct orm_pool_stats s;

    assert_int_equal(USV_OK, pool_acquire(p, 0, &a));
    assert_int_equal(USV_UNAVAILABLE, pool_acquire(p, 10, &b));
    assert_ptr_equal(untouched, b);
    assert_int_equal(USV_UNAVAILABLE, pool_acquire(p, 0, &b));
    assert_ptr_equal(untouched, b);
    s = stats_of(p);
    assert_int_equal(2, s.timeouts);
    assert_int_equal(1, s.in_use);
    assert_int_equal(1, s.open);
    assert_int_equal(1, s.acquired);
    assert_int_equal(0, s.waiting);
    pool_release(p, a);
    pool_destroy(p);
}

static void
test_pool_released_connection_is_reused(void **state)
{
    struct pool *p = make_pool(state, 2);
    struct orm_conn *a = NULL, *b = NULL;
    struct orm_pool_stats s;

    assert_int_equal(USV_OK, pool_acquire(p, LONG_WAIT_MS, &a));
    pool_release(p, a);
    assert_int_equal(USV_OK, pool_acquire(p, LONG_WAIT_MS, &b));
    assert_ptr_equal(a, b);
    s = stats_of(p);
    assert_int_equal(1, s.connects);
    assert_int_equal(2, s.acquired);
    assert_int_equal(1, s.open);
    pool_release(p, b);
    pool_destroy(p);
}

static void
test_pool_full_pool_of_distinct_connections(void **state)
{
    struct pool *p = make_pool(state, 3);
    struct orm_conn *c[3] = {NULL, NULL, NULL};
    struct orm_conn *extra = NULL;

    for (size_t i = 0; i < 3; i++)
        assert_int_equal(USV_OK, pool_acquire(p, LONG_WAIT_MS, &c[i]));
    assert_true(c[0] != c[1] && c[1] != c[2] && c[0] != c[2]);
    assert_int_equal(3, stats_of(p).in_use);
    assert_int_equal(USV_UNAVAILABLE, pool_acquire(p, 0, &extra));
    assert_null(extra);
    for (size_t i = 0; i < 3; i++)
        pool_release(p, c[i]);
    /* All idle now: the next three acquisitions reuse them, none connects. */
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(USV_OK, pool_acquire(p, 0, &c[i]));
    assert_int_equal(3, stats_of(p).connects);
    for (size_t i = 0; i < 3; i++)
        pool_release(p, c[i]);
    pool_destroy(p);
}

static void
test_pool_broken_connection_is_discarded_and_its_slot_reconnects(void **state)
{
    struct pool *p = make_pool(state, 1);
    struct orm_conn *a = NULL, *b = NULL;
    struct orm_pool_stats s;

    assert_int_equal(USV_OK, pool_acquire(p, LONG_WAIT_MS, &a));
    a->is_broken = true;
    pool_release(p, a);
    s = stats_of(p);
    assert_int_equal(1, s.discarded);
    assert_int_equal(0, s.open);
    assert_int_equal(0, s.in_use);
    /* The slot is free again: a pool of one can still hand out a connection,
     * a fresh one, without waiting. */
    assert_int_equal(USV_OK, pool_acquire(p, 0, &b));
    assert_non_null(b);
    assert_false(b->is_broken);
    assert_int_equal(USV_OK, orm_backend_sqlite.ping(b));
    s = stats_of(p);
    assert_int_equal(2, s.connects);
    assert_int_equal(1, s.open);
    assert_int_equal(1, s.in_use);
    assert_int_equal(0, s.timeouts);
    pool_release(p, b);
    pool_destroy(p);
}

static void
test_pool_failed_connect_returns_unavailable_and_frees_the_slot(void **state)
{
    struct fixture *f = *state;
    char url[160];
    void *cfg;
    struct pool *p = NULL;
    struct orm_conn *const untouched = (struct orm_conn *)(uintptr_t)0x5A5A5A50u;
    struct orm_conn *c = untouched;
    struct orm_pool_stats s;

    /* A directory that does not exist: SQLite cannot create the file. */
    snprintf(url, sizeof(url), "sqlite:%s/missing/pool.db", f->tdb.dir);
    cfg = configure(url);
    assert_int_equal(USV_OK, pool_create(&orm_backend_sqlite, cfg, 1, 0, &test_limits, test_wd,
                                         &p));
    assert_int_equal(USV_UNAVAILABLE, pool_acquire(p, LONG_WAIT_MS, &c));
    assert_ptr_equal(untouched, c);
    /* The slot was given back, so the second try connects again, not times out. */
    assert_int_equal(USV_UNAVAILABLE, pool_acquire(p, LONG_WAIT_MS, &c));
    assert_ptr_equal(untouched, c);
    s = stats_of(p);
    assert_int_equal(2, s.connect_failures);
    assert_int_equal(0, s.connects);
    assert_int_equal(0, s.timeouts);
    assert_int_equal(0, s.open);
    assert_int_equal(0, s.in_use);
    pool_destroy(p);
    orm_backend_sqlite.free_config(cfg);
}

static void
test_pool_idle_connection_that_answers_is_reused_after_the_idle_check(void **state)
{
    struct fixture *f = *state;
    struct pool *p = NULL;
    struct orm_conn *a = NULL, *b = NULL;

    assert_int_equal(USV_OK, pool_create(&orm_backend_sqlite, f->cfg, 1, 1, &test_limits, test_wd,
                                         &p));
    assert_int_equal(USV_OK, pool_acquire(p, LONG_WAIT_MS, &a));
    pool_release(p, a);
    sleep_ms(5);   /* idle longer than idle_check_ms: acquire pings first */
    assert_int_equal(USV_OK, pool_acquire(p, LONG_WAIT_MS, &b));
    assert_ptr_equal(a, b);
    assert_int_equal(0, stats_of(p).discarded);
    assert_int_equal(1, stats_of(p).connects);
    pool_release(p, b);
    pool_destroy(p);
}

/* ---- waiting ------------------------------------------------------------ */

struct waiter {
    struct pool *pool;
    struct orm_conn *conn;
    enum usv_err rc;
};

static void *
wait_for_connection(void *arg)
{
    struct waiter *w = arg;

    w->rc = pool_acquire(w->pool, LONG_WAIT_MS, &w->conn);
    return NULL;
}

/* Poll (bounded) until @n threads wait on @p. */
static void
await_waiters(struct pool *p, unsigned n)
{
    for (unsigned i = 0; i < 20000 && stats_of(p).waiting < n; i++)
        sleep_ms(1);
    assert_int_equal(n, stats_of(p).waiting);
}

static void
test_pool_release_wakes_a_waiter(void **state)
{
    struct pool *p = make_pool(state, 1);
    struct orm_conn *a = NULL;
    struct waiter w = {.pool = p, .conn = NULL, .rc = USV_INTERNAL};
    pthread_t t;

    assert_int_equal(USV_OK, pool_acquire(p, LONG_WAIT_MS, &a));
    assert_int_equal(0, pthread_create(&t, NULL, wait_for_connection, &w));
    await_waiters(p, 1);
    pool_release(p, a);
    assert_int_equal(0, pthread_join(t, NULL));
    assert_int_equal(USV_OK, w.rc);
    assert_ptr_equal(a, w.conn);
    assert_int_equal(0, stats_of(p).timeouts);
    pool_release(p, w.conn);
    pool_destroy(p);
}

static void
test_pool_discarding_a_broken_connection_wakes_a_waiter(void **state)
{
    struct pool *p = make_pool(state, 1);
    struct orm_conn *a = NULL;
    struct waiter w = {.pool = p, .conn = NULL, .rc = USV_INTERNAL};
    pthread_t t;

    assert_int_equal(USV_OK, pool_acquire(p, LONG_WAIT_MS, &a));
    assert_int_equal(0, pthread_create(&t, NULL, wait_for_connection, &w));
    await_waiters(p, 1);
    a->is_broken = true;
    pool_release(p, a);
    assert_int_equal(0, pthread_join(t, NULL));
    assert_int_equal(USV_OK, w.rc);
    assert_non_null(w.conn);
    assert_false(w.conn->is_broken);
    assert_int_equal(2, stats_of(p).connects);
    assert_int_equal(1, stats_of(p).discarded);
    pool_release(p, w.conn);
    pool_destroy(p);
}

/* ---- many threads ------------------------------------------------------- */

#define N_THREADS 8
#define N_ROUNDS 200
#define POOL_SIZE 2
#define BREAK_EVERY 37   /* rounds; exercises discard and reconnect under load */

struct hammer {
    struct pool *pool;
    atomic_uint *in_use;      /* connections held right now, by our count */
    atomic_uint *max_in_use;
    unsigned failures;        /* acquire or query errors of this thread */
    unsigned broken;          /* connections this thread marked broken */
};

static void *
hammer_pool(void *arg)
{
    struct hammer *h = arg;

    for (unsigned round = 0; round < N_ROUNDS; round++) {
        struct orm_conn *c = NULL;
        unsigned now, max;

        if (pool_acquire(h->pool, LONG_WAIT_MS, &c) != USV_OK) {
            h->failures++;
            continue;
        }
        now = atomic_fetch_add(h->in_use, 1) + 1;
        max = atomic_load(h->max_in_use);
        while (now > max && !atomic_compare_exchange_weak(h->max_in_use, &max, now))
            ;
        /* Hold it for a real query, so threads overlap. */
        if (orm_backend_sqlite.ping(c) != USV_OK)
            h->failures++;
        if ((round + 1) % BREAK_EVERY == 0) {
            c->is_broken = true;
            h->broken++;
        }
        atomic_fetch_sub(h->in_use, 1);
        pool_release(h->pool, c);
    }
    return NULL;
}

static void
test_pool_threads_never_exceed_the_bound_and_all_finish(void **state)
{
    struct pool *p = make_pool(state, POOL_SIZE);
    atomic_uint in_use = 0, max_in_use = 0;
    struct hammer h[N_THREADS];
    pthread_t t[N_THREADS];
    unsigned failures = 0, broken = 0;
    struct orm_pool_stats s;

    for (size_t i = 0; i < N_THREADS; i++) {
        h[i] = (struct hammer){.pool = p, .in_use = &in_use, .max_in_use = &max_in_use};
        assert_int_equal(0, pthread_create(&t[i], NULL, hammer_pool, &h[i]));
    }
    for (size_t i = 0; i < N_THREADS; i++) {
        assert_int_equal(0, pthread_join(t[i], NULL));
        failures += h[i].failures;
        broken += h[i].broken;
    }
    assert_int_equal(0, failures);
    assert_in_range(atomic_load(&max_in_use), 1, POOL_SIZE);
    assert_int_equal(0, atomic_load(&in_use));
    s = stats_of(p);
    assert_int_equal(N_THREADS * N_ROUNDS, s.acquired);
    assert_int_equal(0, s.timeouts);
    assert_int_equal(0, s.in_use);
    assert_int_equal(0, s.waiting);
    assert_in_range(s.open, 1, POOL_SIZE);
    assert_int_equal(broken, s.discarded);
    assert_true(broken > 0);
    /* Every connection ever opened is either still open or was discarded. */
    assert_int_equal(s.connects, s.open + s.discarded);
    pool_destroy(p);
}

/* ---- a full database (issue 18) ------------------------------------------ */

/* The SQLite backend, except that open() answers USV_DB_FULL ("too many
 * clients") while full_refusals_left > 0 (-1: for ever). */
static _Atomic int full_refusals_left;
static struct orm_backend full_backend;

static enum usv_err
open_or_full(const void *cfg, const struct orm_limits *lim, struct orm_conn **out, char *err,
             size_t errlen)
{
    int left = atomic_load(&full_refusals_left);

    while (left != 0) {
        if (left < 0 || atomic_compare_exchange_weak(&full_refusals_left, &left, left - 1)) {
            snprintf(err, errlen, "FATAL: sorry, too many clients already");
            return USV_DB_FULL;
        }
    }
    return orm_backend_sqlite.open(cfg, lim, out, err, errlen);
}

static struct pool *
make_full_pool(void **state, unsigned size, int refusals)
{
    struct fixture *f = *state;
    struct pool *p = NULL;

    full_backend = orm_backend_sqlite;
    full_backend.open = open_or_full;
    atomic_store(&full_refusals_left, refusals);
    assert_int_equal(USV_OK, pool_create(&full_backend, f->cfg, size, 0, &test_limits, test_wd,
                                         &p));
    return p;
}

static void
test_pool_full_database_waits_for_a_connection_of_its_own(void **state)
{
    struct pool *p = make_full_pool(state, 2, 0);
    struct waiter w = {0};
    struct orm_conn *a = NULL;
    pthread_t t;
    struct orm_pool_stats s;

    assert_int_equal(USV_OK, pool_acquire(p, LONG_WAIT_MS, &a));
    atomic_store(&full_refusals_left, -1);
    w.pool = p;
    assert_int_equal(0, pthread_create(&t, NULL, wait_for_connection, &w));
    /* The second slot's attempt is refused as full: it waits, no 503. */
    for (unsigned i = 0; i < 20000 && stats_of(p).connect_refused_full == 0; i++)
        sleep_ms(1);
    assert_true(stats_of(p).connect_refused_full >= 1);
    assert_true(pool_is_full(p));
    pool_release(p, a);
    assert_int_equal(0, pthread_join(t, NULL));
    assert_int_equal(USV_OK, w.rc);
    assert_ptr_equal(a, w.conn);   /* its own connection, come back */
    s = stats_of(p);
    assert_int_equal(0, s.timeouts);
    assert_int_equal(1, s.connects);
    pool_release(p, w.conn);
    pool_destroy(p);
}

static void
test_pool_full_database_until_the_deadline_is_a_counted_timeout(void **state)
{
    struct pool *p = make_full_pool(state, 1, -1);
    struct orm_conn *const untouched = (struct orm_conn *)(uintptr_t)0x5A5A5A50u;
    struct orm_conn *c = untouched;
    struct orm_pool_stats s;

    assert_int_equal(USV_UNAVAILABLE, pool_acquire(p, 200, &c));
    assert_ptr_equal(untouched, c);
    s = stats_of(p);
    assert_int_equal(1, s.timeouts);           /* the alert series */
    assert_true(s.connect_refused_full >= 1);
    /* One attempt at a time, after a backoff: never one per millisecond. */
    assert_true(s.connect_refused_full <= 10);
    assert_int_equal(0, s.open);
    assert_int_equal(0, s.in_use);
    pool_destroy(p);
}

static void
test_pool_full_database_is_tried_again_and_recovers(void **state)
{
    struct pool *p = make_full_pool(state, 1, 2);
    struct orm_conn *c = NULL;

    assert_int_equal(USV_OK, pool_acquire(p, LONG_WAIT_MS, &c));
    assert_non_null(c);
    assert_int_equal(2, stats_of(p).connect_refused_full);
    assert_int_equal(0, stats_of(p).timeouts);
    assert_false(pool_is_full(p));
    pool_release(p, c);
    pool_destroy(p);
}

static void
test_pool_idle_connections_beyond_the_minimum_are_closed(void **state)
{
    struct pool *p = make_pool(state, 3);
    struct orm_conn *c[3] = {NULL};
    struct orm_pool_stats s;

    pool_set_idle_limit(p, 1, 20);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(USV_OK, pool_acquire(p, LONG_WAIT_MS, &c[i]));
    for (size_t i = 0; i < 3; i++)
        pool_release(p, c[i]);
    for (unsigned i = 0; i < 20000 && stats_of(p).open > 1; i++)
        sleep_ms(1);
    s = stats_of(p);
    assert_int_equal(1, s.open);
    assert_int_equal(1, s.idle);
    assert_int_equal(2, s.idle_closed);
    /* The one kept is the one used last (LIFO), and it still works. */
    assert_int_equal(USV_OK, pool_acquire(p, LONG_WAIT_MS, &c[0]));
    assert_ptr_equal(c[2], c[0]);
    pool_release(p, c[0]);
    pool_destroy(p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pool_create_opens_no_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool_acquire_and_release, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool_release_and_destroy_accept_null, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pool_acquire_times_out_when_exhausted, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pool_released_connection_is_reused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pool_full_pool_of_distinct_connections, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_pool_broken_connection_is_discarded_and_its_slot_reconnects, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_pool_failed_connect_returns_unavailable_and_frees_the_slot, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_pool_idle_connection_that_answers_is_reused_after_the_idle_check, setup,
            teardown),
        cmocka_unit_test_setup_teardown(test_pool_release_wakes_a_waiter, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_pool_discarding_a_broken_connection_wakes_a_waiter, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_pool_threads_never_exceed_the_bound_and_all_finish, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_pool_full_database_waits_for_a_connection_of_its_own, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_pool_full_database_until_the_deadline_is_a_counted_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_pool_full_database_is_tried_again_and_recovers, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_pool_idle_connections_beyond_the_minimum_are_closed, setup, teardown),
    };
    int failed;

    watchdog_create(&test_wd);
    failed = cmocka_run_group_tests(tests, NULL, NULL);
    watchdog_destroy(test_wd);
    return failed;
}
