/* SPDX-License-Identifier: MIT
 * pool.c - see pool.h.
 *
 * The mutex guards only bookkeeping: connecting, pinging and closing happen
 * outside it, with the slot already counted in @n_open so the bound holds.
 * Idle connections are kept LIFO, so the warmest connection is reused first
 * and surplus ones age at the bottom of the stack, where the reaper thread
 * closes them after the idle timeout.
 *
 * A database that refuses a connection because it is full (USV_DB_FULL)
 * is not an outage: this pool's own connections will come back. Waiters
 * then wait for one of those within their deadline, and one new attempt at
 * a time is made, after a backoff that doubles up to POOL_FULL_BACKOFF_MAX_MS,
 * so that many instances do not hammer a full server with attempts (each
 * one costs the server a process, and can lock out an administrator). */
#include "orm/pool.h"

#include <assert.h>
#include <errno.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "orm/orm_int.h"
#include "orm/watchdog.h"
#include "base/log.h"
#include "base/util.h"

#define POOL_FULL_BACKOFF_MIN_MS 25u
#define POOL_FULL_BACKOFF_MAX_MS 1000u

struct pool {
    const struct orm_backend *be;
    const void *cfg;                 /* the backend's configuration, borrowed */
    unsigned size;
    unsigned idle_check_ms;
    struct orm_limits lim;
    struct watchdog *wd;

    pthread_mutex_t mu;
    pthread_cond_t cond;             /* signalled when a slot or connection frees */
    struct orm_conn **idle;          /* stack of n_idle, oldest at 0; protected by mu */
    unsigned n_idle;                 /* <= n_open; protected by mu */
    unsigned n_open;                 /* connections open or being opened, <= size; mu */
    unsigned n_waiting;              /* threads in pthread_cond_timedwait; mu */
    unsigned n_connecting;           /* connection attempts under way; mu */
    bool is_full;                    /* the last attempt found the database full; mu */
    unsigned full_backoff_ms;        /* the current backoff while is_full; mu */
    uint64_t full_until_ms;          /* no new attempt before this (monotonic); mu */
    struct orm_pool_stats stats;     /* counters; protected by mu */

    /* The reaper (pool_set_idle_limit()): closes idle connections beyond
     * @min_idle once idle for @idle_timeout_ms. */
    unsigned min_idle, idle_timeout_ms;   /* written before the reaper starts */
    bool has_reaper;
    bool stop;                       /* mu */
    pthread_cond_t reaper_cond;      /* signalled on stop; with mu */
    pthread_t reaper;
};

enum usv_err
pool_create(const struct orm_backend *be, const void *cfg, unsigned size,
            unsigned idle_check_ms, const struct orm_limits *lim, struct watchdog *wd,
            struct pool **out)
{
    struct pool *p = xcalloc(1, sizeof(*p));
    pthread_condattr_t attr;

    assert(size > 0);
    p->be = be;
    p->cfg = cfg;
    p->size = size;
    p->idle_check_ms = idle_check_ms;
    p->lim = *lim;
    p->wd = wd;
    p->idle = xcalloc(size, sizeof(*p->idle));
    p->stats.size = size;
    if (pthread_mutex_init(&p->mu, NULL) != 0 || pthread_condattr_init(&attr) != 0)
        abort();
    /* Deadlines on the monotonic clock: wall-clock jumps cannot stretch a wait. */
    if (pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) != 0 ||
        pthread_cond_init(&p->cond, &attr) != 0 ||
        pthread_cond_init(&p->reaper_cond, &attr) != 0)
        abort();
    pthread_condattr_destroy(&attr);
    *out = p;
    return USV_OK;
}

void
pool_destroy(struct pool *p)
{
    if (p == NULL)
        return;
    if (p->has_reaper) {
        xlock(&p->mu);
        p->stop = true;
        pthread_cond_signal(&p->reaper_cond);
        xunlock(&p->mu);
        pthread_join(p->reaper, NULL);
    }
    assert(p->n_open == p->n_idle);
    for (unsigned i = 0; i < p->n_idle; i++)
        p->be->close(p->idle[i]);
    pthread_cond_destroy(&p->cond);
    pthread_cond_destroy(&p->reaper_cond);
    pthread_mutex_destroy(&p->mu);
    free(p->idle);
    free(p);
}

/* Give up a slot whose connection is gone (closed, or never opened). */
static void
drop_slot(struct pool *p)
{
    xlock(&p->mu);
    p->n_open--;
    p->stats.in_use--;
    pthread_cond_signal(&p->cond);
    xunlock(&p->mu);
}

/* Connect within what is left of the wait for a connection (@deadline_ms).
 * The slot is counted in n_open and n_connecting by the caller. On failure
 * the slot is given back; USV_DB_FULL when the database said it is full. */
static enum usv_err
connect_slot(struct pool *p, uint64_t deadline_ms, struct orm_conn **out)
{
    static _Atomic uint64_t last_log, suppressed;
    char err[256] = "";
    struct orm_conn *c = NULL;
    struct orm_limits lim = p->lim;
    uint64_t now = monotonic_ms();
    enum usv_err rc;
    unsigned own;
    bool timed_out;

    /* A connection attempt never outlasts the wait it serves; a few ms at
     * least, so a request that waited long still gets a try. */
    lim.connect_timeout_ms = deadline_ms > now + 50 ? (unsigned)(deadline_ms - now) : 50;
    rc = orm_conn_open(p->be, p->cfg, &lim, &c, err, sizeof(err));
    timed_out = rc != USV_OK && rc != USV_DB_FULL &&
                monotonic_ms() >= now + lim.connect_timeout_ms;
    xlock(&p->mu);
    p->n_connecting--;
    if (rc == USV_OK) {
        p->stats.connects++;
        p->is_full = false;
        p->full_backoff_ms = 0;
        p->full_until_ms = 0;
    } else {
        p->stats.connect_failures++;
    }
    if (rc == USV_DB_FULL) {
        p->stats.connect_refused_full++;
        p->is_full = true;
        p->full_backoff_ms = p->full_backoff_ms == 0 ? POOL_FULL_BACKOFF_MIN_MS
                             : p->full_backoff_ms * 2 < POOL_FULL_BACKOFF_MAX_MS
                                 ? p->full_backoff_ms * 2 : POOL_FULL_BACKOFF_MAX_MS;
        p->full_until_ms = monotonic_ms() + p->full_backoff_ms;
    }
    p->stats.connect_timeouts += timed_out;
    own = p->n_open - 1;
    xunlock(&p->mu);
    if (rc != USV_OK) {
        if (rc == USV_DB_FULL && log_every(&last_log, 1000, &suppressed))
            log_warn("pool", "the %s database is full: %s; waiting for this pool's own %u "
                     "connection(s) and trying again (%llu more suppressed)", p->be->name,
                     err, own,
                     (unsigned long long)atomic_exchange(&suppressed, 0));
        else if (rc != USV_DB_FULL && log_every(&last_log, 1000, &suppressed))
            log_error("pool", "cannot connect to %s database%s: %s (%llu more suppressed)",
                      p->be->name, timed_out ? " in time" : "", err,
                      (unsigned long long)atomic_exchange(&suppressed, 0));
        drop_slot(p);
        return rc == USV_DB_FULL ? USV_DB_FULL : USV_UNAVAILABLE;
    }
    *out = c;
    return USV_OK;
}

/* The idle check, cut at the end of the wait (a silent network would hold
 * it as long as TCP retries). */
static bool
ping_in_time(struct pool *p, struct orm_conn *c, uint64_t deadline_ms)
{
    struct watchdog_entry we;
    enum usv_err rc;
    uint64_t now = monotonic_ms();

    watchdog_arm(p->wd, &we, p->be->socket(c), deadline_ms > now + 50 ? deadline_ms : now + 50);
    c->deadline_ms = we.deadline_ms;
    rc = orm_conn_ping(c);
    c->deadline_ms = 0;
    if (watchdog_disarm(p->wd, &we)) {
        orm_conn_error(c, "ping", "no answer before the deadline");
        return false;
    }
    return rc == USV_OK;
}

/* May a new connection be attempted now? Not while the database is full
 * and its backoff runs, nor while another attempt at a full one is under way. */
static bool
may_connect(const struct pool *p, uint64_t now)
{
    if (p->n_open >= p->size)
        return false;
    return !p->is_full || (now >= p->full_until_ms && p->n_connecting == 0);
}

enum usv_err
pool_acquire(struct pool *p, unsigned timeout_ms, struct orm_conn **out)
{
    static _Atomic uint64_t last_log, suppressed;
    uint64_t deadline_ms = monotonic_ms() + timeout_ms;
    struct orm_conn *c = NULL;
    enum usv_err rc;

    xlock(&p->mu);
    for (;;) {
        uint64_t now = monotonic_ms(), wake_ms = deadline_ms;
        struct timespec until;

        if (p->n_idle > 0) {
            c = p->idle[--p->n_idle];
            break;
        }
        if (may_connect(p, now)) {
            p->n_open++;
            p->n_connecting++;
            p->stats.in_use++;
            xunlock(&p->mu);
            rc = connect_slot(p, deadline_ms, out);
            if (rc != USV_DB_FULL) {
                if (rc == USV_OK) {
                    xlock(&p->mu);
                    p->stats.acquired++;
                    xunlock(&p->mu);
                }
                return rc;
            }
            /* Full: wait for one of our own connections, or the next try. */
            xlock(&p->mu);
            continue;
        }
        if (now >= deadline_ms) {
            bool was_full = p->is_full;

            p->stats.timeouts++;
            xunlock(&p->mu);
            if (log_every(&last_log, 1000, &suppressed))
                log_warn("pool", "no %s connection free within %u ms%s: 503 (%llu more "
                         "suppressed)", p->be->name, timeout_ms,
                         was_full ? " (the database is full: too many clients)" : "",
                         (unsigned long long)atomic_exchange(&suppressed, 0));
            return USV_UNAVAILABLE;
        }
        /* While the database is full, wake for the next attempt too. */
        if (p->is_full && p->n_open < p->size && p->full_until_ms < wake_ms)
            wake_ms = p->full_until_ms > now ? p->full_until_ms : now + 1;
        until = monotonic_deadline((unsigned)(wake_ms - now));
        p->n_waiting++;
        pthread_cond_timedwait(&p->cond, &p->mu, &until);
        p->n_waiting--;
    }
    p->stats.in_use++;
    p->stats.acquired++;
    xunlock(&p->mu);

    /* A connection idle for long may have been cut by a server restart or a
     * firewall: check it before handing it out, and replace it if dead. */
    if (p->idle_check_ms > 0 && monotonic_ms() - c->last_used_ms >= p->idle_check_ms &&
        !ping_in_time(p, c, deadline_ms)) {
        log_warn("pool", "idle %s connection is dead, reconnecting: %s", p->be->name,
                 c->errmsg);
        p->be->close(c);
        xlock(&p->mu);
        p->stats.discarded++;
        p->n_connecting++;
        xunlock(&p->mu);
        rc = connect_slot(p, deadline_ms, out);
        return rc == USV_DB_FULL ? USV_UNAVAILABLE : rc;
    }
    *out = c;
    return USV_OK;
}

bool
pool_is_full(struct pool *p)
{
    bool is_full;

    xlock(&p->mu);
    is_full = p->is_full;
    xunlock(&p->mu);
    return is_full;
}

/* The reaper: every tick, close the connections idle longer than the idle
 * timeout, oldest first, keeping at least min_idle idle ones. Closing
 * happens outside the mutex, with the slot still counted until it is done. */
static void *
reap(void *arg)
{
    struct pool *p = arg;
    unsigned tick_ms = p->idle_timeout_ms / 4;

    if (tick_ms < 20)
        tick_ms = 20;
    if (tick_ms > 1000)
        tick_ms = 1000;
    xlock(&p->mu);
    while (!p->stop) {
        struct timespec until = monotonic_deadline(tick_ms);
        uint64_t now;

        pthread_cond_timedwait(&p->reaper_cond, &p->mu, &until);
        now = monotonic_ms();
        while (!p->stop && p->n_idle > p->min_idle &&
               now - p->idle[0]->last_used_ms >= p->idle_timeout_ms) {
            struct orm_conn *c = p->idle[0];

            memmove(&p->idle[0], &p->idle[1], (p->n_idle - 1) * sizeof(*p->idle));
            p->n_idle--;
            xunlock(&p->mu);
            p->be->close(c);
            xlock(&p->mu);
            p->n_open--;
            p->stats.idle_closed++;
            pthread_cond_signal(&p->cond);
        }
    }
    xunlock(&p->mu);
    return NULL;
}

void
pool_set_idle_limit(struct pool *p, unsigned min_idle, unsigned idle_timeout_ms)
{
    assert(!p->has_reaper);
    if (idle_timeout_ms == 0)
        return;
    p->min_idle = min_idle;
    p->idle_timeout_ms = idle_timeout_ms;
    if (pthread_create(&p->reaper, NULL, reap, p) != 0)
        abort();
    p->has_reaper = true;
}

void
pool_release(struct pool *p, struct orm_conn *c)
{
    if (c == NULL)
        return;
    if (c->is_broken) {
        p->be->close(c);
        xlock(&p->mu);
        p->stats.discarded++;
        xunlock(&p->mu);
        drop_slot(p);
        return;
    }
    c->last_used_ms = monotonic_ms();
    xlock(&p->mu);
    assert(p->n_idle < p->size);
    p->idle[p->n_idle++] = c;
    p->stats.in_use--;
    pthread_cond_signal(&p->cond);
    xunlock(&p->mu);
}

void
pool_stats(struct pool *p, struct orm_pool_stats *out)
{
    xlock(&p->mu);
    *out = p->stats;
    out->open = p->n_open;
    out->waiting = p->n_waiting;
    out->idle = p->n_idle;
    xunlock(&p->mu);
}
