/* SPDX-License-Identifier: MIT
 * access_log.c - what is recorded when a request ends (see http_int.h): one
 * count in the per-route metrics and one structured access log line
 * (method, path, route, status, bytes, duration, request id, outcome).
 * MHD reports every request here, also one it refused itself before the
 * first access-handler call (bad framing): then method and path are "-".
 * Thread-safety: called on the connection thread of the request. */
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "http/http_int.h"
#include "http/stats.h"

void
access_log_request(struct http_req *req, enum MHD_RequestTerminationCode toe)
{
    uint64_t duration_us = monotonic_us() - req->start_us;

    http_stats_observe(req->srv->stats,
                    req->route != NULL ? (size_t)(req->route - req->srv->routes)
                                       : req->srv->n_routes,
                    req->sent_status, duration_us);
    if (log_enabled(LOG_INFO)) {
        /* MHD may refuse a request (bad framing) before on_request() runs. */
        const char *target = req->is_started ? req->path : "-";
        char path[256];
        size_t n = strnlen(target, sizeof(path) - 1);
        struct log_field f[] = {
            {"method", req->is_started ? req->method : "-", 0},
            {"path", path, 0},
            {"route", req->route != NULL ? req->route->pattern : "-", 0},
            {"status", NULL, req->sent_status},
            {"bytes", NULL, (double)req->sent_bytes},
            {"duration_ms", NULL, (double)duration_us / 1000.0},
            {"request_id", req->rid, 0},
            {"outcome", toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "ok" : "aborted", 0},
        };

        memcpy(path, target, n);   /* cut as snprintf() into it did */
        path[n] = '\0';
        log_fields(LOG_INFO, "http", "request", f, ARRAY_SIZE(f));
    }
}
