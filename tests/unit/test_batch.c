/* SPDX-License-Identifier: MIT
 * test_batch.c - orm/batch.c with a fake lead function and real threads.
 *
 * The fake lead records what it was given (batch sizes, the timeout, which
 * items) and answers each item with an rc derived from the item's id, so a
 * caller that got another caller's outcome, or none, shows. Leads can be held
 * on a gate: while the first batch is held, further callers queue, and what
 * happens to them (one following batch, or a timeout) is observed. Waiting
 * for a state is done on the fake's condition variable; only the batch's
 * queue length, which has no hook, is polled. No check depends on how long
 * anything took, except "the lead was told no more time than is left",
 * whose bound only grows with a slow machine. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "orm/batch.h"
#include "orm/orm_int.h"
#include "base/util.h"

/* Long enough never to expire on a loaded machine or under a sanitizer. */
#define LONG_WAIT_MS 60000u
/* How long the test itself waits for a state it expects before failing. */
#define BOUND_MS 20000u

#define MAX_CALLS 4096
#define MAX_IDS 4096

/* ---- the fake lead function --------------------------------------------- */

struct fake {
    pthread_mutex_t mu;
    pthread_cond_t changed;        /* any field below changed */
    unsigned n_held;               /* the first n_held leads wait for their gate */
    unsigned n_released;           /* leads number < n_released may finish */
    unsigned released_one;         /* lead number + 1 that may finish out of turn (0: none) */
    bool hand_over_last;           /* answer the newest item at once (orm_batch_item_done()):
                                    * not the leader's own, the oldest */
    unsigned handed_id;            /* its id */
    unsigned calls;                /* leads begun */
    unsigned running;              /* leads in progress now */
    unsigned max_running;
    size_t sizes[MAX_CALLS];       /* n of each lead, in order */
    unsigned timeouts[MAX_CALLS];  /* timeout_ms of each lead */
    size_t max_size;
    const struct orm_batch_item *first_item;   /* items[0] of the first lead */
    unsigned seen[MAX_IDS];        /* how often a lead was given each id */
};

/* The outcome the fake gives item @id: never USV_UNAVAILABLE (a timeout). */
static enum usv_err
rc_for(unsigned id)
{
    static const enum usv_err rcs[] = {USV_OK, USV_CONFLICT, USV_NOT_FOUND, USV_INVALID};

    return rcs[id % ARRAY_SIZE(rcs)];
}

static void
fake_init(struct fake *f, unsigned n_held)
{
    memset(f, 0, sizeof(*f));
    assert_int_equal(0, pthread_mutex_init(&f->mu, NULL));
    assert_int_equal(0, pthread_cond_init(&f->changed, NULL));
    f->n_held = n_held;
}

static void
fake_finish(struct fake *f)
{
    pthread_cond_destroy(&f->changed);
    pthread_mutex_destroy(&f->mu);
}

static void
fake_lead(void *ctx, struct orm_batch_item *const *items, size_t n, unsigned timeout_ms)
{
    struct fake *f = ctx;
    unsigned k;

    pthread_mutex_lock(&f->mu);
    k = f->calls++;
    if (k < MAX_CALLS) {
        f->sizes[k] = n;
        f->timeouts[k] = timeout_ms;
    }
    if (k == 0)
        f->first_item = items[0];
    if (n > f->max_size)
        f->max_size = n;
    for (size_t i = 0; i < n; i++) {
        if (items[i]->id < MAX_IDS)
            f->seen[items[i]->id]++;
    }
    if (f->hand_over_last && n > 1) {
        f->hand_over_last = false;
        f->handed_id = items[n - 1]->id;
        items[n - 1]->rc = rc_for(items[n - 1]->id);
        orm_batch_item_done(items[--n]);
    }
    f->running++;
    if (f->running > f->max_running)
        f->max_running = f->running;
    pthread_cond_broadcast(&f->changed);
    while (k < f->n_held && k >= f->n_released && f->released_one != k + 1)
        pthread_cond_wait(&f->changed, &f->mu);
    for (size_t i = 0; i < n; i++)
        items[i]->rc = rc_for(items[i]->id);
    f->running--;
    pthread_cond_broadcast(&f->changed);
    pthread_mutex_unlock(&f->mu);
}

/* Let the first @n leads finish (those held, once they get there). */
static void
release_leads(struct fake *f, unsigned n)
{
    pthread_mutex_lock(&f->mu);
    f->n_released = n;
    pthread_cond_broadcast(&f->changed);
    pthread_mutex_unlock(&f->mu);
}

/* Let lead number @k alone finish, whatever the order. */
static void
release_one(struct fake *f, unsigned k)
{
    pthread_mutex_lock(&f->mu);
    f->released_one = k + 1;
    pthread_cond_broadcast(&f->changed);
    pthread_mutex_unlock(&f->mu);
}

static void
open_gate(struct fake *f)
{
    release_leads(f, UINT_MAX);
}

/* Wait (bounded) until @calls leads have begun and @running are in progress. */
static void
wait_leads(struct fake *f, unsigned calls, unsigned running)
{
    struct timespec deadline;
    unsigned got_calls, got_running;

    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += BOUND_MS / 1000;
    pthread_mutex_lock(&f->mu);
    while (f->calls < calls || f->running < running) {
        if (pthread_cond_timedwait(&f->changed, &f->mu, &deadline) == ETIMEDOUT)
            break;
    }
    got_calls = f->calls;
    got_running = f->running;
    pthread_mutex_unlock(&f->mu);
    if (got_calls < calls || got_running < running)
        fail_msg("%u leads begun and %u running, expected %u and %u", got_calls, got_running,
                 calls, running);
}

/* Wait (bounded) until @want leads are in progress at once. */
static void
wait_running(struct fake *f, unsigned want)
{
    wait_leads(f, 0, want);
}

/* Wait (bounded) until exactly @want items sit in @b's queue. */
static void
wait_queued(struct batch *b, unsigned want)
{
    const struct timespec ms = {.tv_sec = 0, .tv_nsec = 1000 * 1000};
    struct batch_counts bc = {0};

    for (unsigned waited = 0; waited < BOUND_MS; waited++) {
        batch_stats(b, &bc);
        if (bc.queued == want)
            return;
        nanosleep(&ms, NULL);
    }
    fail_msg("%u items queued, expected %u", bc.queued, want);
}

/* ---- callers on threads of their own ------------------------------------ */

struct caller {
    struct batch *b;
    struct orm_batch_item item;
    enum usv_err rc;               /* what batch_run() returned */
    pthread_t thread;
};

static void *
run_caller(void *arg)
{
    struct caller *c = arg;

    c->rc = batch_run(c->b, &c->item);
    return NULL;
}

static void
caller_start(struct caller *c, struct batch *b, unsigned id)
{
    memset(c, 0, sizeof(*c));
    c->b = b;
    c->item.id = id;
    c->item.rc = USV_INTERNAL;     /* what nobody sets it to */
    c->rc = USV_INTERNAL;
    assert_int_equal(0, pthread_create(&c->thread, NULL, run_caller, c));
}

static void
caller_join(struct caller *c)
{
    assert_int_equal(0, pthread_join(c->thread, NULL));
}

static void
assert_stats(struct batch *b, unsigned want_queued, uint64_t want_timeouts)
{
    struct batch_counts bc;

    batch_stats(b, &bc);
    assert_int_equal(want_queued, bc.queued);
    assert_int_equal(want_timeouts, bc.timeouts);
}

/* ---- tests ---------------------------------------------------------------- */

static void
test_batch_single_caller_runs_its_item_alone_and_gets_its_rc(void **state)
{
    struct fake f;
    struct batch *b = NULL;
    struct orm_batch_item item = {.id = 1, .rc = USV_INTERNAL};

    fake_init(&f, 0);
    batch_create(1, BATCH_STALL_MS, LONG_WAIT_MS, fake_lead, &f, &b);
    assert_int_equal(rc_for(1), batch_run(b, &item));
    assert_int_equal(rc_for(1), item.rc);
    assert_int_equal(1, f.calls);
    assert_int_equal(1, f.sizes[0]);
    assert_ptr_equal(&item, f.first_item);
    assert_int_equal(1, f.seen[1]);
    assert_stats(b, 0, 0);
    batch_destroy(b);
    fake_finish(&f);
}

static void
test_batch_callers_queued_behind_a_running_batch_share_the_next_one(void **state)
{
    enum { N = 8 };
    struct fake f;
    struct batch *b = NULL;
    struct caller first, queued[N];

    fake_init(&f, 1);
    batch_create(1, BATCH_STALL_MS, LONG_WAIT_MS, fake_lead, &f, &b);
    caller_start(&first, b, 0);
    wait_running(&f, 1);
    for (unsigned i = 0; i < N; i++)
        caller_start(&queued[i], b, 1 + i);
    /* One leader at most: all of them wait in the queue, none leads. */
    wait_queued(b, N);
    open_gate(&f);
    caller_join(&first);
    for (unsigned i = 0; i < N; i++)
        caller_join(&queued[i]);

    assert_int_equal(2, f.calls);
    assert_int_equal(1, f.sizes[0]);
    assert_int_equal(N, f.sizes[1]);
    assert_int_equal(1, f.max_running);
    assert_int_equal(rc_for(0), first.rc);
    for (unsigned i = 0; i < N; i++) {
        assert_int_equal(rc_for(1 + i), queued[i].rc);
        assert_int_equal(rc_for(1 + i), queued[i].item.rc);
    }
    for (unsigned id = 0; id <= N; id++)
        assert_int_equal(1, f.seen[id]);
    assert_stats(b, 0, 0);
    {
        struct batch_counts bc;

        batch_stats(b, &bc);       /* what /metrics reports */
        assert_int_equal(2, bc.batches);
        assert_int_equal(1 + N, bc.statements);
    }
    batch_destroy(b);
    fake_finish(&f);
}

static void
test_batch_queued_callers_time_out_unavailable_and_are_never_run(void **state)
{
    enum { N = 5 };
    struct fake f;
    struct batch *b = NULL;
    struct caller first, queued[N], later;

    fake_init(&f, 1);
    batch_create(1, BATCH_STALL_MS, 100, fake_lead, &f, &b);
    caller_start(&first, b, 2);
    wait_running(&f, 1);
    for (unsigned i = 0; i < N; i++)
        caller_start(&queued[i], b, 10 + i);
    /* The gate stays shut: the queued callers must come back on their own. */
    for (unsigned i = 0; i < N; i++) {
        caller_join(&queued[i]);
        assert_int_equal(USV_UNAVAILABLE, queued[i].rc);
        assert_int_equal(USV_UNAVAILABLE, queued[i].item.rc);
    }
    assert_stats(b, 0, N);
    /* The first caller, taken before the others came, waited past its own
     * 100 ms for its real outcome. */
    open_gate(&f);
    caller_join(&first);
    assert_int_equal(rc_for(2), first.rc);
    assert_int_equal(1, f.calls);
    for (unsigned i = 0; i < N; i++)
        assert_int_equal(0, f.seen[10 + i]);

    /* Nothing is left behind: the next caller leads and runs at once. */
    caller_start(&later, b, 3);
    caller_join(&later);
    assert_int_equal(rc_for(3), later.rc);
    assert_int_equal(2, f.calls);
    assert_int_equal(1, f.sizes[1]);
    assert_stats(b, 0, N);
    batch_destroy(b);
    fake_finish(&f);
}

static void
test_batch_item_taken_by_another_leader_waits_past_its_timeout_for_its_outcome(void **state)
{
    enum { TIMEOUT_MS = 2000 };
    const struct timespec ms = {.tv_sec = 0, .tv_nsec = 1000 * 1000};
    struct fake f;
    struct batch *b = NULL;
    struct caller first, queued[2];
    uint64_t t_queued;

    fake_init(&f, 2);
    batch_create(1, BATCH_STALL_MS, TIMEOUT_MS, fake_lead, &f, &b);
    caller_start(&first, b, 0);
    wait_running(&f, 1);
    caller_start(&queued[0], b, 1);
    caller_start(&queued[1], b, 2);
    wait_queued(b, 2);
    t_queued = monotonic_ms();     /* both waits began before this */
    /* The first batch ends; one of the two leads the second, carrying the
     * other, and is held there past both items' queue timeout. */
    release_leads(&f, 1);
    wait_leads(&f, 2, 1);
    assert_int_equal(2, f.sizes[1]);
    while (monotonic_ms() <= t_queued + TIMEOUT_MS + 100)
        nanosleep(&ms, NULL);
    open_gate(&f);
    caller_join(&first);
    for (unsigned i = 0; i < 2; i++) {
        caller_join(&queued[i]);
        assert_int_equal(rc_for(1 + i), queued[i].rc);
    }
    assert_int_equal(2, f.calls);
    assert_stats(b, 0, 0);
    batch_destroy(b);
    fake_finish(&f);
}

/* The lost wake-up: a caller that queued while every leader slot was taken
 * is woken when one frees, although the batch that freed it ended before
 * its stall time (so "may lead now" was false at that moment). Before the
 * fix it slept until its own deadline (LONG_WAIT_MS, beyond BOUND_MS). */
static void
test_batch_freed_slot_wakes_a_caller_queued_while_all_were_busy(void **state)
{
    struct fake f;
    struct batch *b = NULL;
    struct caller c[3];

    fake_init(&f, 2);
    batch_create(2, 500, LONG_WAIT_MS, fake_lead, &f, &b);
    caller_start(&c[0], b, 0);
    wait_running(&f, 1);
    caller_start(&c[1], b, 1);
    wait_running(&f, 2);           /* the first stalled: a second batch runs too */
    caller_start(&c[2], b, 2);
    wait_queued(b, 1);             /* both slots taken: it queues */
    /* The second batch ends at once, well before its own stall time; the
     * first stays stuck. */
    release_one(&f, 1);
    caller_join(&c[1]);
    assert_int_equal(rc_for(1), c[1].rc);
    /* The queued caller leads the third batch while the first is held. */
    wait_leads(&f, 3, 1);
    caller_join(&c[2]);
    assert_int_equal(rc_for(2), c[2].rc);
    assert_int_equal(1, f.sizes[2]);
    open_gate(&f);
    caller_join(&c[0]);
    assert_int_equal(rc_for(0), c[0].rc);
    assert_stats(b, 0, 0);
    batch_destroy(b);
    fake_finish(&f);
}

/* A lead may hand an item over before it returns: that owner is woken at
 * once, while the others of its batch still wait for the held lead. */
static void
test_batch_item_handed_over_early_returns_while_the_lead_goes_on(void **state)
{
    struct fake f;
    struct batch *b = NULL;
    struct caller first, queued[3];
    unsigned h;

    fake_init(&f, 2);
    batch_create(1, BATCH_STALL_MS, LONG_WAIT_MS, fake_lead, &f, &b);
    caller_start(&first, b, 0);
    wait_running(&f, 1);
    for (unsigned i = 0; i < 3; i++)
        caller_start(&queued[i], b, 1 + i);
    wait_queued(b, 3);
    pthread_mutex_lock(&f.mu);
    f.hand_over_last = true;
    pthread_mutex_unlock(&f.mu);
    release_one(&f, 0);            /* the second lead starts, takes all three, and is held */
    caller_join(&first);
    wait_leads(&f, 2, 1);
    assert_int_equal(3, f.sizes[1]);
    h = f.handed_id;
    assert_true(h >= 1 && h <= 3);
    /* Its caller returns although the lead that took it is still held. */
    caller_join(&queued[h - 1]);
    assert_int_equal(rc_for(h), queued[h - 1].rc);
    open_gate(&f);
    for (unsigned i = 0; i < 3; i++) {
        if (i + 1 == h)
            continue;
        caller_join(&queued[i]);
        assert_int_equal(rc_for(1 + i), queued[i].rc);
    }
    assert_stats(b, 0, 0);
    batch_destroy(b);
    fake_finish(&f);
}

/* An item that arrived last is given all the time it has left: the lead's
 * wait for a connection is not cut to what the oldest item has left. */
static void
test_batch_lead_is_given_the_time_the_newest_item_has_left(void **state)
{
    enum { TIMEOUT_MS = 30000, HELD_MS = 300 };
    const struct timespec held = {.tv_sec = 0, .tv_nsec = HELD_MS * 1000L * 1000L};
    struct fake f;
    struct batch *b = NULL;
    struct caller first, old, young;
    uint64_t t_young, t_done;

    fake_init(&f, 1);
    batch_create(1, BATCH_STALL_MS, TIMEOUT_MS, fake_lead, &f, &b);
    caller_start(&first, b, 0);
    wait_running(&f, 1);
    caller_start(&old, b, 1);
    wait_queued(b, 1);
    nanosleep(&held, NULL);        /* the old item's wait ages; not synchronisation */
    t_young = monotonic_ms();
    caller_start(&young, b, 2);
    wait_queued(b, 2);
    open_gate(&f);
    caller_join(&first);
    caller_join(&old);
    caller_join(&young);
    t_done = monotonic_ms();

    assert_int_equal(2, f.calls);
    assert_int_equal(2, f.sizes[1]);
    /* The young item's wait began after t_young; the lead began before
     * t_done: it had at least TIMEOUT_MS - (t_done - t_young) left. */
    if (f.timeouts[1] + 2 < TIMEOUT_MS - (t_done - t_young))
        fail_msg("the lead was given %u ms; the newest item had at least %llu ms left",
                 f.timeouts[1], (unsigned long long)(TIMEOUT_MS - (t_done - t_young)));
    assert_int_equal(rc_for(1), old.rc);
    assert_int_equal(rc_for(2), young.rc);
    batch_destroy(b);
    fake_finish(&f);
}

static void
test_batch_lead_is_given_no_more_time_than_any_item_has_left(void **state)
{
    enum { N = 3, TIMEOUT_MS = 30000, HELD_MS = 200 };
    const struct timespec held = {.tv_sec = 0, .tv_nsec = HELD_MS * 1000L * 1000L};
    struct fake f;
    struct batch *b = NULL;
    struct caller first, queued[N];
    uint64_t t_queued, t_open;

    fake_init(&f, 1);
    batch_create(1, BATCH_STALL_MS, TIMEOUT_MS, fake_lead, &f, &b);
    caller_start(&first, b, 0);
    wait_running(&f, 1);
    for (unsigned i = 0; i < N; i++)
        caller_start(&queued[i], b, 1 + i);
    wait_queued(b, N);
    /* Every queued item's wait began before t_queued; the second batch's
     * time left is computed after t_open. */
    t_queued = monotonic_ms();
    nanosleep(&held, NULL);
    t_open = monotonic_ms();
    open_gate(&f);
    caller_join(&first);
    for (unsigned i = 0; i < N; i++)
        caller_join(&queued[i]);

    assert_int_equal(2, f.calls);
    assert_int_equal(N, f.sizes[1]);
    assert_true(f.timeouts[0] <= TIMEOUT_MS);
    assert_true(f.timeouts[1] <= TIMEOUT_MS);
    /* 2 ms for rounding to whole milliseconds, twice. */
    if (f.timeouts[1] > TIMEOUT_MS - (t_open - t_queued) + 2)
        fail_msg("second lead was given %u ms after its items had waited %llu ms of %u",
                 f.timeouts[1], (unsigned long long)(t_open - t_queued), TIMEOUT_MS);
    for (unsigned i = 0; i < N; i++)
        assert_int_equal(rc_for(1 + i), queued[i].rc);
    batch_destroy(b);
    fake_finish(&f);
}

static void
test_batch_two_leaders_run_two_batches_at_once_and_no_third(void **state)
{
    struct fake f;
    struct batch *b = NULL;
    struct caller c[3];
    unsigned running, calls;

    fake_init(&f, 2);
    batch_create(2, 0, LONG_WAIT_MS, fake_lead, &f, &b);   /* a second batch at once */
    caller_start(&c[0], b, 0);
    wait_running(&f, 1);
    caller_start(&c[1], b, 1);
    wait_running(&f, 2);           /* both held at once */
    /* A third caller finds both leader slots taken and queues. */
    caller_start(&c[2], b, 2);
    wait_queued(b, 1);
    pthread_mutex_lock(&f.mu);
    running = f.running;
    calls = f.calls;
    pthread_mutex_unlock(&f.mu);
    assert_int_equal(2, running);
    assert_int_equal(2, calls);
    open_gate(&f);
    for (unsigned i = 0; i < 3; i++)
        caller_join(&c[i]);

    assert_int_equal(2, f.max_running);
    assert_int_equal(3, f.calls);
    for (unsigned i = 0; i < 3; i++) {
        assert_int_equal(1, f.sizes[i]);
        assert_int_equal(rc_for(i), c[i].rc);
        assert_int_equal(1, f.seen[i]);
    }
    assert_stats(b, 0, 0);
    batch_destroy(b);
    fake_finish(&f);
}

/* One batch at a time while it runs normally: a caller arriving during a
 * batch that has not stalled queues, though a second leader slot is free. */
static void
test_batch_second_batch_waits_while_the_first_has_not_stalled(void **state)
{
    struct fake f;
    struct batch *b = NULL;
    struct caller c[2];

    fake_init(&f, 1);
    batch_create(2, LONG_WAIT_MS, LONG_WAIT_MS, fake_lead, &f, &b);
    caller_start(&c[0], b, 0);
    wait_running(&f, 1);
    caller_start(&c[1], b, 1);
    wait_queued(b, 1);             /* it queued instead of leading */
    pthread_mutex_lock(&f.mu);
    assert_int_equal(1, f.running);
    pthread_mutex_unlock(&f.mu);
    open_gate(&f);
    for (unsigned i = 0; i < 2; i++) {
        caller_join(&c[i]);
        assert_int_equal(rc_for(i), c[i].rc);
    }
    assert_int_equal(1, f.max_running);
    assert_int_equal(2, f.calls);
    batch_destroy(b);
    fake_finish(&f);
}

/* A batch stuck past the stall time does not hold up the queue: a second
 * leader starts while the first is still held. */
static void
test_batch_stalled_batch_lets_a_second_one_start(void **state)
{
    struct fake f;
    struct batch *b = NULL;
    struct caller c[2];

    fake_init(&f, 2);
    batch_create(2, 50, LONG_WAIT_MS, fake_lead, &f, &b);
    caller_start(&c[0], b, 0);
    wait_running(&f, 1);
    caller_start(&c[1], b, 1);
    wait_running(&f, 2);           /* within BOUND_MS, while the first is held */
    open_gate(&f);
    for (unsigned i = 0; i < 2; i++) {
        caller_join(&c[i]);
        assert_int_equal(rc_for(i), c[i].rc);
    }
    assert_int_equal(2, f.max_running);
    assert_stats(b, 0, 0);
    batch_destroy(b);
    fake_finish(&f);
}

/* ---- many callers --------------------------------------------------------- */

enum { STRESS_THREADS = 16, STRESS_ITEMS = 200 };

struct stress_caller {
    struct batch *b;
    unsigned first_id;
    unsigned wrong;                /* items answered with another item's rc */
    pthread_t thread;
};

static void *
run_stress_caller(void *arg)
{
    struct stress_caller *s = arg;

    for (unsigned j = 0; j < STRESS_ITEMS; j++) {
        struct orm_batch_item item = {.id = s->first_id + j, .rc = USV_INTERNAL};
        enum usv_err rc = batch_run(s->b, &item);

        if (rc != rc_for(item.id) || item.rc != rc)
            s->wrong++;
    }
    return NULL;
}

static void
test_batch_every_item_of_many_concurrent_callers_runs_exactly_once(void **state)
{
    struct fake *f = xcalloc(1, sizeof(*f));     /* large: not on the stack */
    struct batch *b = NULL;
    struct stress_caller s[STRESS_THREADS];
    unsigned total = 0;

    _Static_assert(STRESS_THREADS * STRESS_ITEMS <= MAX_IDS, "ids fit the fake");
    fake_init(f, 0);
    batch_create(2, BATCH_STALL_MS, LONG_WAIT_MS, fake_lead, f, &b);
    for (unsigned i = 0; i < STRESS_THREADS; i++) {
        s[i] = (struct stress_caller){.b = b, .first_id = i * STRESS_ITEMS};
        assert_int_equal(0, pthread_create(&s[i].thread, NULL, run_stress_caller, &s[i]));
    }
    for (unsigned i = 0; i < STRESS_THREADS; i++) {
        assert_int_equal(0, pthread_join(s[i].thread, NULL));
        assert_int_equal(0, s[i].wrong);
    }
    for (unsigned id = 0; id < STRESS_THREADS * STRESS_ITEMS; id++)
        assert_int_equal(1, f->seen[id]);
    for (unsigned k = 0; k < f->calls && k < MAX_CALLS; k++)
        total += (unsigned)f->sizes[k];
    assert_int_equal(STRESS_THREADS * STRESS_ITEMS, total);
    assert_true(f->max_running <= 2);
    assert_true(f->max_size >= 1 && f->max_size <= BATCH_MAX);
    assert_stats(b, 0, 0);
    batch_destroy(b);
    fake_finish(f);
    free(f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_single_caller_runs_its_item_alone_and_gets_its_rc),
        cmocka_unit_test(test_batch_callers_queued_behind_a_running_batch_share_the_next_one),
        cmocka_unit_test(test_batch_queued_callers_time_out_unavailable_and_are_never_run),
        cmocka_unit_test(
            test_batch_item_taken_by_another_leader_waits_past_its_timeout_for_its_outcome),
        cmocka_unit_test(test_batch_lead_is_given_no_more_time_than_any_item_has_left),
        cmocka_unit_test(test_batch_lead_is_given_the_time_the_newest_item_has_left),
        cmocka_unit_test(test_batch_freed_slot_wakes_a_caller_queued_while_all_were_busy),
        cmocka_unit_test(test_batch_item_handed_over_early_returns_while_the_lead_goes_on),
        cmocka_unit_test(test_batch_two_leaders_run_two_batches_at_once_and_no_third),
        cmocka_unit_test(test_batch_second_batch_waits_while_the_first_has_not_stalled),
        cmocka_unit_test(test_batch_stalled_batch_lets_a_second_one_start),
        cmocka_unit_test(test_batch_every_item_of_many_concurrent_callers_runs_exactly_once),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
