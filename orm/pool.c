/* SPDX-License-Identifier: MIT
 * pool.c - see pool.h.
 *
 * The mutex guards only bookkeeping: connecting, pinging and closing happen
 * outside it, with the slot already counted in @n_open so the bound holds.
 * Idle connections are kept LIFO, so the warmest connection is reused first
 * and surplus ones age into the idle check. */
#include "orm/pool.h"

#include <assert.h>
#include <errno.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "orm/orm_int.h"
#include "orm/watchdog.h"
#include "base/log.h"
#include "base/util.h"

struct pool {
    const struct orm_backend *be;
    const void *cfg;                 /* the backend's configuration, borrowed */
    unsigned size;
    unsigned idle_check_ms;
    struct orm_limits lim;
    struct watchdog *wd;

    pthread_mutex_t mu;
    pthread_cond_t cond;             /* signalled when a slot or connection frees */
    struct orm_conn **idle;          /* stack of n_idle; protected by mu */
    unsigned n_idle;                 /* <= n_open; protected by mu */
    unsigned n_open;                 /* connections open or being opened, <= size; mu */
    unsigned n_waiting;              /* threads in pthread_cond_timedwait; mu */
    struct orm_pool_stats stats;     /* counters; protected by mu */
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
        pthread_cond_init(&p->cond, &attr) != 0)
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
    assert(p->n_open == p->n_idle);
    for (unsigned i = 0; i < p->n_idle; i++)
        p->be->close(p->idle[i]);
    pthread_cond_destroy(&p->cond);
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

/* Connect within what is left of the wait for a connection (@deadline_ms). */
static enum usv_err
connect_slot(struct pool *p, uint64_t deadline_ms, struct orm_conn **out)
{
    static _Atomic uint64_t last_log, suppressed;
    char err[256] = "";
    struct orm_conn *c = NULL;
    struct orm_limits lim = p->lim;
    uint64_t now = monotonic_ms();
    enum usv_err rc;
    bool timed_out;

    /* A connection attempt never outlasts the wait it serves; a few ms at
     * least, so a request that waited long still gets a try. */
    lim.connect_timeout_ms = deadline_ms > now + 50 ? (unsigned)(deadline_ms - now) : 50;
    rc = orm_conn_open(p->be, p->cfg, &lim, &c, err, sizeof(err));
    timed_out = rc != USV_OK && monotonic_ms() >= now + lim.connect_timeout_ms;
    xlock(&p->mu);
    if (rc == USV_OK)
        p->stats.connects++;
    else
        p->stats.connect_failures++;
    p->stats.connect_timeouts += timed_out;
    xunlock(&p->mu);
    if (rc != USV_OK) {
        if (log_every(&last_log, 1000, &suppressed))
            log_error("pool", "cannot connect to %s database%s: %s (%llu more suppressed)",
                      p->be->name, timed_out ? " in time" : "", err,
                      (unsigned long long)atomic_exchange(&suppressed, 0));
        drop_slot(p);
        return USV_UNAVAILABLE;
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

enum usv_err
pool_acquire(struct pool *p, unsigned timeout_ms, struct orm_conn **out)
{
    static _Atomic uint64_t last_log, suppressed;
    struct timespec deadline = monotonic_deadline(timeout_ms);
    uint64_t deadline_ms = monotonic_ms() + timeout_ms;
    struct orm_conn *c = NULL;

    xlock(&p->mu);
    for (;;) {
        if (p->n_idle > 0) {
            c = p->idle[--p->n_idle];
            break;
        }
        if (p->n_open < p->size) {
            p->n_open++;
            p->stats.in_use++;
            p->stats.acquired++;
            xunlock(&p->mu);
            return connect_slot(p, deadline_ms, out);
        }
        p->n_waiting++;
        int e = pthread_cond_timedwait(&p->cond, &p->mu, &deadline);
        p->n_waiting--;
        if (e == ETIMEDOUT && p->n_idle == 0 && p->n_open >= p->size) {
            p->stats.timeouts++;
            xunlock(&p->mu);
            if (log_every(&last_log, 1000, &suppressed))
                log_warn("pool", "no %s connection free within %u ms: 503 (%llu more suppressed)",
                         p->be->name, timeout_ms,
                         (unsigned long long)atomic_exchange(&suppressed, 0));
            return USV_UNAVAILABLE;
        }
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
        xunlock(&p->mu);
        return connect_slot(p, deadline_ms, out);
    }
    *out = c;
    return USV_OK;
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
    xunlock(&p->mu);
}
