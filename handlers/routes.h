/* SPDX-License-Identifier: MIT
 * routes.h - the application's route table and the models it serves.
 * Thread-safety: constant data. */
#ifndef USERSVC_HANDLERS_ROUTES_H
#define USERSVC_HANDLERS_ROUTES_H

#include <stddef.h>

#include "orm/model.h"
#include "http/http.h"

extern const struct route app_routes[];
extern const size_t app_n_routes;

extern const struct orm_model *const app_models[];
extern const size_t app_n_models;

#endif
