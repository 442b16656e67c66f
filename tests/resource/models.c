/* SPDX-License-Identifier: MIT
 * models.c - see models.h. Each resource is what handlers/users.c is for
 * users: a model, a struct resource, five one-line routes. */
#include "tests/resource/models.h"

#include "handlers/resource.h"

#define TEXT_RULE "must be at most 40 characters, without control characters"

static const struct orm_column widgets_columns[] = {
    {.name = "id", .type = ORM_INT64, .flags = ORM_PK | ORM_READONLY},
    {.name = "name", .type = ORM_TEXT, .flags = ORM_REQUIRED | ORM_UNIQUE | ORM_NOCASE,
     .min_chars = 1, .max_chars = 40, .char_ok = orm_char_not_control, .rule = TEXT_RULE,
     .taken = "a widget of that name exists"},
    {.name = "note", .type = ORM_TEXT, .flags = ORM_NULLABLE, .max_chars = 200,
     .char_ok = orm_char_not_control, .rule = "must be at most 200 characters, "
                                              "without control characters"},
    {.name = "created_at", .type = ORM_TIMESTAMP, .flags = ORM_READONLY | ORM_CREATED_AT},
    {.name = "updated_at", .type = ORM_TIMESTAMP, .flags = ORM_READONLY | ORM_UPDATED_AT},
};

const struct orm_model widgets_model = {
    .table = "widgets",
    .singular = "widget",
    .columns = widgets_columns,
    .n_columns = sizeof(widgets_columns) / sizeof(widgets_columns[0]),
};

static const struct orm_column wide_columns[] = {
    {.name = "id", .type = ORM_INT64, .flags = ORM_PK | ORM_READONLY},
    {.name = "c01", .type = ORM_TEXT, .flags = ORM_NULLABLE, .max_chars = 40,
     .char_ok = orm_char_not_control, .rule = TEXT_RULE},
    {.name = "c02", .type = ORM_TEXT, .flags = ORM_NULLABLE, .max_chars = 40,
     .char_ok = orm_char_not_control, .rule = TEXT_RULE},
    {.name = "c03", .type = ORM_TEXT, .flags = ORM_NULLABLE, .max_chars = 40,
     .char_ok = orm_char_not_control, .rule = TEXT_RULE},
    {.name = "c04", .type = ORM_TEXT, .flags = ORM_NULLABLE, .max_chars = 40,
     .char_ok = orm_char_not_control, .rule = TEXT_RULE},
    {.name = "c05", .type = ORM_TEXT, .flags = ORM_NULLABLE, .max_chars = 40,
     .char_ok = orm_char_not_control, .rule = TEXT_RULE},
    {.name = "c06", .type = ORM_TEXT, .flags = ORM_NULLABLE, .max_chars = 40,
     .char_ok = orm_char_not_control, .rule = TEXT_RULE},
    {.name = "c07", .type = ORM_TEXT, .flags = ORM_NULLABLE, .max_chars = 40,
     .char_ok = orm_char_not_control, .rule = TEXT_RULE},
    {.name = "c08", .type = ORM_TEXT, .flags = ORM_NULLABLE, .max_chars = 40,
     .char_ok = orm_char_not_control, .rule = TEXT_RULE},
    {.name = "c09", .type = ORM_TEXT, .flags = ORM_NULLABLE, .max_chars = 40,
     .char_ok = orm_char_not_control, .rule = TEXT_RULE},
    {.name = "c10", .type = ORM_TEXT, .flags = ORM_NULLABLE, .max_chars = 40,
     .char_ok = orm_char_not_control, .rule = TEXT_RULE},
    {.name = "c11", .type = ORM_TEXT, .flags = ORM_NULLABLE, .max_chars = 40,
     .char_ok = orm_char_not_control, .rule = TEXT_RULE},
    {.name = "c12", .type = ORM_TEXT, .flags = ORM_NULLABLE, .max_chars = 40,
     .char_ok = orm_char_not_control, .rule = TEXT_RULE},
    {.name = "code", .type = ORM_TEXT, .flags = ORM_NULLABLE | ORM_UNIQUE, .max_chars = 40,
     .char_ok = orm_char_not_control, .rule = TEXT_RULE},
    {.name = "tag", .type = ORM_TEXT, .flags = ORM_NULLABLE | ORM_UNIQUE, .max_chars = 40,
     .char_ok = orm_char_not_control, .rule = TEXT_RULE},
    {.name = "updated_at", .type = ORM_TIMESTAMP, .flags = ORM_READONLY | ORM_UPDATED_AT},
};

const struct orm_model wide_model = {
    .table = "wide",
    .singular = "wide row",
    .columns = wide_columns,
    .n_columns = sizeof(wide_columns) / sizeof(wide_columns[0]),
};

static const struct resource widgets = {.path = "/widgets", .model = &widgets_model,
                                        .filter = "name"};
static const struct resource wide = {.path = "/wide", .model = &wide_model, .filter = NULL};

RESOURCE_HANDLERS(widgets, widgets)
RESOURCE_HANDLERS(wide, wide)
