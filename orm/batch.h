/* SPDX-License-Identifier: MIT
 * batch.h - statements of concurrent requests, sent to the database together.
 *
 * A request whose whole session is one statement (a GET by key, a POST with
 * INSERT ... RETURNING) queues that statement here instead of borrowing a
 * connection. The first thread to find queued work while fewer than
 * @max_leaders batches are in flight becomes a leader: it takes the queue
 * (up to BATCH_MAX statements), runs it through @lead on one connection in
 * one round trip, and wakes each owner with its own outcome. Under load the
 * statements that arrive during one round trip share the next, so the
 * database sees a few large batches instead of many single statements.
 * A second batch starts only when the one in flight has run for @stall_ms:
 * one batch at a time makes the largest batches and costs the database the
 * least, while a batch stuck in the database (a lock, a lost packet) holds
 * up the others for no longer than that.
 *
 * Waiting is bounded like waiting for the pool: a statement still queued
 * when its request has waited @timeout_ms is withdrawn and answered
 * USV_UNAVAILABLE (503), never half run. Once a leader has taken it, it
 * waits for the outcome, as a request holding a connection would, and the
 * leader's work is bounded by the statement timeout.
 * Thread-safety: any thread may call batch_run(). */
#ifndef USERSVC_ORM_BATCH_H
#define USERSVC_ORM_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* The most statements one batch carries. */
#define BATCH_MAX 64

/* The stall time the ORM uses: longer than a batch's round trip to a
 * database on the same network. */
#define BATCH_STALL_MS 5

struct batch;
struct orm_batch_item;

/* Run @n (1..BATCH_MAX) items, oldest first, on one connection; set each
 * item's rc (or hand it over early with orm_batch_item_done(), after which
 * the lead must not touch it). A connection must be had within @timeout_ms
 * (the time the item with the most time left has), or every item fails
 * with USV_UNAVAILABLE;
 * an item whose own wait ended meanwhile (orm_batch_item.wait_until_ms)
 * must be answered USV_UNAVAILABLE and not sent. The lead must return
 * within a bound (the ORM cuts its database work at the statement
 * timeout): the owners of taken items wait for it. */
typedef void batch_lead_fn(void *ctx, struct orm_batch_item *const *items, size_t n,
                           unsigned timeout_ms);

/* Create a batcher that runs at most @max_leaders (>= 1) batches at once,
 * a further one only after the newest has run @stall_ms. */
void batch_create(unsigned max_leaders, unsigned stall_ms, unsigned timeout_ms,
                  batch_lead_fn *lead, void *ctx, struct batch **out);

/* Free @b. Accepts NULL. No batch_run() may be in progress. */
void batch_destroy(struct batch *b);

/* Queue @item, take part in leading, and return once it ran (its rc) or
 * timed out in the queue (USV_UNAVAILABLE). */
enum usv_err batch_run(struct batch *b, struct orm_batch_item *item);

struct batch_counts {
    unsigned queued;        /* statements queued now */
    uint64_t timeouts;      /* statements withdrawn after waiting too long, ever */
    uint64_t batches;       /* batches run, ever */
    uint64_t statements;    /* statements those batches carried */
    uint64_t all_busy_ms;   /* how long every batch slot has been taken, 0 if one is free */
};

void batch_stats(struct batch *b, struct batch_counts *out);

#endif
