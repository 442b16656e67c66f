/* SPDX-License-Identifier: MIT
 * orm_int.h - what the ORM's own files share: the backend interface.
 *
 * Each database is one file (backend_sqlite.c, backend_pg.c, backend_mysql.c)
 * that fills one const struct orm_backend. A backend connection embeds
 * struct orm_conn as its first member. Backends know no models and no HTTP:
 * they prepare and run SQL text the ORM generated with their dialect hooks,
 * and deliver rows as text cells into a struct orm_result.
 *
 * Two levels, as curl's vtls.c over vtls/: the hooks of struct orm_backend
 * are driver calls only (send BEGIN, prepare this text, execute that id),
 * and the orm_conn_*() functions of the shared layer (orm/backends.c) are
 * what the ORM, migrations and tests call. The shared layer owns the
 * policy: the statement texts and whether each is prepared on the current
 * server session (struct orm_conn_stmt), the transaction and migration-lock
 * state, noticing a dead idle session before anything is sent and
 * reconnecting in place (then preparing again, lazily, from the texts),
 * and saying BEGIN again after a reconnect.
 * Error contract of every hook returning enum usv_err: USV_CONFLICT for a
 * unique violation, USV_RETRY for a serialization failure or deadlock (the
 * session retries), USV_UNAVAILABLE when the database cannot be reached (and
 * then set conn->is_broken so the pool replaces it), USV_INTERNAL otherwise.
 * On failure the driver's message is in conn->errmsg, for the log only.
 * Thread-safety: a connection is used by one thread at a time (the pool's
 * borrower); backend tables are immutable. */
#ifndef USERSVC_ORM_ORM_INT_H
#define USERSVC_ORM_ORM_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "orm/orm.h"
#include "base/strbuf.h"
#include "base/err.h"
#include "orm/url.h"

/* Statement ids are small integers, dense from 0, prepared at most once per
 * connection. How many there are depends on the models (orm_db_open()) and
 * grows as UPDATE texts are first needed, so every per-connection table
 * indexed by id grows with orm_grow() where an id is first prepared. */

struct orm_backend;

/* What the shared layer knows of statement id @i on one connection. */
struct orm_conn_stmt {
    const char *sql;                 /* its text (borrowed, or @owned); NULL = unknown id */
    char *owned;                     /* a copy made by orm_conn_prepare(), or NULL */
    size_t n_params;
    bool is_live;                    /* prepared in the current server session */
};

struct orm_conn {
    const struct orm_backend *be;    /* set by orm_conn_open() */
    bool is_broken;                  /* unusable: the pool closes it on release */
    bool timed_out;                  /* the database cut the last statement at its statement
                                      * or lock timeout (the ORM counts it and clears it) */
    uint64_t deadline_ms;            /* monotonic end of the current work, 0 = none: for
                                      * backends that bound it themselves (SQLite) */
    bool has_returning;              /* this server runs INSERT ... RETURNING (set by open) */
    bool in_tx;                      /* between orm_conn_begin() and commit/rollback */
    bool holds_lock;                 /* the migration lock: the session must not change */
    struct orm_conn_stmt *stmts;     /* by statement id, n_stmts long (orm_grow()) */
    size_t n_stmts;
    uint64_t last_used_ms;           /* monotonic; written by the pool */
    void *owned_cfg;                 /* orm_connect_url(): freed by orm_conn_finish() */
    void (*free_owned_cfg)(void *cfg);
    char errmsg[256];                /* last driver message; log only, never to clients */
};

/* A bound parameter. Text is borrowed for the call; backends copy if needed. */
struct orm_param {
    enum orm_type type;
    bool is_null;
    int64_t i;          /* ORM_INT64 */
    const char *s;      /* ORM_TEXT, ORM_TIMESTAMP (canonical RFC 3339 text) */
    size_t len;
};

struct orm_cell {
    size_t off, len;
    bool is_null;
};

/* Rows of text cells, filled by backends, read by the ORM. */
struct orm_result {
    /* private: use the functions */
    size_t n_cols;
    size_t n_cells, cap_cells;
    struct orm_cell *cells;
    struct strbuf data;
    uint64_t affected;   /* rows changed by INSERT/UPDATE/DELETE */
    int64_t last_id;     /* generated key of the last INSERT, when known */
};

void orm_result_init(struct orm_result *r, size_t n_cols);
void orm_result_finish(struct orm_result *r);
void orm_result_push(struct orm_result *r, const char *s, size_t len);
void orm_result_push_null(struct orm_result *r);
size_t orm_result_rows(const struct orm_result *r);
/* Cell text (NUL-terminated, borrowed until the result changes), or NULL for SQL NULL. */
const char *orm_result_cell(const struct orm_result *r, size_t row, size_t col, size_t *len);

/* How a backend without pipelining runs the finds by primary key of one
 * model in a batch: as one "SELECT ... WHERE key IN (?, ...)"
 * (orm_sql_build_find_many_by_key()), its rows handed to each find by key.
 * The IN lists hold 2, 4, 8, ... BATCH_MAX keys (2 << size index), so a
 * connection prepares at most ORM_FIND_MANY_SIZES of them per model; fewer
 * keys are padded by repeating one, which finds its row once. Statement
 * @first_id + i is list @i; the backend prepares it from @sql[i] on first
 * use. Built by orm_db_open(), immutable, as long-lived as the handle. */
#define ORM_FIND_MANY_SIZES 6
struct orm_find_many {
    unsigned first_id;                     /* statement id of the 2-key list */
    const char *sql[ORM_FIND_MANY_SIZES];  /* text of each list, borrowed */
    size_t key_col;                        /* column of the key in each row */
};

/* How such a backend inserts rows of one model in a batch, where its
 * connections have RETURNING (MariaDB 10.5+): as one multi-row
 * "INSERT ... VALUES (...), (...) RETURNING ..."
 * (orm_sql_build_insert_many()), row i of the result being the i-th row
 * sent. Rows cannot be padded (a repeated row would be inserted twice), so
 * @sql[i] holds exactly 2 << i rows and a batch is cut into such chunks,
 * largest first. Statement @first_id + i is chunk size @i. Built by
 * orm_db_open(), immutable, as long-lived as the handle. */
struct orm_insert_many {
    unsigned first_id;                     /* statement id of the 2-row insert */
    const char *sql[ORM_FIND_MANY_SIZES];  /* text of each size, borrowed */
    size_t n_params;                       /* parameters of one row */
};

/* One statement of a batch: single-statement sessions of concurrent
 * requests, run together on one connection (orm/batch.h). */
struct orm_batch_item {
    unsigned id;                     /* statement id, prepared on the connection */
    const struct orm_param *params;
    size_t n_params;
    struct orm_result *res;          /* the owner's, n_cols set */
    enum usv_err rc;                 /* the statement's outcome */
    uint64_t wait_until_ms;          /* monotonic end of its wait to be sent (batch.c) */
    bool is_write;                   /* of an ORM_TX_STATEMENT session, not a read */
    /* private to batch.c: see orm_batch_item_done() */
    void *batch_node;
    bool *batch_woken;
    /* Set when the statement is its model's find by primary key
     * (ORM_OP_FIND; params[0] is the key, ORM_INT64): how to run many of
     * them at once. NULL for every other statement. */
    const struct orm_find_many *find_many;
    /* Set when the statement is its model's INSERT ... RETURNING
     * (ORM_OP_INSERT_RETURNING) on an ORM_BATCH_FINDS_INSERTS backend: how
     * to run many of them at once. NULL for every other statement. */
    const struct orm_insert_many *insert_many;
};

/* Bounds a backend applies to a connection it opens. */
struct orm_limits {
    unsigned connect_timeout_ms;     /* the whole attempt, start-up included; 0 = driver's */
    unsigned statement_timeout_ms;   /* the database's statement and lock timeouts, and the
                                      * TCP user timeout; 0 = none */
    bool no_prepared_statements;     /* orm_db_options.no_prepared_statements: prepare()
                                      * keeps the text, execute() sends it unnamed */
};

/* Tests only (tests/mysql/test_mysql_backend.c): while true, MySQL
 * connections opened say has_returning false whatever the server, so the
 * MySQL 8 path (INSERT then SELECT, each insert on a connection of its
 * own) runs against a MariaDB. No option, setting or environment variable
 * of the service sets it; a test sets it before opening connections. */
extern bool orm_mysql_test_no_returning;

/* What a backend can run as batches of concurrent sessions' statements
 * (execute_batch(); orm_db_options.batches turns it on). orm.c decides from
 * this alone, in one place, whether a session borrows a connection. */
enum orm_batching {
    ORM_BATCH_NONE,      /* every session borrows a connection */
    ORM_BATCH_FINDS,     /* ORM_TX_READ sessions' finds by key, as one IN list (no
                          * pipelining); any other read borrows a connection of its
                          * own, since a batch would only queue it behind the others */
    ORM_BATCH_FINDS_INSERTS, /* as ORM_BATCH_FINDS, and ORM_TX_STATEMENT sessions' inserts
                          * as one multi-row INSERT ... RETURNING, while the connections
                          * say has_returning (orm.c learns it from each one borrowed);
                          * without it each insert borrows a connection of its own */
    ORM_BATCH_WRITES,    /* ORM_TX_STATEMENT sessions (group commit); a batched insert
                          * has no connection to ask, so needs has_returning */
    ORM_BATCH_ALL,       /* both ORM_TX_STATEMENT and ORM_TX_READ sessions (pipelining) */
};

struct orm_backend {
    const char *name;              /* "sqlite", "postgres", "mysql": also the migration file stem */
    unsigned default_pool_size;
    bool has_transactional_ddl;    /* a failed migration leaves nothing behind */
    bool has_returning;            /* every server runs INSERT ... RETURNING; otherwise
                                    * each connection says (orm_conn.has_returning) */

    /* Does this backend serve URLs of @scheme (lower case, "postgres")? */
    bool (*accepts)(const char *scheme);
    /* Check @u (DATABASE_URL, parsed once by orm/url.c) and build from it
     * all that open() needs: the options this backend knows, in its own
     * form. Called once per handle, at orm_db_open(), so a malformed or
     * unsupported URL is refused at start. On failure USV_BAD_REQUEST and a
     * message in @err naming what is wrong, never quoting a password. */
    enum usv_err (*configure)(const struct url *u, void **cfg, char *err, size_t errlen);
    void (*free_config)(void *cfg);        /* accepts NULL */
    /* Connect with @cfg (borrowed: it outlives every connection made from
     * it) within @lim (NULL: no bounds but the driver's). On failure writes
     * a message without credentials to @err. Called by orm_conn_open(). */
    enum usv_err (*open)(const void *cfg, const struct orm_limits *lim, struct orm_conn **out,
                         char *err, size_t errlen);
    /* The connection's socket, for the client-side deadline (orm/watchdog.h);
     * -1 when there is none (the backend then honours orm_conn.deadline_ms). */
    int (*socket)(struct orm_conn *c);
    void (*close)(struct orm_conn *c);     /* accepts NULL */
    enum usv_err (*ping)(struct orm_conn *c);
    /* Optional: can this database take writes now (/readyz)? */
    enum usv_err (*ready)(struct orm_conn *c);
    /* Optional (NULL: no reconnect in place, SQLite): is the idle session
     * still there, as far as can be told without a round trip (it may
     * consume input)? And replace it in place by a new one with the same
     * settings, freeing the driver's statement handles: on failure
     * is_broken set and USV_UNAVAILABLE. */
    bool (*looks_alive)(struct orm_conn *c);
    enum usv_err (*reconnect)(struct orm_conn *c);

    /* Send BEGIN (read-only for the read modes), COMMIT, ROLLBACK. */
    enum usv_err (*begin)(struct orm_conn *c, enum orm_tx mode);
    enum usv_err (*commit)(struct orm_conn *c);
    enum usv_err (*rollback)(struct orm_conn *c);

    /* Prepare statement @id from c->stmts[@id] (text and parameter count)
     * on the current session. */
    enum usv_err (*prepare)(struct orm_conn *c, unsigned id);
    /* Run statement @id, prepared on this session; rows (if any) go to @res
     * (n_cols set by the caller). */
    enum usv_err (*execute)(struct orm_conn *c, unsigned id, const struct orm_param *params,
                            size_t n_params, struct orm_result *res);
    /* Optional: run @n (>= 2) statements, each prepared on this session
     * (a find_many list is prepared by the backend through
     * orm_conn_ready()), in one round trip, setting
     * each item's rc to exactly the outcome execute() would have given it
     * (a failing statement must not change another's outcome). Statements
     * are reads by key and single-row INSERT ... RETURNING; a backend
     * without pipelining runs the finds by key as one statement
     * (orm_batch_item.find_many) and anything else one by one. */
    void (*execute_batch)(struct orm_conn *c, struct orm_batch_item *const *items, size_t n);
    enum orm_batching batching;    /* what execute_batch() takes: the one capability */
    unsigned max_batches;          /* batches in flight at most (0 = as configured) */
    /* Run one statement once, unprepared (migrations, bookkeeping). @res may be NULL. */
    enum usv_err (*query)(struct orm_conn *c, const char *sql, const struct orm_param *params,
                          size_t n_params, struct orm_result *res);

    /* Serialise migration runs across processes (advisory lock, GET_LOCK...). */
    enum usv_err (*lock_migrations)(struct orm_conn *c, unsigned timeout_ms);
    void (*unlock_migrations)(struct orm_conn *c);
    /* lock_migrations() holds only on the server it was taken on (MySQL's
     * GET_LOCK, which a MariaDB Galera cluster does not replicate): the
     * runner then also takes a lease row that every node certifies
     * (migrate.c; MySQL SQL). */
    bool lock_is_node_local;
    /* Optional: migrations that hold nothing beyond a transaction. Inside
     * the transaction just begun on @c: take the migration lock until the
     * transaction ends (waiting at most @lock_wait_ms for another run), lift
     * the statement timeout for it, and make every later lock wait of it
     * give up after @ddl_lock_ms (USV_UNAVAILABLE or USV_RETRY with
     * c->timed_out set). Commit or rollback releases all of it, so nothing
     * can outlive the transaction on a pooled server connection. Backends
     * without it hold lock_migrations() for the whole run instead. */
    enum usv_err (*lock_migration_tx)(struct orm_conn *c, unsigned lock_wait_ms,
                                      unsigned ddl_lock_ms);
    /* Optional, for backends with a session lock: make every lock wait of
     * the statements that follow on @c give up after @ms (rounded as the
     * database can); 0 restores the session's own bound. */
    enum usv_err (*set_ddl_lock_wait)(struct orm_conn *c, unsigned ms);

    /* Dialect hooks for the SQL builder (orm/sql.c). */
    /* Append the placeholder of 1-based parameter @n of @type ("?", "$1::timestamptz"). */
    void (*placeholder)(struct strbuf *b, unsigned n, enum orm_type type);
    /* Append the select expression of @c, rendering timestamps as canonical text. */
    void (*select_column)(struct strbuf *b, const struct orm_column *c);
    /* Append "@column equals parameter @n", case-insensitively when @c says ORM_NOCASE. */
    void (*equals)(struct strbuf *b, const struct orm_column *c, unsigned n);
    const char *lock_suffix;       /* " FOR UPDATE", or "" where begin() already locks */
};

/* For execute_batch(): @item's outcome is final (rc and result set) while
 * others of the batch still wait for another round trip: wake its owner
 * now. Nothing may touch @item afterwards. A no-op outside a batch. */
void orm_batch_item_done(struct orm_batch_item *item);

/* The backend for @url's scheme ("sqlite:", "postgres://"...), or NULL. */
const struct orm_backend *orm_backend_for(const char *url);

/* ---- the shared backend layer (orm/backends.c) -------------------------
 * What every backend needs and none should write again: the canonical
 * timestamp text, driver messages made one log line, and the policy of
 * reconnecting in place. */

/* A moment in UTC, as a backend reads or writes it. */
struct orm_stamp {
    unsigned year, month, day, hour, minute, second;
    unsigned long usec;              /* 0-999999 */
};

/* Write the service's canonical text of @t, "2026-11-21T08:00:00.123456Z"
 * (ORM_STAMP_LEN bytes and a NUL), to @out. No printf: this runs for every
 * timestamp of every row. False when @t has no such text (out of range). */
#define ORM_STAMP_LEN 27
bool orm_stamp_format(const struct orm_stamp *t, char out[ORM_STAMP_LEN + 1]);

/* Read "YYYY-MM-DD HH:MM:SS" (or 'T' for ' ') and an optional fraction of
 * 1-6 digits from the start of @s (@len bytes) into @t; *@used is the
 * number of bytes read. False if @s does not start so. */
bool orm_stamp_parse(const char *s, size_t len, struct orm_stamp *t, size_t *used);

/* Move @t by @offset_s seconds (-: west of UTC, as "+02" means add -7200 to
 * reach UTC). False when the result leaves years 0-9999. */
bool orm_stamp_shift(struct orm_stamp *t, long offset_s);

/* Copy the driver message @msg into @buf (@size bytes) as one log line:
 * newlines, carriage returns and tabs become spaces, runs of spaces one. */
void orm_one_line(char *buf, size_t size, const char *msg);

/* ---- connections: the policy every backend shares ----------------------
 * What the ORM, migrations and tests call on a connection; each calls the
 * backend's driver hooks (c->be). */

/* @be->open() and remember @be in the connection. */
enum usv_err orm_conn_open(const struct orm_backend *be, const void *cfg,
                           const struct orm_limits *lim, struct orm_conn **out, char *err,
                           size_t errlen);

/* The reconnect-in-place policy. Called before anything is sent on @c.
 * Outside a transaction a dead idle connection has lost nothing this
 * session needs (each statement so far committed on its own), so it is
 * replaced in place and the statement about to be sent goes to the new
 * session, which prepares its statements again on first use. Inside a
 * transaction, or while the migration lock is held, the session itself was
 * the state: no revival, the connection is marked broken and
 * USV_UNAVAILABLE returned. A no-op for backends without looks_alive. */
enum usv_err orm_conn_ensure_session(struct orm_conn *c, const char *what);

/* Replace @c's session now (reconnect()) and forget what it had prepared. */
enum usv_err orm_conn_reconnect(struct orm_conn *c);

/* Prepare @sql as statement @id now (again, if it was): tests and tools.
 * The text is copied. */
enum usv_err orm_conn_prepare(struct orm_conn *c, unsigned id, const char *sql,
                              size_t n_params);
/* Statement @id with the text @sql ready on the current session: prepared
 * unless it already is. @sql is borrowed and must outlive @c (the ORM's
 * texts live until orm_db_close(), after every connection is closed). */
enum usv_err orm_conn_ready(struct orm_conn *c, unsigned id, const char *sql,
                            size_t n_params);
/* Run statement @id (orm_conn_prepare() or orm_conn_ready() gave its text). */
enum usv_err orm_conn_execute(struct orm_conn *c, unsigned id, const struct orm_param *params,
                              size_t n_params, struct orm_result *res);
/* Run @items (statements of @c's texts) as one batch (execute_batch()). */
void orm_conn_execute_batch(struct orm_conn *c, struct orm_batch_item *const *items, size_t n);
/* Run @sql once, unprepared (migrations, bookkeeping). @res may be NULL. */
enum usv_err orm_conn_query(struct orm_conn *c, const char *sql,
                            const struct orm_param *params, size_t n_params,
                            struct orm_result *res);
enum usv_err orm_conn_ping(struct orm_conn *c);

/* BEGIN, after rolling back a transaction some earlier path left open; if
 * the session turns out to have died just before (the goodbye arrived
 * after orm_conn_ensure_session() looked), reconnect and say BEGIN again
 * once: BEGIN changes nothing, so repeating it is always safe. Never while
 * the migration lock is held. */
enum usv_err orm_conn_begin(struct orm_conn *c, enum orm_tx mode);
enum usv_err orm_conn_commit(struct orm_conn *c);
enum usv_err orm_conn_rollback(struct orm_conn *c);

/* The migration lock (lock_migrations()), held until unlock: while it is,
 * the session is never replaced in place. */
enum usv_err orm_conn_lock_migrations(struct orm_conn *c, unsigned timeout_ms);
void orm_conn_unlock_migrations(struct orm_conn *c);

/* Parse @url once and let its backend configure itself from it: *@be and
 * *@cfg (new; free with (*be)->free_config()). USV_BAD_REQUEST with @err
 * naming what is wrong (never the password) for a malformed URL, an
 * unsupported scheme or an option the backend refuses. */
enum usv_err orm_backend_configure(const char *url, const struct orm_backend **be,
                                   void **cfg, char *err, size_t errlen);

/* Parse @url, configure its backend and connect once: for tests and tools
 * that need one raw connection without a handle. The connection owns the
 * configuration (freed by close()). USV_BAD_REQUEST for a URL that parse or
 * configure refuse, else open()'s result; @err as for open(). */
enum usv_err orm_connect_url(const char *url, const struct orm_limits *lim,
                             struct orm_conn **out, char *err, size_t errlen);

/* One transaction on @c: orm_conn_begin(@mode), @work, commit when it
 * returned USV_OK, else roll back (a connection that cannot roll back is marked
 * broken). The code of every write session, requests' (orm_transact()) and
 * migrations' (migrate.c) alike. Returns @work's result or the
 * transaction's own error. */
enum usv_err orm_conn_transact(struct orm_conn *c, enum orm_tx mode,
                               enum usv_err (*work)(void *arg), void *arg);

/* Borrow a raw connection outside any transaction (migrations, health). */
enum usv_err orm_db_acquire(struct orm_db *db, struct orm_conn **out);
void orm_db_release(struct orm_db *db, struct orm_conn *c);
const struct orm_backend *orm_db_backend_ops(const struct orm_db *db);
/* How migrations wait for locks (orm_db_options): their DDL's lock wait
 * (*@lock_ms, never 0) and the further tries after one gave up (*@retries). */
void orm_db_migration_waits(const struct orm_db *db, unsigned *lock_ms, unsigned *retries);
/* The migrations of the handle's schema (orm_db_options.migrations). */
const struct migration *orm_db_migrations(const struct orm_db *db, size_t *n);

/* Grow @arr (an array of @elem-byte items, *@cap long) to hold at least
 * @need items; the new items are zeroed. Returns the (possibly moved) array
 * and updates *@cap. Aborts on OOM, like xrealloc(). */
void *orm_grow(void *arr, size_t *cap, size_t need, size_t elem);

/* Free what the shared layer keeps in @c (not @c itself). Every backend's
 * close() calls it. Accepts NULL. */
void orm_conn_finish(struct orm_conn *c);

/* Write "@what: @driver message" to c->errmsg. */
void orm_conn_error(struct orm_conn *c, const char *what, const char *msg);

#endif
