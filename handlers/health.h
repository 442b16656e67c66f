/* SPDX-License-Identifier: MIT
 * health.h - liveness and readiness endpoints for orchestrators.
 * Thread-safety: handlers run concurrently. */
#ifndef USERSVC_HANDLERS_HEALTH_H
#define USERSVC_HANDLERS_HEALTH_H

#include <jansson.h>

#include "base/err.h"
#include "http/http.h"

enum usv_err health_live(struct http_req *req, json_t **out);   /* GET /healthz */
enum usv_err health_ready(struct http_req *req, json_t **out);  /* GET /readyz */
enum usv_err health_metrics(struct http_req *req, json_t **out); /* GET /metrics */

#endif
