/* SPDX-License-Identifier: MIT
 * routes.c - every (method, path) the service answers. The router in
 * http/server.c answers 404 for other paths and 405 + Allow for other
 * methods on these paths. */
#include "handlers/routes.h"

#include "handlers/health.h"
#include "handlers/openapi.h"
#include "handlers/resource.h"
#include "handlers/users.h"

const struct route app_routes[] = {
    {.method = "GET",    .pattern = "/healthz",      .handler = health_live},
    {.method = "GET",    .pattern = "/readyz",       .handler = health_ready},
    {.method = "GET",    .pattern = "/metrics",      .handler = health_metrics},
    {.method = "GET",    .pattern = "/openapi.json", .handler = openapi_get},
    RESOURCE_ROUTES("/users", users),
};
const size_t app_n_routes = sizeof(app_routes) / sizeof(app_routes[0]);

const struct orm_model *const app_models[] = {&users_model};
const size_t app_n_models = sizeof(app_models) / sizeof(app_models[0]);

const struct migration *
app_migrations(size_t *n)
{
    *n = n_migrations;         /* migrations/, embedded at build time */
    return migrations;
}
