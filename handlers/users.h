/* SPDX-License-Identifier: MIT
 * users.h - the user resource: its model and its handlers.
 * Thread-safety: handlers run concurrently, one request each. */
#ifndef USERSVC_HANDLERS_USERS_H
#define USERSVC_HANDLERS_USERS_H

#include <jansson.h>

#include "orm/model.h"
#include "base/err.h"
#include "http/http.h"

/* The users table, declared once: validation, SQL and JSON all follow it. */
extern const struct orm_model users_model;

enum usv_err users_create(struct http_req *req, json_t **out);  /* POST /users */
enum usv_err users_get(struct http_req *req, json_t **out);     /* GET /users/{id} */
enum usv_err users_list(struct http_req *req, json_t **out);    /* GET /users */
enum usv_err users_patch(struct http_req *req, json_t **out);   /* PATCH /users/{id} */
enum usv_err users_delete(struct http_req *req, json_t **out);  /* DELETE /users/{id} */

#endif
