/* SPDX-License-Identifier: MIT
 * routes.c - every (method, path) the service answers. The router in
 * service/http.c answers 404 for other paths and 405 + Allow for other
 * methods on these paths. */
#include "handlers/routes.h"

#include "handlers/health.h"
#include "handlers/users.h"

const struct route app_routes[] = {
    {"GET",  "/healthz",    health_live},
    {"GET",  "/readyz",     health_ready},
    {"GET",  "/metrics",    health_metrics},
    {"GET",    "/users",      users_list},
    {"POST",   "/users",      users_create},
    {"GET",    "/users/{id}", users_get},
    {"PATCH",  "/users/{id}", users_patch},
    {"DELETE", "/users/{id}", users_delete},
};
const size_t app_n_routes = sizeof(app_routes) / sizeof(app_routes[0]);

const struct orm_model *const app_models[] = {&users_model};
const size_t app_n_models = sizeof(app_models) / sizeof(app_models[0]);
