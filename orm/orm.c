/* SPDX-License-Identifier: MIT
 * orm.c - database handle, sessions and model operations (see orm.h).
 *
 * At open, the SQL of every operation of every model is generated for the
 * backend's dialect and kept in @sql, indexed by statement id; connections
 * prepare a statement the first time they run it (orm_conn.is_prepared) and
 * reuse it afterwards. A session is a borrowed connection inside one
 * transaction; orm_transact() owns its whole life, so no path can forget to
 * roll back or to give the connection back.
 *
 * Sessions of one statement (reads by key, INSERT ... RETURNING) borrow no
 * connection when the backend can batch: their statement joins the batch of
 * concurrent requests' statements (orm/batch.h), which a leader runs on one
 * pooled connection in one round trip. The database then sees one message
 * and one commit for many requests, which is most of its cost per request.
 * A backend without pipelining (MySQL) batches only finds by key, which it
 * runs as one SELECT ... WHERE key IN (...) (struct orm_find_many). */
#include "orm/orm.h"

#include <assert.h>
#include <stdatomic.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "orm/batch.h"
#include "orm/orm_int.h"
#include "orm/pool.h"
#include "orm/sql.h"
#include "orm/watchdog.h"
#include "base/log.h"
#include "base/util.h"

/* Transient failures (serialization, deadlock) are retried this many times. */
#define ORM_MAX_RETRIES 5

/* A retry needs at least this much of the request's time left. */
#define ORM_RETRY_MIN_MS 20

/* A replica that failed is not tried again for this long. */
#define ORM_REPLICA_REST_MS 2000

/* Statement ids: each model owns a block. Fixed operations come first, then
 * one "list filtered by column i" per column, then one UPDATE per mask of
 * writable columns, then the finds by many keys (struct orm_find_many).
 * Every statement is generated at open. */
#define ORM_MAX_COLUMNS 16
#define STMT_LIST_BY (ORM_OP_COUNT_)
#define STMT_UPDATE (STMT_LIST_BY + ORM_MAX_COLUMNS)
#define STMT_FIND_MANY (STMT_UPDATE + (1u << ORM_MAX_WRITABLE))
#define ORM_STMTS_PER_MODEL (STMT_FIND_MANY + ORM_FIND_MANY_SIZES)
#define ORM_MAX_MODELS (ORM_MAX_STMTS / ORM_STMTS_PER_MODEL)

_Static_assert(2u << (ORM_FIND_MANY_SIZES - 1) == BATCH_MAX,
               "the longest IN list of a find by many keys holds a whole batch");

struct orm_db {
    const struct orm_backend *be;
    struct pool *pool;
    struct pool *replica;            /* optional pool for ORM_TX_READ_REPLICA, or NULL */
    struct batch *batch;             /* single-statement sessions on the primary, or NULL */
    _Atomic uint64_t replica_down_until_ms;  /* skip the replica until then (monotonic) */
    unsigned pool_timeout_ms;
    unsigned statement_timeout_ms;   /* 0 = no bound */
    struct watchdog *wd;             /* cuts database work at its deadline */
    _Atomic uint64_t statement_timeouts;
    const struct orm_model *const *models;
    size_t n_models;
    char *sql[ORM_MAX_STMTS];        /* statement id -> SQL text; immutable after open */
    struct orm_find_many find_many[ORM_MAX_MODELS]; /* by model index; immutable after open */
};

struct orm_session {
    struct orm_db *db;
    struct orm_conn *conn;
    enum orm_tx mode;
};

/* ---- results -------------------------------------------------------- */

void
orm_result_init(struct orm_result *r, size_t n_cols)
{
    memset(r, 0, sizeof(*r));
    r->n_cols = n_cols;
    strbuf_init(&r->data);
}

void
orm_result_finish(struct orm_result *r)
{
    free(r->cells);
    strbuf_finish(&r->data);
    r->cells = NULL;
    r->n_cells = r->cap_cells = 0;
}

static struct orm_cell *
next_cell(struct orm_result *r)
{
    if (r->n_cells == r->cap_cells) {
        r->cap_cells = r->cap_cells != 0 ? r->cap_cells * 2 : 8;
        r->cells = xrealloc(r->cells, r->cap_cells * sizeof(*r->cells));
    }
    return &r->cells[r->n_cells++];
}

void
orm_result_push(struct orm_result *r, const char *s, size_t len)
{
    struct orm_cell *c = next_cell(r);

    c->off = strbuf_len(&r->data);
    c->len = len;
    c->is_null = false;
    strbuf_add(&r->data, s, len);
    strbuf_add(&r->data, "", 1);  /* keep every cell NUL-terminated */
}

void
orm_result_push_null(struct orm_result *r)
{
    struct orm_cell *c = next_cell(r);

    c->off = c->len = 0;
    c->is_null = true;
}

size_t
orm_result_rows(const struct orm_result *r)
{
    return r->n_cols != 0 ? r->n_cells / r->n_cols : 0;
}

const char *
orm_result_cell(const struct orm_result *r, size_t row, size_t col, size_t *len)
{
    const struct orm_cell *c;

    assert(row < orm_result_rows(r) && col < r->n_cols);
    c = &r->cells[row * r->n_cols + col];
    if (c->is_null)
        return NULL;
    if (len != NULL)
        *len = c->len;
    return strbuf_str(&r->data) + c->off;
}

void
orm_conn_error(struct orm_conn *c, const char *what, const char *msg)
{
    size_t n;

    snprintf(c->errmsg, sizeof(c->errmsg), "%s: %s", what, msg != NULL ? msg : "(no message)");
    /* Driver messages often end in a newline; keep log lines whole. */
    n = strlen(c->errmsg);
    while (n > 0 && (c->errmsg[n - 1] == '\n' || c->errmsg[n - 1] == '\r'))
        c->errmsg[--n] = '\0';
}

/* ---- the handle ----------------------------------------------------- */

static unsigned
model_base(const struct orm_db *db, const struct orm_model *m)
{
    for (size_t i = 0; i < db->n_models; i++) {
        if (db->models[i] == m)
            return (unsigned)(i * ORM_STMTS_PER_MODEL);
    }
    assert(!"model not registered with orm_db_open");
    abort();
}

static unsigned
stmt_id(const struct orm_db *db, const struct orm_model *m, enum orm_op op)
{
    return model_base(db, m) + (unsigned)op;
}

static unsigned
writable_count(const struct orm_model *m)
{
    unsigned n = 0;

    for (size_t i = 0; i < m->n_columns; i++)
        n += orm_column_is_writable(&m->columns[i]);
    return n;
}

/* The IN-list form of statement @id when it is a model's find by key
 * (orm_batch_item.find_many), else NULL. */
static const struct orm_find_many *
find_many_of(const struct orm_db *db, unsigned id)
{
    if (id % ORM_STMTS_PER_MODEL != ORM_OP_FIND)
        return NULL;
    return &db->find_many[id / ORM_STMTS_PER_MODEL];
}

/* Generate every statement of @m into db->sql. */
static void
build_statements(struct orm_db *db, const struct orm_model *m)
{
    unsigned base = model_base(db, m);
    struct orm_find_many *fm = &db->find_many[base / ORM_STMTS_PER_MODEL];
    struct strbuf b;

    assert(m->n_columns <= ORM_MAX_COLUMNS && writable_count(m) <= ORM_MAX_WRITABLE);
    strbuf_init(&b);
    for (unsigned op = 0; op < ORM_OP_COUNT_; op++) {
        orm_sql_build(db->be, m, (enum orm_op)op, &b);
        db->sql[base + op] = strbuf_take(&b);
    }
    for (size_t col = 0; col < m->n_columns; col++) {
        orm_sql_build_list_by(db->be, m, col, &b);
        db->sql[base + STMT_LIST_BY + col] = strbuf_take(&b);
    }
    for (unsigned mask = 1; mask < (1u << writable_count(m)); mask++) {
        orm_sql_build_update(db->be, m, mask, &b);
        db->sql[base + STMT_UPDATE + mask] = strbuf_take(&b);
    }
    fm->first_id = base + STMT_FIND_MANY;
    fm->key_col = (size_t)(orm_model_pk(m) - m->columns);
    for (unsigned i = 0; i < ORM_FIND_MANY_SIZES; i++) {
        orm_sql_build_find_many_by_key(db->be, m, 2u << i, &b);
        db->sql[fm->first_id + i] = strbuf_take(&b);
        fm->sql[i] = db->sql[fm->first_id + i];
    }
}

/* Prepare statement @id on @c unless it already is. */
static enum usv_err
prepare_once(const struct orm_db *db, struct orm_conn *c, unsigned id, size_t n_params)
{
    enum usv_err rc;

    if (c->is_prepared[id])
        return USV_OK;
    rc = db->be->prepare(c, id, db->sql[id], n_params);
    c->is_prepared[id] = rc == USV_OK;
    return rc;
}

/* Database work on @c begins: bound it by the statement timeout (or by
 * @end_ms, the request's overall end, when that comes first and is not 0),
 * on the client side through the watchdog. */
static void
work_start(struct orm_db *db, struct orm_conn *c, struct watchdog_entry *we, uint64_t end_ms)
{
    uint64_t deadline = 0;

    if (db->statement_timeout_ms != 0) {
        deadline = monotonic_ms() + db->statement_timeout_ms;
        if (end_ms != 0 && end_ms < deadline)
            deadline = end_ms;
    }
    c->timed_out = false;
    c->deadline_ms = deadline;
    if (deadline != 0)
        watchdog_arm(db->wd, we, db->be->socket(c), deadline);
    else
        we->fd = -1;
}

/* The work on @c ended. True when it was cut at its deadline, by the
 * watchdog (the connection is then discarded: its state is unknown) or by
 * the database's own statement or lock timeout; counted and logged. */
static bool
work_end(struct orm_db *db, struct orm_conn *c, struct watchdog_entry *we, const char *what)
{
    static _Atomic uint64_t last_log, suppressed;
    bool cut = watchdog_disarm(db->wd, we);
    bool timed_out = cut || c->timed_out;

    if (cut) {
        c->is_broken = true;
        orm_conn_error(c, what, "no answer within the statement timeout");
    }
    c->deadline_ms = 0;
    c->timed_out = false;
    if (timed_out) {
        atomic_fetch_add(&db->statement_timeouts, 1);
        if (log_every(&last_log, 1000, &suppressed))
            log_warn("orm", "%s %s cut at the statement timeout (%u ms)%s: 503"
                     " (%llu more suppressed)", db->be->name, what, db->statement_timeout_ms,
                     cut ? ", connection discarded" : "",
                     (unsigned long long)atomic_exchange(&suppressed, 0));
    }
    return timed_out;
}

/* The leader's part of a batch (batch_lead_fn): one pooled connection,
 * every statement prepared on it, one round trip for the lot. */
static void
lead_batch(void *ctx, struct orm_batch_item *const *all, size_t n_all, unsigned timeout_ms)
{
    struct orm_db *db = ctx;
    struct orm_batch_item *items[BATCH_MAX];
    bool *woken[BATCH_MAX];          /* the leader's flags: set once an item is handed over */
    bool no_flag = false;
    struct orm_conn *c = NULL;
    struct watchdog_entry we;
    enum usv_err rc = pool_acquire(db->pool, timeout_ms, &c);
    uint64_t now = monotonic_ms();
    size_t n = 0;

    /* Each item keeps its own deadline: one whose wait ended while the
     * leader waited for the connection is answered 503, never sent. */
    for (size_t i = 0; i < n_all; i++) {
        if (rc == USV_OK && all[i]->wait_until_ms != 0 && all[i]->wait_until_ms < now)
            all[i]->rc = USV_UNAVAILABLE;
        else
            items[n++] = all[i];
    }
    if (rc == USV_OK) {
        c->errmsg[0] = '\0';
        for (size_t i = 0; i < n && rc == USV_OK; i++)
            rc = prepare_once(db, c, items[i]->id, items[i]->n_params);
    }
    if (rc != USV_OK || n == 0) {
        for (size_t i = 0; i < n; i++)
            items[i]->rc = rc;
        pool_release(db->pool, c);
        return;
    }
    /* After execute_batch() only the leader's flags may be read: an item
     * handed over early (orm_batch_item_done()) may be gone. */
    for (size_t i = 0; i < n; i++)
        woken[i] = items[i]->batch_woken != NULL ? items[i]->batch_woken : &no_flag;
    work_start(db, c, &we, 0);
    if (n == 1) {
        items[0]->rc = db->be->execute(c, items[0]->id, items[0]->params, items[0]->n_params,
                                       items[0]->res);
    } else {
        db->be->execute_batch(c, items, n);
    }
    if (work_end(db, c, &we, "batch")) {
        for (size_t i = 0; i < n; i++) {
            if (!*woken[i] && items[i]->rc != USV_OK)
                items[i]->rc = USV_UNAVAILABLE;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (*woken[i])
            continue;
        if (items[i]->rc == USV_UNAVAILABLE || items[i]->rc == USV_INTERNAL) {
            log_error("orm", "%s batch of %zu failed (%s): %s", db->be->name, n,
                      usv_err_name(items[i]->rc),
                      c != NULL && c->errmsg[0] != '\0' ? c->errmsg : "no driver error");
            break;
        }
    }
    pool_release(db->pool, c);
}

enum usv_err
orm_db_open(const char *url, const struct orm_model *const *models, size_t n_models,
            const struct orm_db_options *opts, struct orm_db **out)
{
    const struct orm_backend *be = orm_backend_for(url);
    struct orm_limits lim = {.connect_timeout_ms = opts->pool_timeout_ms,
                             .statement_timeout_ms = opts->statement_timeout_ms};
    struct orm_db *db;
    unsigned size;

    if (be == NULL)
        return USV_BAD_REQUEST;
    assert(n_models * ORM_STMTS_PER_MODEL <= ORM_MAX_STMTS);
    db = xcalloc(1, sizeof(*db));
    db->be = be;
    db->models = models;
    db->n_models = n_models;
    db->pool_timeout_ms = opts->pool_timeout_ms;
    db->statement_timeout_ms = opts->statement_timeout_ms;
    size = opts->pool_size != 0 ? opts->pool_size : be->default_pool_size;
    for (size_t i = 0; i < n_models; i++)
        build_statements(db, models[i]);
    watchdog_create(&db->wd);
    pool_create(be, url, size, opts->idle_check_ms, &lim, db->wd, &db->pool);
    if (opts->batches > 0 && be->execute_batch != NULL) {
        unsigned leaders = opts->batches;

        /* A batched insert has no connection to ask: every connection
         * must have RETURNING (orm_insert). */
        assert(be->has_returning || !be->batches_writes);
        if (be->max_batches != 0 && leaders > be->max_batches)
            leaders = be->max_batches;
        batch_create(leaders, BATCH_STALL_MS, opts->pool_timeout_ms, lead_batch, db,
                     &db->batch);
    }
    if (opts->replica_url != NULL) {
        if (orm_backend_for(opts->replica_url) != be) {
            orm_db_close(db);
            return USV_BAD_REQUEST;   /* a replica speaks the primary's protocol */
        }
        pool_create(be, opts->replica_url, size, opts->idle_check_ms, &lim, db->wd,
                    &db->replica);
    }
    *out = db;
    return USV_OK;
}

void
orm_db_close(struct orm_db *db)
{
    if (db == NULL)
        return;
    batch_destroy(db->batch);
    pool_destroy(db->pool);
    pool_destroy(db->replica);
    watchdog_destroy(db->wd);
    for (size_t i = 0; i < ORM_MAX_STMTS; i++)
        free(db->sql[i]);
    free(db);
}

const char *
orm_db_backend(const struct orm_db *db)
{
    return db->be->name;
}

const struct orm_backend *
orm_db_backend_ops(const struct orm_db *db)
{
    return db->be;
}

void
orm_db_stats(struct orm_db *db, struct orm_pool_stats *out)
{
    struct batch_counts bc = {0};

    pool_stats(db->pool, out);
    if (db->batch != NULL)
        batch_stats(db->batch, &bc);
    /* A statement queued for a batch waits for a connection too. */
    out->waiting += bc.queued;
    out->timeouts += bc.timeouts;
    out->batch_timeouts = bc.timeouts;
    out->batch_busy_ms = bc.all_busy_ms;
    out->statement_timeouts = atomic_load(&db->statement_timeouts);
    out->batches = bc.batches;
    out->batched = bc.statements;
}

bool
orm_db_replica_stats(struct orm_db *db, struct orm_pool_stats *out)
{
    if (db->replica == NULL)
        return false;
    pool_stats(db->replica, out);
    return true;
}

enum usv_err
orm_db_acquire(struct orm_db *db, struct orm_conn **out)
{
    return pool_acquire(db->pool, db->pool_timeout_ms, out);
}

void
orm_db_release(struct orm_db *db, struct orm_conn *c)
{
    pool_release(db->pool, c);
}

enum usv_err
orm_db_ping(struct orm_db *db)
{
    struct orm_conn *c = NULL;
    struct watchdog_entry we;
    struct batch_counts bc = {0};
    enum usv_err rc;

    /* Batches stuck in the database fail every request queued behind them
     * (the statement timeout frees them again). */
    if (db->batch != NULL) {
        batch_stats(db->batch, &bc);
        if (bc.all_busy_ms > db->pool_timeout_ms) {
            log_warn("orm", "every batch slot has been busy for %llu ms",
                     (unsigned long long)bc.all_busy_ms);
            return USV_UNAVAILABLE;
        }
    }
    rc = orm_db_acquire(db, &c);
    if (rc == USV_OK) {
        work_start(db, c, &we, 0);
        rc = db->be->ping(c);
        /* A locked table answers no request, though the server answers a
         * ping: read a model's table (a key that is never used, 0). */
        if (rc == USV_OK && db->n_models > 0) {
            struct orm_param p = {.type = ORM_INT64, .i = 0};
            unsigned id = stmt_id(db, db->models[0], ORM_OP_FIND);
            struct orm_result res;
            enum usv_err read_rc;

            orm_result_init(&res, db->models[0]->n_columns);
            read_rc = prepare_once(db, c, id, 1);
            if (read_rc == USV_OK)
                read_rc = db->be->execute(c, id, &p, 1, &res);
            orm_result_finish(&res);
            /* Only "cannot answer now" counts here: a schema that is
             * behind is migrate_check()'s to report. */
            if (read_rc == USV_UNAVAILABLE)
                rc = read_rc;
        }
        if (rc == USV_OK && db->be->ready != NULL)
            rc = db->be->ready(c);
        if (work_end(db, c, &we, "ping"))
            rc = USV_UNAVAILABLE;
        if (rc != USV_OK)
            log_warn("orm", "ping failed: %s", c->errmsg);
    }
    orm_db_release(db, c);
    return rc;
}

/* ---- sessions ------------------------------------------------------- */

static void
backoff(unsigned attempt)
{
    /* 1, 2, 4, 8... ms plus jitter, so retrying peers do not collide again. */
    long us = (1000L << attempt) + (long)(monotonic_us() % 1000);
    struct timespec ts = {.tv_sec = 0, .tv_nsec = us * 1000L};

    nanosleep(&ts, NULL);
}

/* One try of a session on @pool: no retry, no fallback. */
static enum usv_err
run_session(struct orm_db *db, struct pool *pool, enum orm_tx mode, uint64_t end_ms,
            enum usv_err (*work)(struct orm_session *s, void *arg), void *arg)
{
    struct orm_session s = {.db = db, .conn = NULL, .mode = mode};
    struct watchdog_entry we;
    unsigned wait_ms = db->pool_timeout_ms;
    uint64_t now = monotonic_ms();
    enum usv_err rc;

    /* Without a connection, each statement of the work joins a batch (run()). */
    if (pool == db->pool && db->batch != NULL &&
        ((mode == ORM_TX_STATEMENT && db->be->batches_writes) ||
         (mode == ORM_TX_READ && db->be->batches_reads)))
        return work(&s, arg);
    /* A retry waits only for what is left of the request's time. */
    if (end_ms != 0 && end_ms < now + wait_ms)
        wait_ms = end_ms > now ? (unsigned)(end_ms - now) : 0;
    rc = pool_acquire(pool, wait_ms, &s.conn);
    if (rc != USV_OK)
        return rc;
    s.conn->errmsg[0] = '\0';   /* only this session's driver message is logged */
    work_start(db, s.conn, &we, end_ms);
    if (mode != ORM_TX_WRITE) {
        rc = work(&s, arg);
    } else {
        rc = db->be->begin(s.conn, mode);
        if (rc == USV_OK) {
            rc = work(&s, arg);
            if (rc == USV_OK) {
                rc = db->be->commit(s.conn);
            } else if (!s.conn->is_broken && db->be->rollback(s.conn) != USV_OK) {
                /* A connection that cannot roll back cannot be trusted again. */
                log_warn("orm", "rollback failed: %s", s.conn->errmsg);
                s.conn->is_broken = true;
            }
        }
    }
    /* Cut after a commit that returned: the change is made, say so. */
    if (work_end(db, s.conn, &we, "session") && rc != USV_OK)
        rc = USV_UNAVAILABLE;
    if (rc == USV_UNAVAILABLE || rc == USV_INTERNAL)
        log_error("orm", "%s%s session failed (%s): %s", db->be->name,
                  pool == db->replica ? " replica" : "", usv_err_name(rc),
                  s.conn->errmsg[0] != '\0' ? s.conn->errmsg : "no driver error");
    pool_release(pool, s.conn);
    return rc;
}

enum usv_err
orm_transact(struct orm_db *db, enum orm_tx mode,
             enum usv_err (*work)(struct orm_session *s, void *arg), void *arg)
{
    enum usv_err rc = USV_INTERNAL;
    uint64_t end_ms;

    if (mode == ORM_TX_READ_REPLICA) {
        mode = ORM_TX_READ;
        if (db->replica != NULL && monotonic_ms() >= atomic_load(&db->replica_down_until_ms)) {
            rc = run_session(db, db->replica, mode, 0, work, arg);
            /* A replica that is down, or behind (a row it does not have yet),
             * never fails a read: the primary answers instead. After a
             * failure the replica rests a while, so a silent one does not
             * cost every read a connect timeout. */
            if (rc == USV_UNAVAILABLE)
                atomic_store(&db->replica_down_until_ms, monotonic_ms() + ORM_REPLICA_REST_MS);
            if (rc != USV_UNAVAILABLE && rc != USV_RETRY && rc != USV_NOT_FOUND &&
                rc != USV_INTERNAL)
                return rc;
        }
    }
    /* Retries share the first try's time: the request still ends within
     * DB_POOL_TIMEOUT_MS + DB_STATEMENT_TIMEOUT_MS. A retry runs only work
     * that did not commit (a serialization failure, a deadlock or a lock
     * wait that timed out roll the transaction back). */
    end_ms = db->statement_timeout_ms != 0
                 ? monotonic_ms() + db->pool_timeout_ms + db->statement_timeout_ms : 0;
    for (unsigned attempt = 0; attempt <= ORM_MAX_RETRIES; attempt++) {
        rc = run_session(db, db->pool, mode, attempt == 0 ? 0 : end_ms, work, arg);
        if (rc != USV_RETRY)
            return rc;
        if (end_ms != 0 && monotonic_ms() + (2u << attempt) + ORM_RETRY_MIN_MS >= end_ms)
            break;
        log_info("orm", "transient %s failure, retrying (attempt %u)", db->be->name,
                 attempt + 1);
        backoff(attempt);
    }
    return USV_UNAVAILABLE;
}

/* Run statement @id on a connection borrowed for it alone: a read of a
 * connectionless session that the backend does not batch. */
static enum usv_err
run_alone(struct orm_db *db, unsigned id, const struct orm_param *params, size_t n,
          struct orm_result *res)
{
    struct orm_conn *c = NULL;
    struct watchdog_entry we;
    enum usv_err rc = pool_acquire(db->pool, db->pool_timeout_ms, &c);

    if (rc != USV_OK)
        return rc;
    c->errmsg[0] = '\0';
    work_start(db, c, &we, 0);
    rc = prepare_once(db, c, id, n);
    if (rc == USV_OK)
        rc = db->be->execute(c, id, params, n, res);
    if (work_end(db, c, &we, "statement") && rc != USV_OK)
        rc = USV_UNAVAILABLE;
    if (rc == USV_UNAVAILABLE || rc == USV_INTERNAL)
        log_error("orm", "%s statement failed (%s): %s", db->be->name, usv_err_name(rc),
                  c->errmsg[0] != '\0' ? c->errmsg : "no driver error");
    pool_release(db->pool, c);
    return rc;
}

static enum usv_err
run(struct orm_session *s, unsigned id, const struct orm_param *params, size_t n,
    struct orm_result *res)
{
    enum usv_err rc;

    if (s->conn == NULL) {
        struct orm_batch_item item = {
            .id = id, .params = params, .n_params = n, .res = res, .rc = USV_INTERNAL,
            .find_many = find_many_of(s->db, id),
            .is_write = s->mode != ORM_TX_READ,
        };

        if (item.find_many == NULL && s->db->be->batches_finds_only)
            return run_alone(s->db, id, params, n, res);
        return batch_run(s->db->batch, &item);
    }
    rc = prepare_once(s->db, s->conn, id, n);
    if (rc != USV_OK)
        return rc;
    return s->db->be->execute(s->conn, id, params, n, res);
}

/* ---- rows and JSON -------------------------------------------------- */

static enum usv_err
row_to_json(const struct orm_model *m, const struct orm_result *res, size_t row, json_t **out)
{
    json_t *obj = json_object();

    if (obj == NULL)
        return USV_NOMEM;
    for (size_t i = 0; i < m->n_columns; i++) {
        const struct orm_column *col = &m->columns[i];
        size_t len = 0;
        const char *s = orm_result_cell(res, row, i, &len);
        json_t *v;

        if (s == NULL) {
            v = json_null();
        } else if (col->type == ORM_INT64) {
            char *end = NULL;
            long long n;

            errno = 0;
            n = strtoll(s, &end, 10);
            v = (errno == 0 && end != s && *end == '\0') ? json_integer(n) : NULL;
        } else {
            v = json_stringn(s, len);
        }
        if (v == NULL || json_object_set_new(obj, col->name, v) != 0) {
            log_error("orm", "column %s.%s holds a value JSON cannot carry", m->table,
                      col->name);
            json_decref(obj);
            return USV_INTERNAL;
        }
    }
    *out = obj;
    return USV_OK;
}

/* Run a statement expected to return at most one row of @m. */
static enum usv_err
fetch_one(struct orm_session *s, const struct orm_model *m, unsigned id,
          const struct orm_param *params, size_t n, json_t **row)
{
    struct orm_result res;
    enum usv_err rc;

    orm_result_init(&res, m->n_columns);
    rc = run(s, id, params, n, &res);
    if (rc == USV_OK)
        rc = orm_result_rows(&res) == 0 ? USV_NOT_FOUND : row_to_json(m, &res, 0, row);
    orm_result_finish(&res);
    return rc;
}

enum usv_err
orm_find(struct orm_session *s, const struct orm_model *m, int64_t id, bool for_update,
         json_t **row)
{
    struct orm_param p = {.type = ORM_INT64, .i = id};

    return fetch_one(s, m, stmt_id(s->db, m, for_update ? ORM_OP_FIND_LOCK : ORM_OP_FIND),
                     &p, 1, row);
}

/* Fill @p from @col's value in @values; service-set times take @now. */
static void
bind_column(const struct orm_column *col, json_t *values, const char *now,
            struct orm_param *p)
{
    json_t *v = json_object_get(values, col->name);

    memset(p, 0, sizeof(*p));
    p->type = col->type;
    if (col->flags & (ORM_CREATED_AT | ORM_UPDATED_AT)) {
        p->s = now;
        p->len = strlen(now);
    } else if (v == NULL || json_is_null(v)) {
        p->is_null = true;
    } else if (col->type == ORM_INT64) {
        p->i = json_integer_value(v);
    } else {
        p->s = json_string_value(v);
        p->len = json_string_length(v);
    }
}

enum usv_err
orm_insert(struct orm_session *s, const struct orm_model *m, json_t *values, json_t **row)
{
    struct orm_param *params = xcalloc(m->n_columns, sizeof(*params));
    char now[UTC_STAMP_LEN + 1];
    struct orm_result res;
    size_t n = 0;
    enum usv_err rc;

    assert(s->mode != ORM_TX_READ);
    utc_stamp(now, sizeof(now));
    for (size_t i = 0; i < m->n_columns; i++) {
        if (!(m->columns[i].flags & ORM_PK))
            bind_column(&m->columns[i], values, now, &params[n++]);
    }
    if (s->db->be->has_returning || s->conn->has_returning) {
        rc = fetch_one(s, m, stmt_id(s->db, m, ORM_OP_INSERT_RETURNING), params, n, row);
        if (rc == USV_NOT_FOUND)
            rc = USV_INTERNAL;  /* RETURNING always yields the row */
    } else {
        orm_result_init(&res, 0);
        rc = run(s, stmt_id(s->db, m, ORM_OP_INSERT), params, n, &res);
        if (rc == USV_OK) {
            rc = orm_find(s, m, res.last_id, false, row);
            /* The INSERT committed on its own (ORM_TX_STATEMENT): a retry
             * would insert again, and its creator get 409 for its own row. */
            if (rc == USV_RETRY)
                rc = USV_UNAVAILABLE;
        }
        orm_result_finish(&res);
    }
    free(params);
    return rc;
}

enum usv_err
orm_find_many(struct orm_session *s, const struct orm_model *m, const struct orm_page *page,
              json_t **rows, bool *has_more)
{
    struct orm_param params[3];
    struct orm_result res;
    json_t *list = NULL;
    unsigned id;
    size_t n = 0, got;
    enum usv_err rc;

    assert(page->limit > 0);
    memset(params, 0, sizeof(params));
    params[n].type = ORM_INT64;
    params[n++].i = page->after;
    if (page->column != NULL) {
        const struct orm_column *col = orm_model_column(m, page->column);

        assert(col != NULL);
        id = model_base(s->db, m) + STMT_LIST_BY + (unsigned)(col - m->columns);
        params[n].type = col->type;
        if (col->type == ORM_INT64) {
            char *end = NULL;

            errno = 0;
            params[n].i = strtoll(page->value, &end, 10);
            if (errno != 0 || end == page->value || *end != '\0')
                return USV_BAD_REQUEST;   /* cannot equal any integer key */
        }
        params[n].s = page->value;
        params[n++].len = strlen(page->value);
    } else {
        id = stmt_id(s->db, m, ORM_OP_LIST);
    }
    /* One row more than asked tells whether a next page exists. */
    params[n].type = ORM_INT64;
    params[n++].i = (int64_t)page->limit + 1;

    orm_result_init(&res, m->n_columns);
    rc = run(s, id, params, n, &res);
    if (rc != USV_OK)
        goto out;
    list = json_array();
    if (list == NULL) {
        rc = USV_NOMEM;
        goto out;
    }
    got = orm_result_rows(&res);
    for (size_t i = 0; i < got && i < page->limit; i++) {
        json_t *row = NULL;

        rc = row_to_json(m, &res, i, &row);
        if (rc != USV_OK)
            goto out;
        json_array_append_new(list, row);
    }
    *has_more = got > page->limit;
    *rows = list;
    list = NULL;
out:
    json_decref(list);
    orm_result_finish(&res);
    return rc;
}

enum usv_err
orm_update(struct orm_session *s, const struct orm_model *m, json_t *current, json_t *changes,
           json_t **row)
{
    struct orm_param params[ORM_MAX_COLUMNS + 1];
    char now[UTC_STAMP_LEN + 1];
    struct orm_result res;
    unsigned mask = 0, bit = 0;
    size_t n = 0;
    int64_t id = json_integer_value(json_object_get(current, orm_model_pk(m)->name));
    enum usv_err rc;

    assert(s->mode == ORM_TX_WRITE);
    utc_stamp(now, sizeof(now));
    for (size_t i = 0; i < m->n_columns; i++) {
        const struct orm_column *c = &m->columns[i];
        json_t *v;

        if (!orm_column_is_writable(c))
            continue;
        v = json_object_get(changes, c->name);
        /* json_equal compares strings byte for byte: "Alice" -> "alice" is a change. */
        if (v != NULL && !json_equal(v, json_object_get(current, c->name))) {
            mask |= 1u << bit;
            bind_column(c, changes, now, &params[n++]);
        }
        bit++;
    }
    if (mask == 0) {
        *row = json_incref(current);
        return USV_OK;
    }
    for (size_t i = 0; i < m->n_columns; i++) {
        if (m->columns[i].flags & ORM_UPDATED_AT)
            bind_column(&m->columns[i], changes, now, &params[n++]);
    }
    memset(&params[n], 0, sizeof(params[n]));
    params[n].type = ORM_INT64;
    params[n++].i = id;

    orm_result_init(&res, 0);
    rc = run(s, model_base(s->db, m) + STMT_UPDATE + mask, params, n, &res);
    if (rc == USV_OK && res.affected == 0)
        rc = USV_NOT_FOUND;
    orm_result_finish(&res);
    if (rc == USV_OK)
        rc = orm_find(s, m, id, false, row);
    return rc;
}

enum usv_err
orm_delete(struct orm_session *s, const struct orm_model *m, int64_t id)
{
    struct orm_param p = {.type = ORM_INT64, .i = id};
    struct orm_result res;
    enum usv_err rc;

    assert(s->mode == ORM_TX_WRITE);
    orm_result_init(&res, 0);
    rc = run(s, stmt_id(s->db, m, ORM_OP_DELETE), &p, 1, &res);
    if (rc == USV_OK && res.affected == 0)
        rc = USV_NOT_FOUND;
    orm_result_finish(&res);
    return rc;
}
