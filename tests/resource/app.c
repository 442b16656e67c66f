/* SPDX-License-Identifier: MIT
 * app.c - the route table of usersvc-testapp: the product's routes plus
 * the test-only resources, served by the same service/main.c, http/ and
 * handlers/resource.c as users. It stands in for handlers/routes.c. */
#include "handlers/routes.h"

#include "handlers/health.h"
#include "handlers/openapi.h"
#include "handlers/users.h"
#include "tests/resource/models.h"

const struct route app_routes[] = {
    {.method = "GET",    .pattern = "/healthz",      .handler = health_live},
    {.method = "GET",    .pattern = "/readyz",       .handler = health_ready},
    {.method = "GET",    .pattern = "/metrics",      .handler = health_metrics},
    {.method = "GET",    .pattern = "/openapi.json", .handler = openapi_get},
    {.method = "GET",    .pattern = "/users",        .handler = users_list},
    {.method = "POST",   .pattern = "/users",        .handler = users_create,
     .is_body_first = true},
    {.method = "GET",    .pattern = "/users/{id}",   .handler = users_get},
    {.method = "PATCH",  .pattern = "/users/{id}",   .handler = users_patch},
    {.method = "DELETE", .pattern = "/users/{id}",   .handler = users_delete},
    {.method = "GET",    .pattern = "/widgets",      .handler = widgets_list},
    {.method = "POST",   .pattern = "/widgets",      .handler = widgets_create,
     .is_body_first = true},
    {.method = "GET",    .pattern = "/widgets/{id}", .handler = widgets_get},
    {.method = "PATCH",  .pattern = "/widgets/{id}", .handler = widgets_patch},
    {.method = "DELETE", .pattern = "/widgets/{id}", .handler = widgets_delete},
    {.method = "GET",    .pattern = "/wide",         .handler = wide_list},
    {.method = "POST",   .pattern = "/wide",         .handler = wide_create,
     .is_body_first = true},
    {.method = "GET",    .pattern = "/wide/{id}",    .handler = wide_get},
    {.method = "PATCH",  .pattern = "/wide/{id}",    .handler = wide_patch},
    {.method = "DELETE", .pattern = "/wide/{id}",    .handler = wide_delete},
};
const size_t app_n_routes = sizeof(app_routes) / sizeof(app_routes[0]);

const struct orm_model *const app_models[] = {&users_model, &widgets_model, &wide_model};
const size_t app_n_models = sizeof(app_models) / sizeof(app_models[0]);

const struct migration *
app_migrations(size_t *n)
{
    *n = n_test_migrations;
    return test_migrations;
}
