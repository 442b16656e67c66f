/* SPDX-License-Identifier: MIT
 * orm.c - database handle, sessions and model operations (see orm.h).
 *
 * At open, the SQL of every operation of every model is generated for the
 * backend's dialect and kept in @sql, indexed by statement id; connections
 * borrow a text the first time they run its id and prepare it then (the
 * shared backend layer, orm_conn_ready(), keeps that state) and reuse it
 * afterwards. A session is a borrowed connection inside one
 * transaction; orm_transact() owns its whole life, so no path can forget to
 * roll back or to give the connection back.
 *
 * Sessions of one statement (reads by key, INSERT ... RETURNING) borrow no
 * connection when the backend can batch: their statement joins the batch of
 * concurrent requests' statements (orm/batch.h), which a leader runs on one
 * pooled connection in one round trip. The database then sees one message
 * and one commit for many requests, which is most of its cost per request.
 * A backend without pipelining (MySQL) batches finds by key, which it runs
 * as one SELECT ... WHERE key IN (...) (struct orm_find_many), and inserts
 * while its connections have RETURNING (MariaDB 10.5+), as one multi-row
 * INSERT ... RETURNING (struct orm_insert_many); orm.c learns which from
 * each connection it borrows (learn_returning()). */
#include "orm/orm.h"

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "orm/batch.h"
#include "orm/migrations.h"
#include "orm/orm_int.h"
#include "orm/pool.h"
#include "orm/sql.h"
#include "orm/watchdog.h"
#include "base/jsonw.h"
#include "base/log.h"
#include "base/strbuf.h"
#include "base/util.h"

/* Transient failures (serialization, deadlock) are retried this many times. */
#define ORM_MAX_RETRIES 5

/* A retry needs at least this much of the request's time left. */
#define ORM_RETRY_MIN_MS 20

/* A replica that failed is not tried again for this long. */
#define ORM_REPLICA_REST_MS 2000

/* Statement ids are handed out densely from 0 as statements are built.
 * At open, each model gets a block: its fixed operations (enum orm_op), one
 * "list filtered by column i" per column, and the finds by many keys
 * (struct orm_find_many). An UPDATE touches exactly the columns a request
 * changes, so there is one text per set of changed columns: 2^w - 1 of them
 * for w writable columns, too many to build up front beyond a few columns.
 * They are built when a set is first needed, given the next free id and
 * cached (struct update_text); past ORM_MAX_UPDATE_TEXTS per model an UPDATE
 * runs unprepared instead, so clients cannot grow the cache (and every
 * connection's prepared statements) without bound. */
#define ORM_MAX_UPDATE_TEXTS 256

_Static_assert(2u << (ORM_FIND_MANY_SIZES - 1) == BATCH_MAX,
               "the longest IN list of a find by many keys holds a whole batch");

struct update_text {
    uint64_t mask;       /* changed writable columns, bit i = i-th writable column */
    unsigned id;         /* its statement id */
};

/* What the handle knows of one model. */
struct model_stmts {
    const struct orm_model *m;
    unsigned base;                   /* id of ORM_OP_INSERT; base + op for each op */
    unsigned list_by;                /* id of "list filtered by column 0" */
    unsigned n_writable;
    struct orm_find_many find_many;  /* immutable after open */
    struct orm_insert_many insert_many;  /* immutable after open */
    struct update_text *updates;     /* sorted by mask; protected by orm_db.stmt_mu */
    size_t n_updates;                /* <= ORM_MAX_UPDATE_TEXTS; protected by stmt_mu */
};

struct orm_db {
    const struct orm_backend *be;
    struct pool *pool;
    struct pool *replica;            /* optional pool for ORM_TX_READ_REPLICA, or NULL */
    struct batch *batch;             /* single-statement sessions on the primary, or NULL */
    _Atomic uint64_t replica_down_until_ms;  /* skip the replica until then (monotonic) */
    /* ORM_BATCH_FINDS_INSERTS: did the last connection borrowed say
     * has_returning? Then inserts join batches (borrows_connection()). */
    atomic_bool batch_inserts;
    unsigned pool_timeout_ms;
    unsigned migration_lock_ms;    /* a migration's DDL lock wait (never 0) */
    unsigned migration_retries;    /* further tries after a DDL gave up waiting */
    unsigned statement_timeout_ms;   /* 0 = no bound */
    struct watchdog *wd;             /* cuts database work at its deadline */
    _Atomic uint64_t statement_timeouts;
    struct model_stmts *models;      /* n_models; the array is immutable after open */
    size_t n_models;
    const struct migration *migrations;  /* the schema's; borrowed */
    void *cfg, *replica_cfg;         /* the backend's configuration of each URL */
    size_t n_migrations;

    /* Statement id -> SQL text. Texts are never changed or freed before
     * close, but the array grows (UPDATE texts), so it is read under the
     * mutex; that happens only when a connection first prepares an id. */
    pthread_mutex_t stmt_mu;
    char **sql;                      /* n_sql texts, cap_sql slots; protected by stmt_mu */
    size_t n_sql, cap_sql;
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
    char line[sizeof(c->errmsg)];

    /* Driver messages span lines and end in newlines; keep log lines whole. */
    orm_one_line(line, sizeof(line), msg != NULL ? msg : "(no message)");
    if (snprintf(c->errmsg, sizeof(c->errmsg), "%s: %s", what, line) < 0)
        c->errmsg[0] = '\0';       /* a long message is cut, which is fine */
}

void *
orm_grow(void *arr, size_t *cap, size_t need, size_t elem)
{
    size_t n = *cap;

    if (need <= n)
        return arr;
    while (n < need)
        n = n != 0 ? n * 2 : 16;
    arr = xrealloc(arr, n * elem);
    memset((char *)arr + *cap * elem, 0, (n - *cap) * elem);
    *cap = n;
    return arr;
}

/* ---- the handle ----------------------------------------------------- */

static struct model_stmts *
model_of(const struct orm_db *db, const struct orm_model *m)
{
    for (size_t i = 0; i < db->n_models; i++) {
        if (db->models[i].m == m)
            return &db->models[i];
    }
    /* A programming error, not input: every model the application uses is
     * the one it passed to orm_db_open(). */
    log_error("orm", "model %s was not passed to orm_db_open()", m->table);
    abort();
}

static unsigned
stmt_id(const struct orm_db *db, const struct orm_model *m, enum orm_op op)
{
    return model_of(db, m)->base + (unsigned)op;
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
    for (size_t i = 0; i < db->n_models; i++) {
        if (db->models[i].base + ORM_OP_FIND == id)
            return &db->models[i].find_many;
    }
    return NULL;
}

/* The multi-row form of statement @id when it is a model's INSERT ...
 * RETURNING on a backend that batches inserts so
 * (orm_batch_item.insert_many), else NULL. */
static const struct orm_insert_many *
insert_many_of(const struct orm_db *db, unsigned id)
{
    if (db->be->batching != ORM_BATCH_FINDS_INSERTS)
        return NULL;
    for (size_t i = 0; i < db->n_models; i++) {
        if (db->models[i].base + ORM_OP_INSERT_RETURNING == id)
            return &db->models[i].insert_many;
    }
    return NULL;
}

/* Remember whether @c, just borrowed, runs INSERT ... RETURNING: inserts
 * join batches only while the connections do (a server replaced by one
 * without it turns them back into inserts of their own). */
static void
learn_returning(struct orm_db *db, const struct orm_conn *c)
{
    if (db->be->batching == ORM_BATCH_FINDS_INSERTS && c != NULL)
        atomic_store(&db->batch_inserts, c->has_returning);
}

/* Give the text in @b the next statement id. Caller holds stmt_mu (or is
 * orm_db_open(), before the handle is shared). */
static unsigned
add_statement(struct orm_db *db, struct strbuf *b)
{
    db->sql = orm_grow(db->sql, &db->cap_sql, db->n_sql + 1, sizeof(*db->sql));
    db->sql[db->n_sql] = strbuf_take(b);
    return (unsigned)db->n_sql++;
}

/* The SQL text of statement @id (borrowed until orm_db_close()). */
static const char *
sql_of(struct orm_db *db, unsigned id)
{
    const char *sql;

    xlock(&db->stmt_mu);
    sql = id < db->n_sql ? db->sql[id] : NULL;
    xunlock(&db->stmt_mu);
    return sql;
}

/* Can the ORM serve @m? Every limit a model could exceed is checked here,
 * once, so no operation has to assume it. On false @why says which. */
static bool
check_model(const struct orm_model *m, char *why, size_t len)
{
    size_t n_pk = 0;

    if (m->table == NULL || m->table[0] == '\0' || m->columns == NULL || m->n_columns == 0) {
        snprintf(why, len, "a model has no table name or no columns");
        return false;
    }
    for (size_t i = 0; i < m->n_columns; i++) {
        const struct orm_column *c = &m->columns[i];

        if (c->flags & ORM_PK) {
            n_pk++;
            if (c->type != ORM_INT64 || (c->flags & ORM_NOCASE)) {
                snprintf(why, len, "model %s: the primary key %s must be an int64 column",
                         m->table, c->name);
                return false;
            }
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(m->columns[j].name, c->name) == 0) {
                snprintf(why, len, "model %s: column %s is declared twice", m->table,
                         c->name);
                return false;
            }
        }
    }
    if (n_pk != 1) {
        snprintf(why, len, "model %s has %zu primary key columns; exactly one is needed",
                 m->table, n_pk);
        return false;
    }
    if (writable_count(m) > ORM_MAX_WRITABLE) {
        snprintf(why, len, "model %s has %u writable columns; at most %d are supported",
                 m->table, writable_count(m), ORM_MAX_WRITABLE);
        return false;
    }
    return true;
}

/* Generate the fixed statements of @ms->m (everything but UPDATEs). */
static void
build_statements(struct orm_db *db, struct model_stmts *ms)
{
    const struct orm_model *m = ms->m;
    struct orm_find_many *fm = &ms->find_many;
    struct strbuf b;

    strbuf_init(&b);
    ms->n_writable = writable_count(m);
    ms->base = (unsigned)db->n_sql;
    for (unsigned op = 0; op < ORM_OP_COUNT_; op++) {
        orm_sql_build(db->be, m, (enum orm_op)op, &b);
        add_statement(db, &b);
    }
    ms->list_by = (unsigned)db->n_sql;
    for (size_t col = 0; col < m->n_columns; col++) {
        orm_sql_build_list_by(db->be, m, col, &b);
        add_statement(db, &b);
    }
    fm->first_id = (unsigned)db->n_sql;
    fm->key_col = (size_t)(orm_model_pk(m) - m->columns);
    for (unsigned i = 0; i < ORM_FIND_MANY_SIZES; i++) {
        unsigned id;

        orm_sql_build_find_many_by_key(db->be, m, 2u << i, &b);
        id = add_statement(db, &b);     /* may move db->sql: read it after */
        fm->sql[i] = db->sql[id];
    }
    if (db->be->batching == ORM_BATCH_FINDS_INSERTS) {
        struct orm_insert_many *im = &ms->insert_many;

        im->first_id = (unsigned)db->n_sql;
        im->n_params = m->n_columns - 1;    /* every column but the key */
        for (unsigned i = 0; i < ORM_FIND_MANY_SIZES; i++) {
            unsigned id;

            orm_sql_build_insert_many(db->be, m, 2u << i, &b);
            id = add_statement(db, &b);
            im->sql[i] = db->sql[id];
        }
    }
    strbuf_finish(&b);
}

/* The statement id of the UPDATE of exactly the writable columns in @mask
 * (plus the ORM_UPDATED_AT ones), built on first use. False when the
 * model's cache is full: the caller runs the text unprepared. */
static bool
update_id(struct orm_db *db, struct model_stmts *ms, uint64_t mask, unsigned *id)
{
    size_t lo = 0, hi;
    bool found = false;

    xlock(&db->stmt_mu);
    hi = ms->n_updates;
    while (lo < hi) {                /* binary search for the first mask >= @mask */
        size_t mid = lo + (hi - lo) / 2;

        if (ms->updates[mid].mask < mask)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < ms->n_updates && ms->updates[lo].mask == mask) {
        *id = ms->updates[lo].id;
        found = true;
    } else if (ms->n_updates < ORM_MAX_UPDATE_TEXTS) {
        struct strbuf b;

        if (ms->updates == NULL)
            ms->updates = xcalloc(ORM_MAX_UPDATE_TEXTS, sizeof(*ms->updates));
        strbuf_init(&b);
        orm_sql_build_update(db->be, ms->m, mask, &b);
        memmove(&ms->updates[lo + 1], &ms->updates[lo],
                (ms->n_updates - lo) * sizeof(*ms->updates));
        ms->updates[lo].mask = mask;
        ms->updates[lo].id = add_statement(db, &b);
        ms->n_updates++;
        *id = ms->updates[lo].id;
        found = true;
        strbuf_finish(&b);
    }
    xunlock(&db->stmt_mu);
    return found;
}

/* Give @c the text of statement @id and prepare it, unless @c has it: an
 * id's text never changes, and orm_conn_execute() prepares it again on a
 * new server session. Without the mutex of sql_of() on every statement. */
static enum usv_err
prepare_once(struct orm_db *db, struct orm_conn *c, unsigned id, size_t n_params)
{
    if (id < c->n_stmts && c->stmts[id].sql != NULL)
        return USV_OK;
    return orm_conn_ready(c, id, sql_of(db, id), n_params);
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
     * leader waited for the connection is answered 503, never sent. An
     * insert that found a connection without RETURNING (the server was
     * replaced) is not sent either: its session runs again, borrowing a
     * connection of its own (USV_RETRY; nothing was committed). */
    if (rc == USV_OK)
        learn_returning(db, c);
    for (size_t i = 0; i < n_all; i++) {
        if (rc == USV_OK && all[i]->wait_until_ms != 0 && all[i]->wait_until_ms < now)
            all[i]->rc = USV_UNAVAILABLE;
        else if (rc == USV_OK && all[i]->insert_many != NULL && !c->has_returning)
            all[i]->rc = USV_RETRY;
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
        /* A statement the database would not prepare (a missing table) is
         * logged as a failed batch; a connection that was not had, by the
         * pool and the batch queue themselves. */
        if (c != NULL && n > 0 && (rc == USV_UNAVAILABLE || rc == USV_INTERNAL))
            log_error("orm", "%s batch of %zu failed (%s): %s", db->be->name, n,
                      usv_err_name(rc), c->errmsg[0] != '\0' ? c->errmsg : "no driver error");
        pool_release(db->pool, c);
        return;
    }
    /* After execute_batch() only the leader's flags may be read: an item
     * handed over early (orm_batch_item_done()) may be gone. */
    for (size_t i = 0; i < n; i++)
        woken[i] = items[i]->batch_woken != NULL ? items[i]->batch_woken : &no_flag;
    work_start(db, c, &we, 0);
    if (n == 1) {
        items[0]->rc = orm_conn_execute(c, items[0]->id, items[0]->params,
                                        items[0]->n_params, items[0]->res);
    } else {
        orm_conn_execute_batch(c, items, n);
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
    const struct orm_backend *be = NULL, *replica_be = NULL;
    void *cfg = NULL, *replica_cfg = NULL;
    struct orm_limits lim = {.connect_timeout_ms = opts->pool_timeout_ms,
                             .statement_timeout_ms = opts->statement_timeout_ms,
                             .no_prepared_statements = opts->no_prepared_statements};
    struct orm_db *db;
    char why[200];
    unsigned size;

    /* DATABASE_URL is parsed here, once; the pools' connections are all
     * opened from what the backend made of it. */
    if (orm_backend_configure(url, &be, &cfg, why, sizeof(why)) != USV_OK) {
        log_error("orm", "cannot open the database: %s", why);
        return USV_BAD_REQUEST;
    }
    if (opts->replica_url != NULL) {
        if (orm_backend_configure(opts->replica_url, &replica_be, &replica_cfg, why,
                                  sizeof(why)) != USV_OK) {
            log_error("orm", "cannot open the read replica (DATABASE_READ_URL): %s", why);
            be->free_config(cfg);
            return USV_BAD_REQUEST;
        }
        if (replica_be != be) {
            log_error("orm", "DATABASE_READ_URL must name a %s database, as DATABASE_URL "
                      "does", be->name);   /* a replica speaks the primary's protocol */
            be->free_config(cfg);
            replica_be->free_config(replica_cfg);
            return USV_BAD_REQUEST;
        }
    }
    for (size_t i = 0; i < n_models; i++) {
        if (!check_model(models[i], why, sizeof(why))) {
            log_error("orm", "cannot open the database: %s", why);
            be->free_config(cfg);
            be->free_config(replica_cfg);
            return USV_INVALID;
        }
    }
    /* A batched insert has no connection to ask: every connection must
     * have RETURNING (orm_insert). A backend table, not input. */
    assert(be->has_returning || (be->batching != ORM_BATCH_WRITES &&
                                 be->batching != ORM_BATCH_ALL));
    db = xcalloc(1, sizeof(*db));
    if (pthread_mutex_init(&db->stmt_mu, NULL) != 0)
        abort();
    db->be = be;
    db->cfg = cfg;
    db->replica_cfg = replica_cfg;
    db->models = xcalloc(n_models > 0 ? n_models : 1, sizeof(*db->models));
    db->n_models = n_models;
    db->pool_timeout_ms = opts->pool_timeout_ms;
    db->migration_lock_ms = opts->migration_lock_timeout_ms != 0
                                ? opts->migration_lock_timeout_ms : 1000;
    db->migration_retries = opts->migration_retries;
    db->statement_timeout_ms = opts->statement_timeout_ms;
    db->migrations = opts->migrations != NULL ? opts->migrations : migrations;
    db->n_migrations = opts->migrations != NULL ? opts->n_migrations : n_migrations;
    size = opts->pool_size != 0 ? opts->pool_size : be->default_pool_size;
    for (size_t i = 0; i < n_models; i++) {
        db->models[i].m = models[i];
        build_statements(db, &db->models[i]);
    }
    watchdog_create(&db->wd);
    pool_create(be, db->cfg, size, opts->idle_check_ms, &lim, db->wd, &db->pool);
    pool_set_idle_limit(db->pool, opts->pool_min_idle, opts->pool_idle_timeout_ms);
    if (opts->batches > 0 && be->batching != ORM_BATCH_NONE) {
        unsigned leaders = opts->batches;

        if (be->max_batches != 0 && leaders > be->max_batches)
            leaders = be->max_batches;
        batch_create(leaders, BATCH_STALL_MS, opts->pool_timeout_ms, lead_batch, db,
                     &db->batch);
    }
    if (db->replica_cfg != NULL) {
        pool_create(be, db->replica_cfg, size, opts->idle_check_ms, &lim, db->wd,
                    &db->replica);
        pool_set_idle_limit(db->replica, opts->pool_min_idle, opts->pool_idle_timeout_ms);
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
    db->be->free_config(db->cfg);
    db->be->free_config(db->replica_cfg);
    for (size_t i = 0; i < db->n_sql; i++)
        free(db->sql[i]);
    free(db->sql);
    for (size_t i = 0; i < db->n_models; i++)
        free(db->models[i].updates);
    free(db->models);
    pthread_mutex_destroy(&db->stmt_mu);
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

const struct migration *
orm_db_migrations(const struct orm_db *db, size_t *n)
{
    *n = db->n_migrations;
    return db->migrations;
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

static enum usv_err
empty_work(void *arg)
{
    (void)arg;
    return USV_OK;
}

enum usv_err
orm_db_check_transactions(struct orm_db *db, char *why, size_t why_len)
{
    struct orm_conn *c = NULL;
    enum usv_err rc = orm_db_acquire(db, &c);

    if (rc != USV_OK)
        return rc;
    rc = orm_conn_transact(c, ORM_TX_WRITE, empty_work, NULL);
    /* PgBouncer in statement mode ends the session at the first BEGIN
     * ("transaction blocks not allowed in statement pooling mode"): no
     * write of the service could ever succeed, so say so at start instead
     * of answering 503 forever. The message is the pooler's, no secrets. */
    if (rc != USV_OK && strstr(c->errmsg, "pooling mode") != NULL) {
        snprintf(why, why_len, "%s", c->errmsg);
        rc = USV_INVALID;
    }
    orm_db_release(db, c);
    return rc;
}

void
orm_db_migration_waits(const struct orm_db *db, unsigned *lock_ms, unsigned *retries)
{
    *lock_ms = db->migration_lock_ms;
    *retries = db->migration_retries;
}

bool
orm_db_is_full(struct orm_db *db)
{
    return pool_is_full(db->pool);
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
        rc = orm_conn_ping(c);
        /* A locked table answers no request, though the server answers a
         * ping: read a model's table (a key that is never used, 0). */
        if (rc == USV_OK && db->n_models > 0) {
            struct orm_param p = {.type = ORM_INT64, .i = 0};
            unsigned id = stmt_id(db, db->models[0].m, ORM_OP_FIND);
            struct orm_result res;
            enum usv_err read_rc;

            orm_result_init(&res, db->models[0].m->n_columns);
            read_rc = prepare_once(db, c, id, 1);
            if (read_rc == USV_OK)
                read_rc = orm_conn_execute(c, id, &p, 1, &res);
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

enum usv_err
orm_conn_transact(struct orm_conn *c, enum orm_tx mode, enum usv_err (*work)(void *arg),
                  void *arg)
{
    enum usv_err rc = orm_conn_begin(c, mode);

    if (rc != USV_OK)
        return rc;
    rc = work(arg);
    if (rc == USV_OK)
        return orm_conn_commit(c);
    if (!c->is_broken && orm_conn_rollback(c) != USV_OK) {
        /* A connection that cannot roll back cannot be trusted again. */
        log_warn("orm", "rollback failed: %s", c->errmsg);
        c->is_broken = true;
    }
    return rc;
}

/* A session's work as orm_conn_transact() calls it. */
struct session_work {
    enum usv_err (*work)(struct orm_session *s, void *arg);
    void *arg;
    struct orm_session *s;
};

static enum usv_err
run_work(void *arg)
{
    struct session_work *w = arg;

    return w->work(w->s, w->arg);
}

/* Does a session of @mode on @pool borrow a connection? The one place that
 * decides: where the backend batches such sessions (enum orm_batching),
 * their statements join batches instead (run()). */
static bool
borrows_connection(const struct orm_db *db, const struct pool *pool, enum orm_tx mode)
{
    enum orm_batching b = db->be->batching;

    if (pool != db->pool || db->batch == NULL)
        return true;
    if (mode == ORM_TX_STATEMENT && b == ORM_BATCH_FINDS_INSERTS)
        return !atomic_load(&db->batch_inserts);
    if (mode == ORM_TX_STATEMENT)
        return b != ORM_BATCH_WRITES && b != ORM_BATCH_ALL;
    if (mode == ORM_TX_READ)
        return b != ORM_BATCH_FINDS && b != ORM_BATCH_FINDS_INSERTS && b != ORM_BATCH_ALL;
    return true;
}

/* In a session that borrowed no connection, does statement @id join a
 * batch? Otherwise it runs alone on a connection borrowed for it. */
static bool
joins_batch(const struct orm_db *db, const struct orm_batch_item *item)
{
    enum orm_batching b = db->be->batching;

    if (b == ORM_BATCH_FINDS || b == ORM_BATCH_FINDS_INSERTS)
        return item->find_many != NULL || item->insert_many != NULL;
    return true;
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
    if (!borrows_connection(db, pool, mode))
        return work(&s, arg);
    /* A retry waits only for what is left of the request's time. */
    if (end_ms != 0 && end_ms < now + wait_ms)
        wait_ms = end_ms > now ? (unsigned)(end_ms - now) : 0;
    rc = pool_acquire(pool, wait_ms, &s.conn);
    if (rc != USV_OK)
        return rc;
    s.conn->errmsg[0] = '\0';   /* only this session's driver message is logged */
    if (pool == db->pool)
        learn_returning(db, s.conn);    /* batches run on the primary only */
    work_start(db, s.conn, &we, end_ms);
    if (mode != ORM_TX_WRITE) {
        rc = work(&s, arg);
    } else {
        struct session_work w = {.work = work, .arg = arg, .s = &s};

        rc = orm_conn_transact(s.conn, mode, run_work, &w);
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
        rc = orm_conn_execute(c, id, params, n, res);
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
            .insert_many = insert_many_of(s->db, id),
            .is_write = s->mode != ORM_TX_READ,
        };

        if (!joins_batch(s->db, &item))
            return run_alone(s->db, id, params, n, res);
        return batch_run(s->db->batch, &item);
    }
    rc = prepare_once(s->db, s->conn, id, n);
    if (rc != USV_OK)
        return rc;
    return orm_conn_execute(s->conn, id, params, n, res);
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

/* Row @row of @res as the JSON text row_to_json() and a JSON_COMPACT dump
 * would give, written directly (base/jsonw.h; the equality is tested in
 * tests/unit/test_orm.c and base/jsonw's own tests): no object to build and
 * free. Same verdicts: an INT64 cell that is not an integer, or text that
 * is not UTF-8, is USV_INTERNAL. */
static enum usv_err
row_to_text(const struct orm_model *m, const struct orm_result *res, size_t row,
            struct strbuf *out)
{
    size_t need = 2;

    for (size_t i = 0; i < m->n_columns; i++) {
        size_t len = 0;

        (void)orm_result_cell(res, row, i, &len);
        need += strlen(m->columns[i].name) + len + 8;
    }
    strbuf_reserve(out, need);
    strbuf_add(out, "{", 1);
    for (size_t i = 0; i < m->n_columns; i++) {
        const struct orm_column *col = &m->columns[i];
        size_t len = 0;
        const char *s = orm_result_cell(res, row, i, &len);
        bool is_ok = jsonw_key(out, col->name, i == 0);

        if (!is_ok) {
            /* the key failed: nothing more to write */
        } else if (s == NULL) {
            strbuf_add(out, "null", 4);
        } else if (col->type == ORM_INT64) {
            char *end = NULL;
            long long n;

            errno = 0;
            n = strtoll(s, &end, 10);
            is_ok = errno == 0 && end != s && *end == '\0';
            if (is_ok)
                jsonw_int64(out, (int64_t)n);
        } else {
            is_ok = jsonw_string(out, s, len);
        }
        if (!is_ok) {
            log_error("orm", "column %s.%s holds a value JSON cannot carry", m->table,
                      col->name);
            return USV_INTERNAL;
        }
    }
    strbuf_add(out, "}", 1);
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

enum usv_err
orm_find_text(struct orm_session *s, const struct orm_model *m, int64_t id, char **text,
              size_t *len)
{
    struct orm_param p = {.type = ORM_INT64, .i = id};
    struct orm_result res;
    struct strbuf out;
    enum usv_err rc;

    orm_result_init(&res, m->n_columns);
    strbuf_init(&out);
    rc = run(s, stmt_id(s->db, m, ORM_OP_FIND), &p, 1, &res);
    if (rc == USV_OK)
        rc = orm_result_rows(&res) == 0 ? USV_NOT_FOUND : row_to_text(m, &res, 0, &out);
    orm_result_finish(&res);
    if (rc == USV_OK) {
        *len = strbuf_len(&out);
        *text = strbuf_take(&out);
    }
    strbuf_finish(&out);
    return rc;
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
    /* Without a connection the session is in a batch, which inserts only
     * where the connections have RETURNING (borrows_connection()). */
    if (s->db->be->has_returning || s->conn == NULL || s->conn->has_returning) {
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

        if (col == NULL)
            return USV_BAD_REQUEST;       /* no such column: nothing can match */
        id = model_of(s->db, m)->list_by + (unsigned)(col - m->columns);
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
orm_find_by(struct orm_session *s, const struct orm_model *m, const char *column,
            const char *value, json_t **row)
{
    /* The first row of a one-row page filtered on @column: the statement
     * the list already prepares, so this adds none. */
    struct orm_page page = {.after = 0, .limit = 1, .column = column, .value = value};
    json_t *rows = NULL;
    bool has_more = false;
    enum usv_err rc = orm_find_many(s, m, &page, &rows, &has_more);

    if (rc == USV_BAD_REQUEST)
        rc = USV_NOT_FOUND;       /* no such column, or a value no row can hold */
    if (rc == USV_OK && json_array_size(rows) == 0)
        rc = USV_NOT_FOUND;
    if (rc == USV_OK)
        *row = json_incref(json_array_get(rows, 0));
    json_decref(rows);
    return rc;
}

enum usv_err
orm_update(struct orm_session *s, const struct orm_model *m, json_t *current, json_t *changes,
           json_t **row)
{
    struct model_stmts *ms = model_of(s->db, m);
    struct orm_param *params = xcalloc(m->n_columns + 1, sizeof(*params));
    char now[UTC_STAMP_LEN + 1];
    struct orm_result res;
    uint64_t mask = 0;
    unsigned bit = 0, id;
    size_t n = 0;
    int64_t key = json_integer_value(json_object_get(current, orm_model_pk(m)->name));
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
            mask |= (uint64_t)1 << bit;
            bind_column(c, changes, now, &params[n++]);
        }
        bit++;
    }
    if (mask == 0) {
        free(params);
        *row = json_incref(current);
        return USV_OK;
    }
    for (size_t i = 0; i < m->n_columns; i++) {
        if (m->columns[i].flags & ORM_UPDATED_AT)
            bind_column(&m->columns[i], changes, now, &params[n++]);
    }
    params[n].type = ORM_INT64;
    params[n++].i = key;

    orm_result_init(&res, 0);
    if (update_id(s->db, ms, mask, &id)) {
        rc = run(s, id, params, n, &res);
    } else {
        /* The model's cache of UPDATE texts is full: this rarer set of
         * columns runs as a one-off statement. */
        struct strbuf sql;

        strbuf_init(&sql);
        orm_sql_build_update(s->db->be, m, mask, &sql);
        rc = orm_conn_query(s->conn, strbuf_str(&sql), params, n, &res);
        strbuf_finish(&sql);
    }
    if (rc == USV_OK && res.affected == 0)
        rc = USV_NOT_FOUND;
    orm_result_finish(&res);
    free(params);
    if (rc == USV_OK)
        rc = orm_find(s, m, key, false, row);
    return rc;
}

/* Does @msg name column @c of @m, as "<table>_<column>_" or "<table>.<column>"? */
static bool
names_column(const char *msg, const struct orm_model *m, const struct orm_column *c)
{
    char want[2][160];

    snprintf(want[0], sizeof(want[0]), "%s_%s_", m->table, c->name);
    snprintf(want[1], sizeof(want[1]), "%s.%s", m->table, c->name);
    for (size_t i = 0; i < 2; i++) {
        const char *p = strstr(msg, want[i]);
        size_t n = strlen(want[i]);

        /* "users.login" must not match "users.login2": the name ends there. */
        if (p != NULL && (i == 0 || !(p[n] == '_' || (p[n] >= 'a' && p[n] <= 'z') ||
                                      (p[n] >= '0' && p[n] <= '9'))))
            return true;
    }
    return false;
}

const struct orm_column *
orm_conflict_column(struct orm_session *s, const struct orm_model *m)
{
    const struct orm_column *best = NULL, *only = NULL;
    size_t n_unique = 0;

    for (size_t i = 0; i < m->n_columns; i++) {
        const struct orm_column *c = &m->columns[i];

        if (!(c->flags & ORM_UNIQUE))
            continue;
        n_unique++;
        only = c;
        /* The longest name that matches: "login_alias" beats "login". */
        if (s->conn != NULL && names_column(s->conn->errmsg, m, c) &&
            (best == NULL || strlen(c->name) > strlen(best->name)))
            best = c;
    }
    if (best == NULL && n_unique == 1)
        best = only;
    return best;
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
