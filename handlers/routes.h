/* SPDX-License-Identifier: MIT
 * routes.h - the application's route table, the models it serves and their
 * migrations: what service/main.c composes into a service.
 * Thread-safety: constant data. */
#ifndef USERSVC_HANDLERS_ROUTES_H
#define USERSVC_HANDLERS_ROUTES_H

#include <stddef.h>

#include "orm/migrations.h"
#include "orm/model.h"
#include "http/http.h"

/* The operational routes every build serves (handlers/health.h,
 * handlers/openapi.h), for the head of a route table: liveness, readiness,
 * /metrics (scope metrics:read) and the OpenAPI document. */
#define OPS_ROUTES                                                                    \
    {.method = "GET",    .pattern = "/healthz",      .handler = health_live},         \
    {.method = "GET",    .pattern = "/readyz",       .handler = health_ready},        \
    {.method = "GET",    .pattern = "/metrics",      .handler = health_metrics,       \
     .scope = "metrics:read"},                                                        \
    {.method = "GET",    .pattern = "/openapi.json", .handler = openapi_get}

extern const struct route app_routes[];
extern const size_t app_n_routes;

extern const struct orm_model *const app_models[];
extern const size_t app_n_models;

/* The migrations that create the tables of app_models, for
 * orm_db_options.migrations: *@n entries, borrowed (constant data). */
const struct migration *app_migrations(size_t *n);

#endif
