/* SPDX-License-Identifier: MIT
 * metrics.h - the /metrics page in the Prometheus text exposition format
 * (version 0.0.4), composed from the HTTP layer's counters and histograms
 * (http/stats.h), the gauges and counters of the ORM's pools, the backend
 * and the schema version.
 * Thread-safety: any thread; the sources are atomics or locked inside. */
#ifndef USERSVC_SERVICE_METRICS_H
#define USERSVC_SERVICE_METRICS_H

#include "base/strbuf.h"
#include "handlers/app.h"
#include "http/http.h"
#include "orm/orm.h"

/* Append the page for @req (served by @app) to @out. Fits
 * struct app's render_metrics. */
void metrics_render(struct http_req *req, const struct app *app, struct strbuf *out);

#endif
