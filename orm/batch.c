/* SPDX-License-Identifier: MIT
 * batch.c - see batch.h.
 *
 * Each waiting request owns a node on its stack with its own condition
 * variable, so a leader wakes exactly the requests it served (no thundering
 * herd). The queue is a doubly linked list under one mutex, held only for
 * bookkeeping: the leader runs the batch with the mutex released. When a
 * batch ends, its leader hands the lead on to the oldest queued request by
 * waking it; a request that gives up in the queue does the same, so queued
 * work never waits for a leader that is not coming. */
#include "orm/batch.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "orm/orm_int.h"
#include "service/util.h"

enum node_state { NODE_QUEUED, NODE_TAKEN, NODE_DONE };

struct node {
    struct orm_batch_item *item;
    enum node_state state;           /* b->mu */
    struct timespec deadline;        /* monotonic: when waiting in the queue ends */
    pthread_cond_t cond;
    struct node *prev, *next;        /* in the queue while NODE_QUEUED; b->mu */
};

struct batch {
    pthread_mutex_t mu;
    pthread_condattr_t cond_attr;    /* CLOCK_MONOTONIC, for every node's cond */
    struct node *head, *tail;        /* queued, oldest first; mu */
    unsigned n_queued;               /* mu */
    unsigned n_leaders;              /* batches in flight; mu */
    unsigned max_leaders;
    unsigned timeout_ms;
    uint64_t timeouts;               /* mu */
    batch_lead_fn *lead;
    void *ctx;
};

static void
lock(pthread_mutex_t *mu)
{
    if (pthread_mutex_lock(mu) != 0)
        abort();
}

static void
unlock(pthread_mutex_t *mu)
{
    if (pthread_mutex_unlock(mu) != 0)
        abort();
}

void
batch_create(unsigned max_leaders, unsigned timeout_ms, batch_lead_fn *lead, void *ctx,
             struct batch **out)
{
    struct batch *b = xcalloc(1, sizeof(*b));

    assert(max_leaders >= 1);
    b->max_leaders = max_leaders;
    b->timeout_ms = timeout_ms;
    b->lead = lead;
    b->ctx = ctx;
    /* Deadlines on the monotonic clock: wall-clock jumps cannot stretch a wait. */
    if (pthread_mutex_init(&b->mu, NULL) != 0 || pthread_condattr_init(&b->cond_attr) != 0 ||
        pthread_condattr_setclock(&b->cond_attr, CLOCK_MONOTONIC) != 0)
        abort();
    *out = b;
}

void
batch_destroy(struct batch *b)
{
    if (b == NULL)
        return;
    assert(b->head == NULL && b->n_leaders == 0);
    pthread_condattr_destroy(&b->cond_attr);
    pthread_mutex_destroy(&b->mu);
    free(b);
}

static struct timespec
deadline_after(unsigned ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
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

/* If queued work has no leader coming, wake its oldest owner to lead. */
static void
pass_lead(struct batch *b)
{
    if (b->head != NULL && b->n_leaders < b->max_leaders)
        pthread_cond_signal(&b->head->cond);
}

/* Take the oldest queued statements and run them; called with b->mu held,
 * returns with it held. */
static void
lead(struct batch *b)
{
    struct orm_batch_item *items[BATCH_MAX];
    struct node *taken[BATCH_MAX];
    unsigned timeout_ms = ms_until(&b->head->deadline);  /* the oldest's time left */
    size_t k = 0;

    while (b->head != NULL && k < BATCH_MAX) {
        struct node *n = b->head;

        unlink_node(b, n);
        n->state = NODE_TAKEN;
        taken[k] = n;
        items[k++] = n->item;
    }
    b->n_leaders++;
    unlock(&b->mu);
    b->lead(b->ctx, items, k, timeout_ms);
    lock(&b->mu);
    b->n_leaders--;
    for (size_t i = 0; i < k; i++) {
        taken[i]->state = NODE_DONE;
        pthread_cond_signal(&taken[i]->cond);
    }
    pass_lead(b);
}

enum usv_err
batch_run(struct batch *b, struct orm_batch_item *item)
{
    struct node self = {.item = item, .state = NODE_QUEUED};

    self.deadline = deadline_after(b->timeout_ms);
    if (pthread_cond_init(&self.cond, &b->cond_attr) != 0)
        abort();
    lock(&b->mu);
    self.prev = b->tail;
    if (b->tail != NULL)
        b->tail->next = &self;
    else
        b->head = &self;
    b->tail = &self;
    b->n_queued++;
    while (self.state != NODE_DONE) {
        if (self.state == NODE_QUEUED && b->n_leaders < b->max_leaders) {
            lead(b);          /* may not carry our own statement if the queue is long */
            continue;
        }
        if (self.state == NODE_TAKEN) {
            /* A leader runs it: wait as long as the database takes, like a
             * request holding a connection (the driver's timeouts bound it). */
            pthread_cond_wait(&self.cond, &b->mu);
            continue;
        }
        if (pthread_cond_timedwait(&self.cond, &b->mu, &self.deadline) == ETIMEDOUT &&
            self.state == NODE_QUEUED) {
            unlink_node(b, &self);
            b->timeouts++;
            item->rc = USV_UNAVAILABLE;
            pass_lead(b);     /* we may have been the one woken to lead */
            break;
        }
    }
    unlock(&b->mu);
    pthread_cond_destroy(&self.cond);
    return item->rc;
}

void
batch_stats(struct batch *b, unsigned *queued, uint64_t *timeouts)
{
    lock(&b->mu);
    *queued = b->n_queued;
    *timeouts = b->timeouts;
    unlock(&b->mu);
}
