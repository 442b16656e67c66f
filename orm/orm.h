/* SPDX-License-Identifier: MIT
 * orm.h - the compact ORM: a database handle, sessions, model operations.
 *
 * A struct orm_db is opened from a DATABASE_URL; it owns the backend, the
 * connection pool and the SQL of every operation of every model, generated
 * once at open time for the backend's dialect. Work runs in sessions: one
 * pooled connection inside one transaction, committed when the work returns
 * USV_OK and rolled back otherwise, the connection always given back.
 *
 * Operations map rows to JSON through the model: a row is a new JSON object
 * with one key per column. Errors are enum usv_err: USV_NOT_FOUND,
 * USV_CONFLICT (unique violation), USV_UNAVAILABLE (no connection in time, or
 * the database is gone), USV_INTERNAL. Driver messages go to the log only.
 * Thread-safety: an orm_db is shared by all threads; a session belongs to the
 * thread running the work. */
#ifndef USERSVC_ORM_ORM_H
#define USERSVC_ORM_ORM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "orm/model.h"
#include "base/err.h"

struct orm_db;
struct orm_session;
struct migration;

struct orm_db_options {
    unsigned pool_size;        /* 0 = the backend's default */
    unsigned pool_timeout_ms;  /* longest wait for a free connection or a batch */
    unsigned statement_timeout_ms; /* longest a session's database work may take once
                                * it has its connection (0 = no bound) */
    unsigned idle_check_ms;    /* ping a connection idle longer than this before reuse */
    unsigned pool_min_idle;    /* idle connections kept however long they idle */
    unsigned pool_idle_timeout_ms; /* close idle ones beyond pool_min_idle after this;
                                * 0 = never */
    const char *replica_url;   /* optional read replica(s), same backend; NULL = none */
    unsigned batches;          /* batches of single-statement sessions in flight at once,
                                * where the backend batches; 0 = one connection each */
    unsigned migration_lock_timeout_ms; /* how long a migration's DDL waits for a lock
                                * before it gives up and retries (0 = 1000) */
    unsigned migration_retries; /* further tries of a migration that gave up waiting */
    bool no_prepared_statements; /* DB_PREPARED_STATEMENTS=off: no named statement
                                * outlives its transaction, so a pooler may move the
                                * session between server connections (PgBouncer in
                                * transaction mode); see orm_limits */
    const struct migration *migrations; /* the schema of @models (orm/migrations.h),
                                * borrowed; NULL = the embedded product set */
    size_t n_migrations;
};

struct orm_pool_stats {
    unsigned size, open, in_use, waiting;
    uint64_t acquired, timeouts, connects, connect_failures, discarded;
    uint64_t batches, batched;   /* batches run, and the statements they carried */
    uint64_t connect_timeouts;   /* connection attempts cut at their deadline */
    uint64_t statement_timeouts; /* database work cut at its deadline (usersvc's watchdog
                                  * or the database's own statement/lock timeout) */
    uint64_t batch_timeouts;     /* batched statements withdrawn after waiting too long */
    uint64_t batch_busy_ms;      /* how long every batch slot has been taken (0: one free) */
    unsigned idle;               /* connections open and not borrowed now */
    uint64_t connect_refused_full; /* attempts the database refused as full (too many
                                  * clients), each one waited out within the pool timeout */
    uint64_t idle_closed;        /* idle connections closed after DB_POOL_IDLE_TIMEOUT_MS */
};

/* Open the database at @url ("sqlite:PATH", "postgres://…", "mysql://…") for
 * the @n_models models in @models (borrowed for the handle's lifetime).
 * Connects lazily: USV_OK does not mean the database is reachable.
 * Returns USV_BAD_REQUEST for a URL no backend understands, USV_INVALID for
 * a model the ORM cannot serve (no single int64 primary key, a column
 * declared twice, more than ORM_MAX_WRITABLE writable columns); the reason
 * is logged. Any number of models of any size within those limits is fine:
 * statement storage follows the models. */
enum usv_err orm_db_open(const char *url, const struct orm_model *const *models,
                         size_t n_models, const struct orm_db_options *opts,
                         struct orm_db **out);

/* Close every connection and free @db. Accepts NULL. No session may be open. */
void orm_db_close(struct orm_db *db);

/* "sqlite", "postgres" or "mysql". */
const char *orm_db_backend(const struct orm_db *db);

/* A copy of the pool's counters. */
void orm_db_stats(struct orm_db *db, struct orm_pool_stats *out);

/* A copy of the replica pool's counters; false when there is no replica. */
bool orm_db_replica_stats(struct orm_db *db, struct orm_pool_stats *out);

/* Check that requests can be served now: a connection can be had and the
 * database answers within the statement timeout, the batch slots are not
 * all held longer than the pool timeout, and the backend can write (SQLite:
 * space on the disk). */
enum usv_err orm_db_ping(struct orm_db *db);

/* Can the database run a transaction? Runs an empty one on a pooled
 * connection. USV_INVALID, with the reason in @why, when something in the
 * way refuses transactions (PgBouncer in statement mode): a configuration
 * error. USV_UNAVAILABLE when the database cannot be reached now (nothing
 * can be told), USV_OK otherwise. */
enum usv_err orm_db_check_transactions(struct orm_db *db, char *why, size_t why_len);

/* Did the primary refuse this handle's last connection attempt because it
 * is full (too many clients), with no connection made since? For start-up
 * and /readyz, to tell a full database from one that cannot be reached. */
bool orm_db_is_full(struct orm_db *db);

/* How a session's work meets the database. Work of one statement needs no
 * explicit transaction: the database runs each statement atomically, and
 * skipping BEGIN/COMMIT saves two round trips per request. */
enum orm_tx {
    ORM_TX_READ,       /* reads only; each statement on its own */
    ORM_TX_WRITE,      /* a read-write transaction: BEGIN … COMMIT, or ROLLBACK */
    ORM_TX_STATEMENT,  /* exactly one write statement (plus reads of its result) */
    ORM_TX_READ_REPLICA, /* reads a replica may serve; see orm_transact() */
};

/* Run @work in a session: acquire a connection (waiting at most the pool
 * timeout), begin a transaction when @mode is ORM_TX_WRITE, call @work,
 * commit if it returned USV_OK and roll back otherwise, release the
 * connection. When the database
 * reports a transient failure (serialization failure, deadlock) the whole
 * transaction is retried a bounded number of times, so @work must leave
 * @arg ready to be run again (free what a previous try stored there).
 * Where the backend batches (orm_db_options.batches), ORM_TX_STATEMENT work,
 * and ORM_TX_READ work on backends that batch reads, borrows no connection:
 * each statement joins a batch of concurrent sessions' statements (waiting
 * at most the pool timeout in the queue), so such work must run its
 * statements one after another and rely on nothing but their results.
 * With ORM_TX_READ_REPLICA the work runs on the replica pool when there is
 * one; if the replica is unreachable or answers USV_NOT_FOUND (it may lag
 * behind), the work runs again on the primary, so a row just created is
 * always found (read-your-writes for existence).
 * Returns @work's result, or the session's own error. */
enum usv_err orm_transact(struct orm_db *db, enum orm_tx mode,
                          enum usv_err (*work)(struct orm_session *s, void *arg),
                          void *arg);

/* Insert a row from @values (validated; keys are column names). Columns
 * absent from @values are NULL; ORM_CREATED_AT/ORM_UPDATED_AT columns get the
 * current time. On USV_OK *@row is the new row, as stored. */
enum usv_err orm_insert(struct orm_session *s, const struct orm_model *m, json_t *values,
                        json_t **row);

/* Find the row whose primary key is @id. USV_NOT_FOUND if none. On USV_OK
 * *@row is new. With @for_update the row stays locked until the session
 * ends (a write session only). */
enum usv_err orm_find(struct orm_session *s, const struct orm_model *m, int64_t id,
                      bool for_update, json_t **row);

/* Find the row whose column @column equals @value (with the column's case
 * rule): the first by key when several do. USV_NOT_FOUND if none, or if
 * @m has no such column. On USV_OK *@row is new. A lookup by a unique
 * column (an idempotency key's digest, handlers/idempotency.c). */
enum usv_err orm_find_by(struct orm_session *s, const struct orm_model *m, const char *column,
                         const char *value, json_t **row);

/* orm_find() without @for_update, answered as text: on USV_OK *@text (new,
 * NUL-terminated, *@len bytes) is exactly what json_dumps(row, JSON_COMPACT)
 * of orm_find()'s row would be, written without building the object. */
enum usv_err orm_find_text(struct orm_session *s, const struct orm_model *m, int64_t id,
                           char **text, size_t *len);

/* A keyset page: rows whose key is greater than @after, ascending by key. */
struct orm_page {
    int64_t after;        /* 0 = from the start */
    unsigned limit;       /* at least 1 */
    const char *column;   /* optional equality filter (with the column's case rule) */
    const char *value;    /* its value, when @column is set */
};

/* Read one page. On USV_OK *@rows is a new JSON array of at most @limit rows
 * and *@has_more says whether any row follows the last one. */
enum usv_err orm_find_many(struct orm_session *s, const struct orm_model *m,
                           const struct orm_page *page, json_t **rows, bool *has_more);

/* Apply @changes (validated with ORM_FOR_UPDATE) to @current, the row as
 * read (locked) in this session. Only columns whose value differs are
 * written, together with the ORM_UPDATED_AT columns; when nothing differs,
 * nothing is written and *@row is @current itself (a new reference).
 * On USV_OK *@row is the row as now stored. */
enum usv_err orm_update(struct orm_session *s, const struct orm_model *m, json_t *current,
                        json_t *changes, json_t **row);

/* After orm_insert() or orm_update() on @m returned USV_CONFLICT in @s:
 * the unique column the value collided on, or NULL when it cannot be told.
 * The database names the index or constraint it enforced; the column is
 * found by the naming rule of migrations (an index or constraint named
 * "<table>_<column>_..."; SQLite names "<table>.<column>" itself). When the
 * database cannot be asked (a batched insert) and @m has exactly one
 * unique column, that one. */
const struct orm_column *orm_conflict_column(struct orm_session *s, const struct orm_model *m);

/* Delete the row whose key is @id. USV_NOT_FOUND if there was none. */
enum usv_err orm_delete(struct orm_session *s, const struct orm_model *m, int64_t id);

#endif
