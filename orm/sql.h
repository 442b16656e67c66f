/* SPDX-License-Identifier: MIT
 * sql.h - SQL text generated from a model and a backend's dialect.
 *
 * Every statement the ORM runs is built here, once per database handle, from
 * the model's columns and the dialect hooks of struct orm_backend. Values are
 * never spliced in: each becomes a placeholder, bound at execution.
 * Thread-safety: pure functions. */
#ifndef USERSVC_ORM_SQL_H
#define USERSVC_ORM_SQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "orm/model.h"
#include "base/strbuf.h"

struct orm_backend;

enum orm_op {
    ORM_OP_INSERT,     /* params: every non-key column, in model order */
    ORM_OP_INSERT_RETURNING, /* the same, answering the new row (RETURNING) */
    ORM_OP_FIND,       /* params: primary key */
    ORM_OP_FIND_LOCK,  /* params: primary key; locks the row */
    ORM_OP_LIST,       /* params: key lower bound (exclusive), limit */
    ORM_OP_DELETE,     /* params: primary key */
    ORM_OP_COUNT_
};

/* Append the SQL of @op on @m in @be's dialect to @out. */
void orm_sql_build(const struct orm_backend *be, const struct orm_model *m, enum orm_op op,
                   struct strbuf *out);

/* Keyset page filtered by equality on column @col (with its case rule).
 * Params: key lower bound (exclusive), the value, limit. */
void orm_sql_build_list_by(const struct orm_backend *be, const struct orm_model *m,
                           size_t col, struct strbuf *out);

/* Find by primary key of up to @n (>= 1) rows in one statement:
 * "SELECT <select list> FROM <table> WHERE <key> IN (<n placeholders>)",
 * rows in no particular order, one per distinct key found. For backends
 * without pipelining, which batch concurrent finds this way (orm_int.h,
 * struct orm_find_many). Params: @n keys. */
void orm_sql_build_find_many_by_key(const struct orm_backend *be, const struct orm_model *m,
                                    unsigned n, struct strbuf *out);

/* "INSERT INTO t (cols) VALUES (?, ...), ... RETURNING cols" for @n_rows
 * rows, each row's placeholders in the order of orm_sql_build()'s INSERT:
 * how a backend without pipelining inserts a batch in one round trip
 * (struct orm_insert_many). */
void orm_sql_build_insert_many(const struct orm_backend *be, const struct orm_model *m,
                               unsigned n_rows, struct strbuf *out);

/* Columns a client may write: neither key nor read-only. The bits of an
 * update mask number these columns in model order, so a model has at most
 * ORM_MAX_WRITABLE of them (orm_db_open() refuses a model with more). */
#define ORM_MAX_WRITABLE 64
bool orm_column_is_writable(const struct orm_column *c);

/* UPDATE of the writable columns in @mask plus every ORM_UPDATED_AT column.
 * Params: the masked columns in model order, the update times, the key. */
void orm_sql_build_update(const struct orm_backend *be, const struct orm_model *m,
                          uint64_t mask, struct strbuf *out);

/* Append the select list of @m (all columns, model order). */
void orm_sql_select_list(const struct orm_backend *be, const struct orm_model *m,
                         struct strbuf *out);

#endif
