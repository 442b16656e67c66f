/* SPDX-License-Identifier: MIT
 * metrics.h - request counters and latency histograms, rendered in the
 * Prometheus text exposition format (version 0.0.4).
 * Thread-safety: metrics_observe() from any thread (atomics, no locks);
 * create/destroy around the server's life. */
#ifndef USERSVC_SERVICE_METRICS_H
#define USERSVC_SERVICE_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "orm/orm.h"
#include "base/strbuf.h"
#include "http/http.h"

struct metrics;

/* Counters for @n_routes routes (borrowed) plus one slot for unmatched paths. */
struct metrics *metrics_create(const struct route *routes, size_t n_routes);
void metrics_destroy(struct metrics *m);   /* accepts NULL */

/* Count one request: @route_index < n_routes, or n_routes for none. */
void metrics_observe(struct metrics *m, size_t route_index, unsigned status,
                     uint64_t duration_us);

/* Append the exposition text: HTTP counters and histograms, the gauges and
 * counters of the @primary pool and of the @replica pool (NULL when none),
 * @backend and the @schema_version in use. */
void metrics_render(struct metrics *m, const struct orm_pool_stats *primary,
                    const struct orm_pool_stats *replica, const char *backend,
                    int64_t schema_version, struct strbuf *out);

#endif
