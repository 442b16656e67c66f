/* SPDX-License-Identifier: MIT
 * metrics.c - see metrics.h. Each (route, status) pair has a counter slot
 * and each route a fixed-bucket histogram, all plain atomics: observing a
 * request costs a few uncontended increments and no lock. */
#include "service/metrics.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

#include "base/util.h"

static const unsigned statuses[] = {200, 201, 204, 304, 400, 404, 405, 409, 412,
                                    413, 415, 422, 500, 503, 0 /* other */};
#define N_STATUSES ARRAY_SIZE(statuses)

static const double buckets_s[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                   0.1, 0.25, 0.5, 1, 2.5, 5};
#define N_BUCKETS (ARRAY_SIZE(buckets_s) + 1)   /* + Inf */

struct route_metrics {
    atomic_uint_fast64_t by_status[N_STATUSES];
    atomic_uint_fast64_t bucket[N_BUCKETS];      /* not cumulative; summed on render */
    atomic_uint_fast64_t sum_us;
};

struct metrics {
    const struct route *routes;
    size_t n_routes;
    struct route_metrics *per_route;             /* n_routes + 1 */
};

struct metrics *
metrics_create(const struct route *routes, size_t n_routes)
{
    struct metrics *m = xcalloc(1, sizeof(*m));

    m->routes = routes;
    m->n_routes = n_routes;
    m->per_route = xcalloc(n_routes + 1, sizeof(*m->per_route));
    return m;
}

void
metrics_destroy(struct metrics *m)
{
    if (m == NULL)
        return;
    free(m->per_route);
    free(m);
}

void
metrics_observe(struct metrics *m, size_t route_index, unsigned status, uint64_t duration_us)
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
route_labels(struct metrics *m, size_t i, struct strbuf *out)
{
    if (i < m->n_routes)
        strbuf_addf(out, "method=\"%s\",route=\"%s\"", m->routes[i].method,
                    m->routes[i].pattern);
    else
        strbuf_adds(out, "method=\"\",route=\"unmatched\"");
}

/* One series per pool ("primary", and "replica" when there is one). */
static void
pool_series(struct strbuf *out, const struct orm_pool_stats *primary,
            const struct orm_pool_stats *replica)
{
    static const struct {
        const char *name, *type, *help;
        size_t offset;
        bool is_u64;
    } series[] = {
#define U(field, name, type, help) {name, type, help, offsetof(struct orm_pool_stats, field), false}
#define C(field, name, type, help) {name, type, help, offsetof(struct orm_pool_stats, field), true}
        U(size, "usersvc_db_pool_size", "gauge", "Connections the pool may open."),
        U(open, "usersvc_db_pool_open", "gauge", "Connections open now."),
        U(in_use, "usersvc_db_pool_in_use", "gauge", "Connections borrowed now."),
        U(waiting, "usersvc_db_pool_waiting", "gauge", "Requests waiting for a connection."),
        C(acquired, "usersvc_db_pool_acquires_total", "counter", "Connections handed out."),
        C(timeouts, "usersvc_db_pool_acquire_timeouts_total", "counter",
          "Waits for a connection that timed out (503)."),
        C(connects, "usersvc_db_connects_total", "counter", "Connections opened."),
        C(connect_failures, "usersvc_db_connect_failures_total", "counter",
          "Connection attempts that failed."),
        C(discarded, "usersvc_db_reconnects_total", "counter",
          "Broken or dead connections closed and replaced."),
        C(batches, "usersvc_db_batches_total", "counter",
          "Batches of one-statement requests run on one connection."),
        C(batched, "usersvc_db_batched_statements_total", "counter",
          "Statements those batches carried."),
        C(batch_timeouts, "usersvc_db_batch_queue_timeouts_total", "counter",
          "Batched statements withdrawn after waiting DB_POOL_TIMEOUT_MS (503)."),
        C(connect_timeouts, "usersvc_db_connect_timeouts_total", "counter",
          "Connection attempts cut at their deadline (503)."),
        C(statement_timeouts, "usersvc_db_statement_timeouts_total", "counter",
          "Database work cut at DB_STATEMENT_TIMEOUT_MS, by usersvc or the database (503)."),
#undef U
#undef C
    };
    const struct orm_pool_stats *pools[] = {primary, replica};
    const char *names[] = {"primary", "replica"};

    for (size_t i = 0; i < ARRAY_SIZE(series); i++) {
        strbuf_addf(out, "# HELP %s %s\n# TYPE %s %s\n", series[i].name, series[i].help,
                    series[i].name, series[i].type);
        for (size_t p = 0; p < ARRAY_SIZE(pools); p++) {
            const char *base = (const char *)pools[p];
            unsigned long long v;

            if (base == NULL)
                continue;
            if (series[i].is_u64)
                v = *(const uint64_t *)(const void *)(base + series[i].offset);
            else
                v = *(const unsigned *)(const void *)(base + series[i].offset);
            strbuf_addf(out, "%s{pool=\"%s\"} %llu\n", series[i].name, names[p], v);
        }
    }
}

void
metrics_render(struct metrics *m, const struct orm_pool_stats *primary,
               const struct orm_pool_stats *replica, const char *backend,
               int64_t schema_version, struct strbuf *out)
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
    pool_series(out, primary, replica);
    strbuf_addf(out, "# HELP usersvc_schema_version Latest migration applied at start-up.\n"
                     "# TYPE usersvc_schema_version gauge\n"
                     "usersvc_schema_version{backend=\"%s\"} %lld\n",
                backend, (long long)schema_version);
}
