/* SPDX-License-Identifier: MIT
 * watchdog.c - see watchdog.h.
 *
 * Armed entries are an unsorted list under one mutex: a pool holds a few
 * dozen connections at most, so a scan per wake-up costs less than keeping
 * a heap. The thread sleeps on a condition variable (monotonic clock) until
 * the earliest deadline, or until an earlier one is armed. */
#include "orm/watchdog.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/util.h"

struct watchdog {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    pthread_t thread;
    struct watchdog_entry *head;     /* armed; mu */
    uint64_t wake_ms;                /* when the thread wakes next (0: not asleep); mu */
    bool stop;                       /* mu */
};

static void *
watch(void *arg)
{
    struct watchdog *w = arg;

    xlock(&w->mu);
    while (!w->stop) {
        uint64_t now = monotonic_ms(), next = UINT64_MAX;
        struct timespec until;

        for (struct watchdog_entry *e = w->head; e != NULL; e = e->next) {
            if (e->fired)
                continue;
            if (e->deadline_ms <= now) {
                e->fired = true;
                shutdown(e->fd, SHUT_RDWR);
            } else if (e->deadline_ms < next) {
                next = e->deadline_ms;
            }
        }
        w->wake_ms = next;
        if (next == UINT64_MAX) {
            pthread_cond_wait(&w->cond, &w->mu);
        } else {
            until = monotonic_deadline((unsigned)(next - now));
            pthread_cond_timedwait(&w->cond, &w->mu, &until);
        }
        w->wake_ms = 0;
    }
    xunlock(&w->mu);
    return NULL;
}

void
watchdog_create(struct watchdog **out)
{
    struct watchdog *w = xcalloc(1, sizeof(*w));
    pthread_condattr_t attr;

    if (pthread_mutex_init(&w->mu, NULL) != 0 || pthread_condattr_init(&attr) != 0 ||
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) != 0 ||
        pthread_cond_init(&w->cond, &attr) != 0)
        abort();
    pthread_condattr_destroy(&attr);
    if (pthread_create(&w->thread, NULL, watch, w) != 0)
        abort();
    *out = w;
}

void
watchdog_destroy(struct watchdog *w)
{
    if (w == NULL)
        return;
    xlock(&w->mu);
    w->stop = true;
    pthread_cond_signal(&w->cond);
    xunlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

void
watchdog_arm(struct watchdog *w, struct watchdog_entry *e, int fd, uint64_t deadline_ms)
{
    e->fired = false;
    e->next = NULL;
    e->deadline_ms = deadline_ms;
    e->fd = fd >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
    if (e->fd < 0)
        return;
    xlock(&w->mu);
    e->next = w->head;
    w->head = e;
    if (w->wake_ms == 0 || deadline_ms < w->wake_ms)
        pthread_cond_signal(&w->cond);
    xunlock(&w->mu);
}

bool
watchdog_disarm(struct watchdog *w, struct watchdog_entry *e)
{
    bool fired;

    if (e->fd < 0)
        return false;
    xlock(&w->mu);
    for (struct watchdog_entry **p = &w->head; *p != NULL; p = &(*p)->next) {
        if (*p == e) {
            *p = e->next;
            break;
        }
    }
    fired = e->fired;
    xunlock(&w->mu);
    close(e->fd);
    e->fd = -1;
    return fired;
}
