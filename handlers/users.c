/* SPDX-License-Identifier: MIT
 * users.c - the user resource (API.md "The user resource").
 *
 * The model below is the only description of a user: the ORM validates
 * request bodies against it, generates SQL from it and maps rows back to
 * JSON through it, and the generic handlers (handlers/resource.c) serve it.
 * This file holds no logic: a second resource is a copy of this shape with
 * another model (README "How to add a field"). */
#include "handlers/users.h"

#include "handlers/resource.h"

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
    {.name = "updated_at", .type = ORM_TIMESTAMP, .flags = ORM_READONLY | ORM_UPDATED_AT},
};

const struct orm_model users_model = {
    .table = "users",
    .singular = "user",
    .columns = users_columns,
    .n_columns = sizeof(users_columns) / sizeof(users_columns[0]),
};

static const struct resource users = {.path = "/users", .model = &users_model,
                                      .filter = "login", .is_idempotent = true};

/* users_create, users_get, users_list, users_patch, users_delete. */
RESOURCE_HANDLERS(users, users)
