/* SPDX-License-Identifier: MIT
 * model.c - validation driven by column descriptors (see model.h).
 *
 * jansson has already rejected invalid UTF-8, so strings here are valid
 * UTF-8 (possibly with U+0000 when the parser allowed it); lengths are
 * counted in code points, not bytes. */
#include "orm/model.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

const struct orm_column *
orm_model_pk(const struct orm_model *m)
{
    for (size_t i = 0; i < m->n_columns; i++) {
        if (m->columns[i].flags & ORM_PK)
            return &m->columns[i];
    }
    assert(!"model without primary key");
    return NULL;
}

const struct orm_column *
orm_model_column(const struct orm_model *m, const char *name)
{
    for (size_t i = 0; i < m->n_columns; i++) {
        if (strcmp(m->columns[i].name, name) == 0)
            return &m->columns[i];
    }
    return NULL;
}

bool
orm_char_login(uint32_t cp)
{
    return (cp >= 'A' && cp <= 'Z') || (cp >= 'a' && cp <= 'z') ||
           (cp >= '0' && cp <= '9') || cp == '.' || cp == '_' || cp == '-';
}

bool
orm_char_not_control(uint32_t cp)
{
    return !(cp <= 0x1F || (cp >= 0x7F && cp <= 0x9F));
}

/* Decode one code point of valid UTF-8 at @s (at most @len bytes); returns
 * its byte length. Input validity is jansson's guarantee. */
static size_t
utf8_next(const unsigned char *s, size_t len, uint32_t *cp)
{
    if (s[0] < 0x80 || len < 2) {
        *cp = s[0];
        return 1;
    }
    if ((s[0] & 0xE0) == 0xC0) {
        *cp = ((uint32_t)(s[0] & 0x1F) << 6) | (s[1] & 0x3F);
        return 2;
    }
    if ((s[0] & 0xF0) == 0xE0 && len >= 3) {
        *cp = ((uint32_t)(s[0] & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) |
              (s[2] & 0x3F);
        return 3;
    }
    if (len >= 4) {
        *cp = ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) |
              ((uint32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
        return 4;
    }
    *cp = s[0];
    return 1;
}

static bool
text_ok(const struct orm_column *c, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t chars = 0;

    for (size_t i = 0; i < len;) {
        uint32_t cp;

        i += utf8_next(p + i, len - i, &cp);
        if (c->char_ok != NULL && !c->char_ok(cp))
            return false;
        chars++;
    }
    return chars >= c->min_chars && (c->max_chars == 0 || chars <= c->max_chars);
}

static const char *
type_message(const struct orm_column *c)
{
    switch (c->type) {
    case ORM_INT64:
        return (c->flags & ORM_NULLABLE) ? "must be an integer or null" : "must be an integer";
    case ORM_TEXT:
    case ORM_TIMESTAMP:
        return (c->flags & ORM_NULLABLE) ? "must be a string or null" : "must be a string";
    }
    return "has the wrong type";
}

/* Why @value is not acceptable for @c, or NULL when it is. */
static const char *
check_value(const struct orm_column *c, const json_t *value)
{
    if (json_is_null(value))
        return (c->flags & ORM_NULLABLE) ? NULL : type_message(c);
    switch (c->type) {
    case ORM_INT64:
        return json_is_integer(value) ? NULL : type_message(c);
    case ORM_TEXT:
    case ORM_TIMESTAMP:
        if (!json_is_string(value))
            return type_message(c);
        if (!text_ok(c, json_string_value(value), json_string_length(value)))
            return c->rule != NULL ? c->rule : "is not a valid value";
        return NULL;
    }
    return type_message(c);
}

static void
add_error(json_t *errors, const char *field, const char *message)
{
    json_t *e = json_pack("{s:s, s:s}", "field", field, "message", message);

    if (e != NULL)
        json_array_append_new(errors, e);
}

enum usv_err
orm_validate(const struct orm_model *m, json_t *obj, enum orm_validate_mode mode,
             json_t **errors)
{
    json_t *errs = json_array();
    const char *key;
    json_t *value;

    if (errs == NULL)
        return USV_NOMEM;
    assert(json_is_object(obj));
    /* jansson keeps insertion order, so errors follow the client's key order. */
    json_object_foreach(obj, key, value) {
        const struct orm_column *c = orm_model_column(m, key);
        const char *why;

        if (c == NULL) {
            add_error(errs, key, "unknown field");
            continue;
        }
        if (c->flags & (ORM_READONLY | ORM_PK)) {
            add_error(errs, key, "is read-only");
            continue;
        }
        why = check_value(c, value);
        if (why != NULL)
            add_error(errs, key, why);
    }
    if (mode == ORM_FOR_CREATE) {
        for (size_t i = 0; i < m->n_columns; i++) {
            const struct orm_column *c = &m->columns[i];

            if ((c->flags & ORM_REQUIRED) && json_object_get(obj, c->name) == NULL)
                add_error(errs, c->name, "is required");
        }
    }
    if (json_array_size(errs) == 0) {
        json_decref(errs);
        return USV_OK;
    }
    *errors = errs;
    return USV_INVALID;
}
