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

extern const struct route app_routes[];
extern const size_t app_n_routes;

extern const struct orm_model *const app_models[];
extern const size_t app_n_models;

/* The migrations that create the tables of app_models, for
 * orm_db_options.migrations: *@n entries, borrowed (constant data). */
const struct migration *app_migrations(size_t *n);

#endif
