/* SPDX-License-Identifier: MIT
 * routes.c - every (method, path) the service answers. The router in
 * http/server.c answers 404 for other paths and 405 + Allow for other
 * methods on these paths. A scope is what a bearer token must grant
 * (API.md, with AUTH_JWKS_FILE); a route without one is public. */
#include "handlers/routes.h"

#include "handlers/health.h"
#include "handlers/idempotency.h"
#include "handlers/openapi.h"
#include "handlers/resource.h"
#include "handlers/users.h"

const struct route app_routes[] = {
    OPS_ROUTES,
    RESOURCE_ROUTES("/users", users),
};
const size_t app_n_routes = sizeof(app_routes) / sizeof(app_routes[0]);

/* The key table of POST /users with an Idempotency-Key (handlers/idempotency.h). */
const struct orm_model *const app_models[] = {&users_model, &idempotency_model};
const size_t app_n_models = sizeof(app_models) / sizeof(app_models[0]);

const struct migration *
app_migrations(size_t *n)
{
    *n = n_migrations;         /* migrations/, embedded at build time */
    return migrations;
}
