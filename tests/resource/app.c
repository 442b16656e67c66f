/* SPDX-License-Identifier: MIT
 * app.c - the route table of usersvc-testapp: the product's routes plus
 * the test-only resources, served by the same service/main.c, http/ and
 * handlers/resource.c as users. It stands in for handlers/routes.c. */
#include "handlers/routes.h"

#include "handlers/health.h"
#include "handlers/openapi.h"
#include "handlers/resource.h"
#include "handlers/users.h"
#include "tests/resource/models.h"

const struct route app_routes[] = {
    OPS_ROUTES,
    RESOURCE_ROUTES("/users", users),
    RESOURCE_ROUTES("/widgets", widgets),
    RESOURCE_ROUTES("/wide", wide),
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
