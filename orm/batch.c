/* SPDX-License-Identifier: MIT
 * batch.c - see batch.h.
 *
 * Each waiting request owns a node on its stack. The queue is a doubly
 * linked list under one mutex, held only for bookkeeping: a leader runs its
 * batch with the mutex released, and wakes the owners after releasing it
 * again, through a semaphore per node. An owner woken with its result needs
 * no lock at all: with a condition variable it would first have to take
 * the mutex the leader and every arriving request contend for, and that
 * second sleep cost as much as the first (measured: a fifth of usersvc's
 * CPU under load went to mutex waits and wakes).
 *
 * A node's semaphore is posted for two reasons: "lead now" (while it is
 * queued, under the mutex, counted in lead_posts) and "your result is in"
 * (once, after a leader ran it). Before returning, an owner whose statement
 * was taken consumes every post it will ever get (lead_posts + 1), so no
 * post can reach a node whose owner has returned. glibc's sem_post touches
 * the semaphore only before the waiter can return, so the node may be
 * destroyed right after (glibc bug 12674, fixed in 2.21). */
#define _GNU_SOURCE     /* sem_clockwait(): queue deadlines on the monotonic clock */
#include "orm/batch.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "orm/orm_int.h"
#include "base/log.h"
#include "base/util.h"

enum node_state { NODE_QUEUED, NODE_TAKEN, NODE_WITHDRAWN };

struct node {
    struct orm_batch_item *item;
    struct batch *batch;
    enum node_state state;           /* b->mu */
    unsigned lead_posts;             /* "lead now" posts so far; b->mu */
    struct timespec deadline;        /* monotonic: when waiting in the queue ends */
    sem_t sem;
    struct node *prev, *next;        /* in the queue while NODE_QUEUED; b->mu */
};

struct batch {
    pthread_mutex_t mu;
    struct node *head, *tail;        /* queued, oldest first; mu */
    unsigned n_queued;               /* mu */
    unsigned n_leaders;              /* batches in flight; mu */
    struct timespec stall_at;        /* when the newest batch in flight counts as stuck; mu */
    uint64_t newest_ms;              /* when the newest batch in flight began (monotonic); mu */
    unsigned max_leaders;
    unsigned stall_ms;
    unsigned timeout_ms;
    uint64_t timeouts;               /* mu */
    uint64_t batches, statements;    /* run so far; mu */
    batch_lead_fn *lead;
    void *ctx;
};

void
batch_create(unsigned max_leaders, unsigned stall_ms, unsigned timeout_ms,
             batch_lead_fn *lead, void *ctx, struct batch **out)
{
    struct batch *b = xcalloc(1, sizeof(*b));

    assert(max_leaders >= 1);
    b->max_leaders = max_leaders;
    b->stall_ms = stall_ms;
    b->timeout_ms = timeout_ms;
    b->lead = lead;
    b->ctx = ctx;
    if (pthread_mutex_init(&b->mu, NULL) != 0)
        abort();
    *out = b;
}

void
batch_destroy(struct batch *b)
{
    if (b == NULL)
        return;
    assert(b->head == NULL && b->n_leaders == 0);
    pthread_mutex_destroy(&b->mu);
    free(b);
}

/* Milliseconds from now until @deadline, 0 if it has passed. */
static unsigned
ms_until(const struct timespec *deadline)
{
    struct timespec now;
    long long ms;

    clock_gettime(CLOCK_MONOTONIC, &now);
    ms = (long long)(deadline->tv_sec - now.tv_sec) * 1000 +
         (deadline->tv_nsec - now.tv_nsec) / 1000000;
    return ms > 0 ? (unsigned)ms : 0;
}

static bool
before(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static void
unlink_node(struct batch *b, struct node *n)
{
    if (n->prev != NULL)
        n->prev->next = n->next;
    else
        b->head = n->next;
    if (n->next != NULL)
        n->next->prev = n->prev;
    else
        b->tail = n->prev;
    n->prev = n->next = NULL;
    b->n_queued--;
}

/* May a queued request start a batch now? */
static bool
may_lead(const struct batch *b)
{
    return b->n_leaders == 0 ||
           (b->n_leaders < b->max_leaders && ms_until(&b->stall_at) == 0);
}

/* If queued work has no leader coming, wake its oldest owner to lead, or,
 * when a batch slot is free but the newest batch has not yet run its stall
 * time, to wait for that moment instead of its own deadline: it may have
 * gone to sleep while every slot was busy, and nobody else would wake it
 * (the lost wake-up). */
static void
pass_lead(struct batch *b)
{
    if (b->head != NULL && b->n_leaders < b->max_leaders) {
        b->head->lead_posts++;
        sem_post(&b->head->sem);
    }
}

/* Take the oldest queued statements and run them. Called with b->mu held,
 * returns with it released: the owners are woken outside the mutex. */
static void
lead(struct batch *b)
{
    struct orm_batch_item *items[BATCH_MAX];
    struct node *taken[BATCH_MAX];
    bool woken[BATCH_MAX];
    unsigned timeout_ms = 0;
    size_t k = 0;

    while (b->head != NULL && k < BATCH_MAX) {
        struct node *n = b->head;
        unsigned left = ms_until(&n->deadline);

        /* The wait for a connection lasts as long as the item with the
         * most time left; each item keeps its own deadline (lead_fn). */
        if (left > timeout_ms)
            timeout_ms = left;
        unlink_node(b, n);
        n->state = NODE_TAKEN;
        taken[k] = n;
        woken[k] = false;
        n->item->batch_node = n;
        n->item->batch_woken = &woken[k];
        items[k++] = n->item;
    }
    b->n_leaders++;
    b->batches++;
    b->statements += k;
    b->stall_at = monotonic_deadline(b->stall_ms);
    b->newest_ms = monotonic_ms();
    xunlock(&b->mu);
    b->lead(b->ctx, items, k, timeout_ms);
    xlock(&b->mu);
    b->n_leaders--;
    pass_lead(b);
    xunlock(&b->mu);
    for (size_t i = 0; i < k; i++) {
        if (!woken[i])
            sem_post(&taken[i]->sem);   /* may be the last touch of that node */
    }
}

void
orm_batch_item_done(struct orm_batch_item *item)
{
    struct node *n = item->batch_node;
    bool *woken = item->batch_woken;

    if (woken == NULL)
        return;         /* not run by a batch leader */
    *woken = true;      /* the leader's own memory: it will not post again */
    /* The owner may have consumed its posts in sem_clockwait(), which
     * ThreadSanitizer does not model; it takes the mutex after waking, so
     * passing through it here orders the outcome before its read for TSan
     * too (the semaphore alone does in fact). Only the rare early path. */
    xlock(&n->batch->mu);
    xunlock(&n->batch->mu);
    sem_post(&n->sem);  /* the last touch of the item and its node */
}

/* Wait for a post, at most until @deadline (NULL: no limit). False on time-out. */
static bool
wait_post(struct node *n, const struct timespec *deadline)
{
    for (;;) {
        int rc = deadline != NULL ? sem_clockwait(&n->sem, CLOCK_MONOTONIC, deadline)
                                  : sem_wait(&n->sem);

        if (rc == 0)
            return true;
        if (errno == ETIMEDOUT)
            return false;
        assert(errno == EINTR);
    }
}

enum usv_err
batch_run(struct batch *b, struct orm_batch_item *item)
{
    struct node self = {.item = item, .batch = b, .state = NODE_QUEUED};
    unsigned consumed = 0, expected;

    self.deadline = monotonic_deadline(b->timeout_ms);
    item->wait_until_ms = monotonic_ms() + b->timeout_ms;
    if (sem_init(&self.sem, 0, 0) != 0)
        abort();
    xlock(&b->mu);
    self.prev = b->tail;
    if (b->tail != NULL)
        b->tail->next = &self;
    else
        b->head = &self;
    b->tail = &self;
    b->n_queued++;
    while (self.state == NODE_QUEUED) {
        const struct timespec *until = &self.deadline;
        struct timespec stall_at = b->stall_at;

        if (may_lead(b)) {
            lead(b);          /* may not carry our own statement if the queue is long */
            xlock(&b->mu);
            continue;
        }
        /* Wake when the batch in flight counts as stuck, to start another. */
        if (b->n_leaders < b->max_leaders && before(&stall_at, until))
            until = &stall_at;
        xunlock(&b->mu);
        consumed += wait_post(&self, until);
        xlock(&b->mu);
        if (self.state == NODE_QUEUED && ms_until(&self.deadline) == 0) {
            static _Atomic uint64_t last_log, suppressed;

            unlink_node(b, &self);
            self.state = NODE_WITHDRAWN;
            b->timeouts++;
            item->rc = USV_UNAVAILABLE;
            pass_lead(b);     /* we may have been the one woken to lead */
            if (log_every(&last_log, 1000, &suppressed))
                log_warn("batch", "a statement waited %u ms for a batch: 503"
                         " (%llu more suppressed)", b->timeout_ms,
                         (unsigned long long)atomic_exchange(&suppressed, 0));
        }
    }
    /* Taken (or withdrawn): no "lead now" post can come any more. */
    expected = self.lead_posts + (self.state == NODE_TAKEN);
    xunlock(&b->mu);
    while (consumed < expected)
        consumed += wait_post(&self, NULL);
    sem_destroy(&self.sem);
    return item->rc;
}

void
batch_stats(struct batch *b, struct batch_counts *out)
{
    xlock(&b->mu);
    out->queued = b->n_queued;
    out->timeouts = b->timeouts;
    out->batches = b->batches;
    out->statements = b->statements;
    out->all_busy_ms = b->n_leaders == b->max_leaders ? monotonic_ms() - b->newest_ms : 0;
    xunlock(&b->mu);
}
