/* SPDX-License-Identifier: MIT
 * sql.c - see sql.h. Identifiers come from static model declarations (plain
 * snake_case), so they are written as they are; values never appear here. */
#include "orm/sql.h"

#include <assert.h>

#include "orm/orm_int.h"

void
orm_sql_select_list(const struct orm_backend *be, const struct orm_model *m,
                    struct strbuf *out)
{
    for (size_t i = 0; i < m->n_columns; i++) {
        if (i > 0)
            strbuf_adds(out, ", ");
        be->select_column(out, &m->columns[i]);
    }
}

static void
build_insert(const struct orm_backend *be, const struct orm_model *m, bool returning,
             struct strbuf *out)
{
    unsigned n = 0;

    strbuf_addf(out, "INSERT INTO %s (", m->table);
    for (size_t i = 0; i < m->n_columns; i++) {
        if (m->columns[i].flags & ORM_PK)
            continue;
        strbuf_addf(out, "%s%s", n++ > 0 ? ", " : "", m->columns[i].name);
    }
    strbuf_adds(out, ") VALUES (");
    n = 0;
    for (size_t i = 0; i < m->n_columns; i++) {
        if (m->columns[i].flags & ORM_PK)
            continue;
        if (n > 0)
            strbuf_adds(out, ", ");
        be->placeholder(out, ++n, m->columns[i].type);
    }
    strbuf_adds(out, ")");
    if (returning) {
        strbuf_adds(out, " RETURNING ");
        orm_sql_select_list(be, m, out);
    }
}

void
orm_sql_build_insert_many(const struct orm_backend *be, const struct orm_model *m,
                          unsigned n_rows, struct strbuf *out)
{
    unsigned n = 0;

    assert(n_rows >= 1);
    strbuf_addf(out, "INSERT INTO %s (", m->table);
    for (size_t i = 0; i < m->n_columns; i++) {
        if (m->columns[i].flags & ORM_PK)
            continue;
        strbuf_addf(out, "%s%s", n++ > 0 ? ", " : "", m->columns[i].name);
    }
    strbuf_adds(out, ") VALUES ");
    n = 0;
    for (unsigned r = 0; r < n_rows; r++) {
        bool first = true;

        strbuf_adds(out, r > 0 ? ", (" : "(");
        for (size_t i = 0; i < m->n_columns; i++) {
            if (m->columns[i].flags & ORM_PK)
                continue;
            if (!first)
                strbuf_adds(out, ", ");
            first = false;
            be->placeholder(out, ++n, m->columns[i].type);
        }
        strbuf_adds(out, ")");
    }
    strbuf_adds(out, " RETURNING ");
    orm_sql_select_list(be, m, out);
}

static void
build_find(const struct orm_backend *be, const struct orm_model *m, bool lock,
           struct strbuf *out)
{
    const struct orm_column *pk = orm_model_pk(m);

    strbuf_adds(out, "SELECT ");
    orm_sql_select_list(be, m, out);
    strbuf_addf(out, " FROM %s WHERE ", m->table);
    be->equals(out, pk, 1);
    if (lock)
        strbuf_adds(out, be->lock_suffix);
}

void
orm_sql_build_find_many_by_key(const struct orm_backend *be, const struct orm_model *m,
                               unsigned n, struct strbuf *out)
{
    const struct orm_column *pk = orm_model_pk(m);

    /* IN compares like "=" only where no case rule applies: keys are integers. */
    assert(n >= 1 && pk->type == ORM_INT64 && !(pk->flags & ORM_NOCASE));
    strbuf_adds(out, "SELECT ");
    orm_sql_select_list(be, m, out);
    strbuf_addf(out, " FROM %s WHERE %s IN (", m->table, pk->name);
    for (unsigned i = 1; i <= n; i++) {
        if (i > 1)
            strbuf_adds(out, ", ");
        be->placeholder(out, i, pk->type);
    }
    strbuf_adds(out, ")");
}

static void
build_list(const struct orm_backend *be, const struct orm_model *m,
           const struct orm_column *filter, struct strbuf *out)
{
    const struct orm_column *pk = orm_model_pk(m);
    unsigned n = 0;

    strbuf_adds(out, "SELECT ");
    orm_sql_select_list(be, m, out);
    strbuf_addf(out, " FROM %s WHERE %s > ", m->table, pk->name);
    be->placeholder(out, ++n, ORM_INT64);
    if (filter != NULL) {
        strbuf_adds(out, " AND ");
        be->equals(out, filter, ++n);
    }
    strbuf_addf(out, " ORDER BY %s LIMIT ", pk->name);
    be->placeholder(out, ++n, ORM_INT64);
}

static void
build_delete(const struct orm_backend *be, const struct orm_model *m, struct strbuf *out)
{
    strbuf_addf(out, "DELETE FROM %s WHERE ", m->table);
    be->equals(out, orm_model_pk(m), 1);
}

bool
orm_column_is_writable(const struct orm_column *c)
{
    return !(c->flags & (ORM_PK | ORM_READONLY));
}

void
orm_sql_build_list_by(const struct orm_backend *be, const struct orm_model *m, size_t col,
                      struct strbuf *out)
{
    assert(col < m->n_columns);
    build_list(be, m, &m->columns[col], out);
}

void
orm_sql_build_update(const struct orm_backend *be, const struct orm_model *m, uint64_t mask,
                     struct strbuf *out)
{
    unsigned n = 0, bit = 0;

    strbuf_addf(out, "UPDATE %s SET ", m->table);
    for (size_t i = 0; i < m->n_columns; i++) {
        const struct orm_column *c = &m->columns[i];

        if (!orm_column_is_writable(c))
            continue;
        if (mask & ((uint64_t)1 << bit++)) {
            strbuf_addf(out, "%s%s = ", n > 0 ? ", " : "", c->name);
            be->placeholder(out, ++n, c->type);
        }
    }
    for (size_t i = 0; i < m->n_columns; i++) {
        const struct orm_column *c = &m->columns[i];

        if (c->flags & ORM_UPDATED_AT) {
            strbuf_addf(out, "%s%s = ", n > 0 ? ", " : "", c->name);
            be->placeholder(out, ++n, c->type);
        }
    }
    strbuf_adds(out, " WHERE ");
    be->equals(out, orm_model_pk(m), ++n);
}

void
orm_sql_build(const struct orm_backend *be, const struct orm_model *m, enum orm_op op,
              struct strbuf *out)
{
    switch (op) {
    case ORM_OP_INSERT:
    case ORM_OP_INSERT_RETURNING:
        build_insert(be, m, op == ORM_OP_INSERT_RETURNING, out);
        return;
    case ORM_OP_FIND:
        build_find(be, m, false, out);
        return;
    case ORM_OP_FIND_LOCK:
        build_find(be, m, true, out);
        return;
    case ORM_OP_LIST:
        build_list(be, m, NULL, out);
        return;
    case ORM_OP_DELETE:
        build_delete(be, m, out);
        return;
    case ORM_OP_COUNT_:
        break;
    }
    assert(!"unknown ORM operation");
}
