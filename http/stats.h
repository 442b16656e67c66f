/* SPDX-License-Identifier: MIT
 * stats.h - the HTTP layer's request counters and latency histograms, per
 * route, rendered in the Prometheus text exposition format (version
 * 0.0.4). The /metrics page composes them with other sources
 * (service/metrics.c); this module knows only HTTP.
 * Thread-safety: http_stats_observe() from any thread (atomics, no locks);
 * create/destroy around the server's life. */
#ifndef USERSVC_HTTP_STATS_H
#define USERSVC_HTTP_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "base/strbuf.h"
#include "http/http.h"

struct http_stats;

/* Counters for @n_routes routes (borrowed) plus one slot for unmatched paths. */
struct http_stats *http_stats_create(const struct route *routes, size_t n_routes);
void http_stats_destroy(struct http_stats *m);   /* accepts NULL */

/* Count one request: @route_index < n_routes, or n_routes for none. */
void http_stats_observe(struct http_stats *m, size_t route_index, unsigned status,
                        uint64_t duration_us);

/* Append the exposition text of the HTTP counters and histograms. */
void http_stats_render(struct http_stats *m, struct strbuf *out);

#endif
