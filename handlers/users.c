/* SPDX-License-Identifier: MIT
 * users.c - the user resource (API.md "The user resource").
 *
 * The model below is the only description of a user: the ORM validates
 * request bodies against it, generates SQL from it and maps rows back to
 * JSON through it. Handlers only sequence the steps; they hold no SQL. */
#include "handlers/users.h"

#include <stdio.h>

#include "orm/orm.h"

#define LOGIN_RULE "must be 1-30 characters of A-Z a-z 0-9 . _ -"
#define NAME_RULE  "must be at most 30 characters, without control characters"

static const struct orm_column users_columns[] = {
    {.name = "id", .type = ORM_INT64, .flags = ORM_PK | ORM_READONLY},
    {.name = "login", .type = ORM_TEXT,
     .flags = ORM_REQUIRED | ORM_UNIQUE | ORM_NOCASE,
     .min_chars = 1, .max_chars = 30, .char_ok = orm_char_login, .rule = LOGIN_RULE},
    {.name = "first_name", .type = ORM_TEXT, .flags = ORM_NULLABLE,
     .max_chars = 30, .char_ok = orm_char_not_control, .rule = NAME_RULE},
    {.name = "last_name", .type = ORM_TEXT, .flags = ORM_NULLABLE,
     .max_chars = 30, .char_ok = orm_char_not_control, .rule = NAME_RULE},
    {.name = "created_at", .type = ORM_TIMESTAMP, .flags = ORM_READONLY | ORM_CREATED_AT},
};

const struct orm_model users_model = {
    .table = "users",
    .singular = "user",
    .columns = users_columns,
    .n_columns = sizeof(users_columns) / sizeof(users_columns[0]),
};

/* The one-operation sessions the handlers run. Each leaves its context
 * ready for a retry: a result from an earlier try is dropped first. */
struct user_op {
    json_t *input;   /* borrowed */
    int64_t id;
    json_t *row;     /* new, the result */
};

static enum usv_err
insert_work(struct orm_session *s, void *arg)
{
    struct user_op *op = arg;

    json_decref(op->row);
    op->row = NULL;
    return orm_insert(s, &users_model, op->input, &op->row);
}

static enum usv_err
find_work(struct orm_session *s, void *arg)
{
    struct user_op *op = arg;

    json_decref(op->row);
    op->row = NULL;
    return orm_find(s, &users_model, op->id, false, &op->row);
}

/* Wrap a validation error list as the problem body's "errors" member. */
static json_t *
errors_member(json_t *errors)
{
    return json_pack("{s:o}", "errors", errors);
}

enum usv_err
users_create(struct http_req *req, json_t **out)
{
    struct user_op op = {0};
    json_t *body = NULL, *errors = NULL;
    char location[48];
    enum usv_err rc;

    rc = http_req_json_body(req, NULL, &body);
    if (rc != USV_OK)
        return rc;
    rc = orm_validate(&users_model, body, ORM_FOR_CREATE, &errors);
    if (rc == USV_INVALID) {
        *out = errors_member(errors);
        return rc;
    }
    op.input = body;
    rc = orm_transact(http_req_db(req), ORM_TX_WRITE, insert_work, &op);
    if (rc == USV_CONFLICT)
        http_req_set_detail(req, "login is already taken");
    if (rc != USV_OK) {
        json_decref(op.row);
        return rc;
    }
    snprintf(location, sizeof(location), "/users/%lld",
             (long long)json_integer_value(json_object_get(op.row, "id")));
    http_req_set_status(req, 201);
    http_req_add_header(req, "Location", location);
    *out = op.row;
    return USV_OK;
}

enum usv_err
users_get(struct http_req *req, json_t **out)
{
    struct user_op op = {0};
    enum usv_err rc;

    if (!http_req_path_id(req, &op.id))
        return USV_NOT_FOUND;   /* API.md: a malformed id is a 404 */
    rc = orm_transact(http_req_db(req), ORM_TX_READ, find_work, &op);
    if (rc != USV_OK) {
        if (rc == USV_NOT_FOUND)
            http_req_set_detail(req, "no user with id %lld", (long long)op.id);
        json_decref(op.row);
        return rc;
    }
    *out = op.row;
    return USV_OK;
}
