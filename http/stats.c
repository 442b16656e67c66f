/* SPDX-License-Identifier: MIT
 * stats.c - see stats.h. Each (route, status) pair has a counter slot and
 * each route a fixed-bucket histogram, all plain atomics: observing a
 * request costs a few uncontended increments and no lock. */
#include "http/stats.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

#include "base/util.h"

static const unsigned statuses[] = {200, 201, 204, 304, 400, 401, 403, 404, 405, 409, 412,
                                    413, 414, 415, 422, 431, 500, 501, 503, 505,
                                    0 /* other */};
#define N_STATUSES ARRAY_SIZE(statuses)

static const double buckets_s[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                   0.1, 0.25, 0.5, 1, 2.5, 5};
#define N_BUCKETS (ARRAY_SIZE(buckets_s) + 1)   /* + Inf */

struct route_metrics {
    atomic_uint_fast64_t by_status[N_STATUSES];
    atomic_uint_fast64_t bucket[N_BUCKETS];      /* not cumulative; summed on render */
    atomic_uint_fast64_t sum_us;
};

struct http_stats {
    const struct route *routes;
    size_t n_routes;
    struct route_metrics *per_route;             /* n_routes + 1 */
};

struct http_stats *
http_stats_create(const struct route *routes, size_t n_routes)
{
    struct http_stats *m = xcalloc(1, sizeof(*m));

    m->routes = routes;
    m->n_routes = n_routes;
    m->per_route = xcalloc(n_routes + 1, sizeof(*m->per_route));
    return m;
}

void
http_stats_destroy(struct http_stats *m)
{
    if (m == NULL)
        return;
    free(m->per_route);
    free(m);
}

void
http_stats_observe(struct http_stats *m, size_t route_index, unsigned status, uint64_t duration_us)
{
    struct route_metrics *r = &m->per_route[route_index <= m->n_routes ? route_index
                                                                         : m->n_routes];
    size_t s = 0, b = 0;

    while (statuses[s] != 0 && statuses[s] != status)
        s++;
    while (b < ARRAY_SIZE(buckets_s) && (double)duration_us / 1e6 > buckets_s[b])
        b++;
    atomic_fetch_add_explicit(&r->by_status[s], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&r->bucket[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&r->sum_us, duration_us, memory_order_relaxed);
}

static void
route_labels(struct http_stats *m, size_t i, struct strbuf *out)
{
    if (i < m->n_routes)
        strbuf_addf(out, "method=\"%s\",route=\"%s\"", m->routes[i].method,
                    m->routes[i].pattern);
    else
        strbuf_adds(out, "method=\"\",route=\"unmatched\"");
}

void
http_stats_render(struct http_stats *m, struct strbuf *out)
{
    strbuf_adds(out, "# HELP usersvc_http_requests_total HTTP requests by route and status.\n"
                     "# TYPE usersvc_http_requests_total counter\n");
    for (size_t i = 0; i <= m->n_routes; i++) {
        for (size_t s = 0; s < N_STATUSES; s++) {
            uint64_t v = atomic_load(&m->per_route[i].by_status[s]);

            if (v == 0)
                continue;
            strbuf_adds(out, "usersvc_http_requests_total{");
            route_labels(m, i, out);
            if (statuses[s] != 0)
                strbuf_addf(out, ",status=\"%u\"} %llu\n", statuses[s], (unsigned long long)v);
            else
                strbuf_addf(out, ",status=\"other\"} %llu\n", (unsigned long long)v);
        }
    }
    strbuf_adds(out, "# HELP usersvc_http_request_duration_seconds Time from request headers"
                     " to response, by route.\n"
                     "# TYPE usersvc_http_request_duration_seconds histogram\n");
    for (size_t i = 0; i <= m->n_routes; i++) {
        uint64_t cumulative = 0, total = 0;

        for (size_t b = 0; b < N_BUCKETS; b++)
            total += atomic_load(&m->per_route[i].bucket[b]);
        if (total == 0)
            continue;   /* keep the page short: unused routes have no series yet */
        for (size_t b = 0; b < N_BUCKETS; b++) {
            cumulative += atomic_load(&m->per_route[i].bucket[b]);
            strbuf_adds(out, "usersvc_http_request_duration_seconds_bucket{");
            route_labels(m, i, out);
            if (b < ARRAY_SIZE(buckets_s))
                strbuf_addf(out, ",le=\"%g\"} %llu\n", buckets_s[b],
                            (unsigned long long)cumulative);
            else
                strbuf_addf(out, ",le=\"+Inf\"} %llu\n", (unsigned long long)cumulative);
        }
        strbuf_adds(out, "usersvc_http_request_duration_seconds_sum{");
        route_labels(m, i, out);
        strbuf_addf(out, "} %.6f\n", (double)atomic_load(&m->per_route[i].sum_us) / 1e6);
        strbuf_adds(out, "usersvc_http_request_duration_seconds_count{");
        route_labels(m, i, out);
        strbuf_addf(out, "} %llu\n", (unsigned long long)cumulative);
    }
}
