/* SPDX-License-Identifier: MIT
 * resource.h - the five handlers of a model served over HTTP, once for all.
 *
 * A resource is a model plus the path it lives at: POST and GET on the
 * collection, GET, PATCH and DELETE on one member, with the behaviour
 * API.md gives users (ETags, If-Match/If-None-Match, keyset pages with a
 * Link header, problem details). Everything resource-specific comes from
 * the model: validation, SQL, JSON shape, the words of the messages (its
 * singular) and the 409 detail (the unique column the database named).
 * Adding a resource is a model, a migration, one struct resource and five
 * one-line route functions (see handlers/users.c); no handler logic.
 * Thread-safety: handlers run concurrently, one request each; a struct
 * resource is constant data. */
#ifndef USERSVC_HANDLERS_RESOURCE_H
#define USERSVC_HANDLERS_RESOURCE_H

#include <jansson.h>
#include <stdbool.h>

#include "base/err.h"
#include "http/http.h"
#include "orm/model.h"

struct resource {
    const char *path;                 /* the collection: "/users" (members: "/users/{id}") */
    const struct orm_model *model;
    /* Column a list may be filtered on by equality ("?login=alice"), using
     * the column's name as the query parameter; NULL = no filter. */
    const char *filter;
    /* POST honours Idempotency-Key (handlers/idempotency.h): the key table
     * (idempotency_model) must then be among the application's models.
     * false: the header is ignored. */
    bool is_idempotent;
};

/* The five route functions of resource @res (a struct resource) as
 * NAME_create, NAME_get, NAME_list, NAME_patch and NAME_delete. */
#define RESOURCE_HANDLERS(NAME, res)                                           \
    enum usv_err NAME##_create(struct http_req *req, json_t **out)            \
    {                                                                          \
        return resource_create(&(res), req, out);                              \
    }                                                                          \
    enum usv_err NAME##_get(struct http_req *req, json_t **out)               \
    {                                                                          \
        return resource_get(&(res), req, out);                                 \
    }                                                                          \
    enum usv_err NAME##_list(struct http_req *req, json_t **out)              \
    {                                                                          \
        return resource_list(&(res), req, out);                                \
    }                                                                          \
    enum usv_err NAME##_patch(struct http_req *req, json_t **out)             \
    {                                                                          \
        return resource_patch(&(res), req, out);                               \
    }                                                                          \
    enum usv_err NAME##_delete(struct http_req *req, json_t **out)            \
    {                                                                          \
        return resource_delete(&(res), req, out);                              \
    }

/* Their five entries of a route table (http/http.h struct route), for the
 * collection @PATH ("/users") and its members (PATH "/{id}"). Reads require
 * the bearer scope "NAME:read", writes "NAME:write" (API.md, with
 * AUTH_JWKS_FILE). */
#define RESOURCE_ROUTES(PATH, NAME)                                                   \
    {.method = "GET",    .pattern = PATH,           .handler = NAME##_list,           \
     .scope = #NAME ":read"},                                                         \
    {.method = "POST",   .pattern = PATH,           .handler = NAME##_create,         \
     .scope = #NAME ":write", .is_body_first = true},                                 \
    {.method = "GET",    .pattern = PATH "/{id}",   .handler = NAME##_get,            \
     .scope = #NAME ":read"},                                                         \
    {.method = "PATCH",  .pattern = PATH "/{id}",   .handler = NAME##_patch,          \
     .scope = #NAME ":write"},                                                        \
    {.method = "DELETE", .pattern = PATH "/{id}",   .handler = NAME##_delete,         \
     .scope = #NAME ":write"}

enum usv_err resource_create(const struct resource *res, struct http_req *req, json_t **out);
enum usv_err resource_get(const struct resource *res, struct http_req *req, json_t **out);
enum usv_err resource_list(const struct resource *res, struct http_req *req, json_t **out);
enum usv_err resource_patch(const struct resource *res, struct http_req *req, json_t **out);
enum usv_err resource_delete(const struct resource *res, struct http_req *req, json_t **out);

#endif
