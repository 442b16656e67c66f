/* SPDX-License-Identifier: MIT
 * backend_sqlite.c - the embedded default backend.
 *
 * Each pooled connection is its own sqlite3 handle opened with
 * SQLITE_OPEN_NOMUTEX (the pool guarantees one thread per connection). The
 * database runs in WAL mode with synchronous=FULL, so a commit that returned
 * is on disk even if the process is killed the next instant; writers start
 * with BEGIN IMMEDIATE so two writers never deadlock on a lock upgrade and
 * wait (busy_timeout) instead of failing. Logins are unique through a
 * COLLATE NOCASE index (logins are ASCII), so plain "=" compares them
 * case-insensitively. */
#include <fcntl.h>
#include <sqlite3.h>
#include <stdint.h>
#include <sys/statvfs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "orm/orm_int.h"
#include "base/util.h"

#define SQLITE_BUSY_TIMEOUT_MS 5000

/* Below this much free space where the database lives, /readyz says 503:
 * a commit appends whole pages to the WAL, and a checkpoint needs room too. */
#define SQLITE_MIN_FREE_BYTES (256u * 1024)

struct sqlite_conn {
    struct orm_conn base;               /* first: the ORM sees only this */
    sqlite3 *db;
    sqlite3_stmt **stmts;               /* compiled statements by id, n_stmts long */
    size_t n_stmts;
};

static struct sqlite_conn *
to_sqlite(struct orm_conn *c)
{
    return (struct sqlite_conn *)c;
}

static bool
sqlite_accepts(const char *scheme)
{
    return strcmp(scheme, "sqlite") == 0;
}

/* The configuration is the file path ("sqlite:PATH", taken as written). */
static enum usv_err
sqlite_configure(const struct url *u, void **cfg, char *err, size_t errlen)
{
    *cfg = xstrdup(u->path);
    return USV_OK;
}

static void
sqlite_free_config(void *cfg)
{
    free(cfg);
}

/* Map an SQLite result code to the ORM contract and keep the message. */
static enum usv_err
fail(struct sqlite_conn *sc, const char *what)
{
    int ext = sqlite3_extended_errcode(sc->db);

    orm_conn_error(&sc->base, what, sqlite3_errmsg(sc->db));
    switch (ext) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
        return USV_CONFLICT;
    default:
        break;
    }
    switch (ext & 0xFF) {
    case SQLITE_INTERRUPT:
        /* The progress handler: the work's deadline passed. */
        sc->base.timed_out = true;
        return USV_UNAVAILABLE;
    case SQLITE_FULL:
        /* Out of space. Give back what the WAL holds beyond the database
         * (a checkpoint copies it in, TRUNCATE shrinks the file to zero),
         * so writes work again once space returns; it fails harmlessly
         * while readers hold old snapshots. The connection goes. */
        if (!sqlite3_get_autocommit(sc->db))
            sqlite3_exec(sc->db, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_exec(sc->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
        sc->base.is_broken = true;
        return USV_UNAVAILABLE;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        /* busy_timeout already waited: the database is too busy right now. */
        return USV_UNAVAILABLE;
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_READONLY:
        sc->base.is_broken = true;
        return USV_UNAVAILABLE;
    default:
        return USV_INTERNAL;
    }
}

static void sqlite_close(struct orm_conn *c);

/* Every few thousand VM steps: stop the statement once the work's deadline
 * (orm_conn.deadline_ms, set by the ORM; 0 = none) has passed. */
static int
past_deadline(void *arg)
{
    const struct sqlite_conn *sc = arg;

    return sc->base.deadline_ms != 0 && monotonic_ms() >= sc->base.deadline_ms;
}

static enum usv_err
sqlite_open(const void *cfg, const struct orm_limits *lim, struct orm_conn **out, char *err,
            size_t errlen)
{
    unsigned busy_ms = SQLITE_BUSY_TIMEOUT_MS;
    const char *path = cfg;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    struct sqlite_conn *sc = xcalloc(1, sizeof(*sc));
    char *msg = NULL;
    static const char setup[] =
        "PRAGMA journal_mode=WAL;"
        "PRAGMA synchronous=FULL;"
        "PRAGMA foreign_keys=ON;";

    if (strcmp(path, ":memory:") == 0) {
        /* One in-memory database shared by the pool's connections. */
        path = "file:usersvc-memdb?mode=memory&cache=shared";
        flags |= SQLITE_OPEN_URI;
    }
    if ((flags & SQLITE_OPEN_URI) == 0) {
        /* A new database file is created 0600 (SQLite would make it 0644):
         * user data is nobody else's to read. SQLite gives the -wal and
         * -shm files the database file's mode. An existing file, or one
         * another connection creates first (EEXIST), keeps its mode. */
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

        if (fd >= 0)
            close(fd);
    }
    if (sqlite3_open_v2(path, &sc->db, flags, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot open database: %s",
                 sc->db != NULL ? sqlite3_errmsg(sc->db) : "out of memory");
        sqlite_close(&sc->base);
        return USV_UNAVAILABLE;
    }
    sqlite3_extended_result_codes(sc->db, 1);
    /* Waiting for another writer's lock counts against the statement
     * timeout too. */
    if (lim != NULL && lim->statement_timeout_ms != 0 && lim->statement_timeout_ms < busy_ms)
        busy_ms = lim->statement_timeout_ms;
    sqlite3_busy_timeout(sc->db, (int)busy_ms);
    sqlite3_progress_handler(sc->db, 1000, past_deadline, sc);
    /* Switching a new file to WAL can report SQLITE_BUSY at once, without
     * the busy handler, while another connection does the same: retry for
     * as long as busy_timeout would have waited. */
    for (unsigned waited_ms = 0;; waited_ms += 10) {
        int rc = sqlite3_exec(sc->db, setup, NULL, NULL, &msg);
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 10 * 1000 * 1000};

        if (rc == SQLITE_OK)
            break;
        if ((rc & 0xFF) != SQLITE_BUSY || waited_ms >= busy_ms) {
            snprintf(err, errlen, "cannot configure database: %s", msg != NULL ? msg : "?");
            sqlite3_free(msg);
            sqlite_close(&sc->base);
            return USV_UNAVAILABLE;
        }
        sqlite3_free(msg);
        msg = NULL;
        nanosleep(&ts, NULL);
    }
    *out = &sc->base;
    return USV_OK;
}

static void
sqlite_close(struct orm_conn *c)
{
    struct sqlite_conn *sc = to_sqlite(c);

    if (sc == NULL)
        return;
    for (size_t i = 0; i < sc->n_stmts; i++)
        sqlite3_finalize(sc->stmts[i]);
    free(sc->stmts);
    sqlite3_close(sc->db);
    orm_conn_finish(&sc->base);   /* last: it may free the configuration */
    free(sc);
}

static enum usv_err
exec_simple(struct orm_conn *c, const char *sql)
{
    struct sqlite_conn *sc = to_sqlite(c);

    if (sqlite3_exec(sc->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return fail(sc, sql);
    return USV_OK;
}

static int
sqlite_socket(struct orm_conn *c)
{
    return -1;      /* no socket: the progress handler bounds the work */
}

static enum usv_err
sqlite_ping(struct orm_conn *c)
{
    return exec_simple(c, "SELECT 1");
}

/* Can writes succeed now? Not on a full disk: then give back what the WAL
 * holds (a checkpoint that truncates it) and say how it stands. */
static enum usv_err
sqlite_ready(struct orm_conn *c)
{
    struct sqlite_conn *sc = to_sqlite(c);
    const char *path = sqlite3_db_filename(sc->db, "main");
    char dir[4096];
    struct statvfs vfs;
    char *slash;

    if (path == NULL || path[0] == '\0')
        return USV_OK;          /* in memory */
    snprintf(dir, sizeof(dir), "%s", path);
    slash = strrchr(dir, '/');
    if (slash != NULL)
        *(slash == dir ? slash + 1 : slash) = '\0';
    else
        snprintf(dir, sizeof(dir), ".");
    if (statvfs(dir, &vfs) != 0)
        return USV_OK;          /* cannot tell: the writes will */
    if ((uint64_t)vfs.f_bavail * vfs.f_frsize >= SQLITE_MIN_FREE_BYTES)
        return USV_OK;
    sqlite3_exec(sc->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
    if (statvfs(dir, &vfs) == 0 && (uint64_t)vfs.f_bavail * vfs.f_frsize >= SQLITE_MIN_FREE_BYTES)
        return USV_OK;
    orm_conn_error(c, "ready", "less than 256 KiB free where the database lives");
    return USV_UNAVAILABLE;
}

static enum usv_err
sqlite_begin(struct orm_conn *c, enum orm_tx mode)
{
    return exec_simple(c, mode == ORM_TX_WRITE ? "BEGIN IMMEDIATE" : "BEGIN");
}

static enum usv_err
sqlite_commit(struct orm_conn *c)
{
    return exec_simple(c, "COMMIT");
}

static enum usv_err
sqlite_rollback(struct orm_conn *c)
{
    return exec_simple(c, "ROLLBACK");
}

/* Compile statement @id from its text (the shared layer's). */
static enum usv_err
sqlite_prepare(struct orm_conn *c, unsigned id)
{
    struct sqlite_conn *sc = to_sqlite(c);

    sc->stmts = orm_grow(sc->stmts, &sc->n_stmts, (size_t)id + 1, sizeof(*sc->stmts));
    sqlite3_finalize(sc->stmts[id]);
    sc->stmts[id] = NULL;
    if (sqlite3_prepare_v3(sc->db, c->stmts[id].sql, -1, SQLITE_PREPARE_PERSISTENT,
                           &sc->stmts[id], NULL) != SQLITE_OK)
        return fail(sc, "prepare");
    return USV_OK;
}

static enum usv_err
bind_all(struct sqlite_conn *sc, sqlite3_stmt *st, const struct orm_param *params, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct orm_param *p = &params[i];
        int col = (int)i + 1, rc;

        if (p->is_null)
            rc = sqlite3_bind_null(st, col);
        else if (p->type == ORM_INT64)
            rc = sqlite3_bind_int64(st, col, p->i);
        else
            rc = sqlite3_bind_text64(st, col, p->s, p->len, SQLITE_TRANSIENT, SQLITE_UTF8);
        if (rc != SQLITE_OK)
            return fail(sc, "bind");
    }
    return USV_OK;
}

/* Step @st to completion, collecting rows into @res (may be NULL). */
static enum usv_err
step_all(struct sqlite_conn *sc, sqlite3_stmt *st, struct orm_result *res)
{
    for (;;) {
        int rc = sqlite3_step(st);

        if (rc == SQLITE_DONE)
            break;
        if (rc != SQLITE_ROW)
            return fail(sc, "step");
        if (res == NULL)
            continue;
        for (size_t i = 0; i < res->n_cols; i++) {
            int col = (int)i;

            if (sqlite3_column_type(st, col) == SQLITE_NULL) {
                orm_result_push_null(res);
            } else {
                const unsigned char *s = sqlite3_column_text(st, col);

                orm_result_push(res, (const char *)s, (size_t)sqlite3_column_bytes(st, col));
            }
        }
    }
    if (res != NULL) {
        res->affected = (uint64_t)sqlite3_changes64(sc->db);
        res->last_id = sqlite3_last_insert_rowid(sc->db);
    }
    return USV_OK;
}

static enum usv_err
sqlite_execute(struct orm_conn *c, unsigned id, const struct orm_param *params, size_t n,
               struct orm_result *res)
{
    struct sqlite_conn *sc = to_sqlite(c);
    sqlite3_stmt *st = sc->stmts[id];
    enum usv_err rc = bind_all(sc, st, params, n);

    if (rc == USV_OK)
        rc = step_all(sc, st, res);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

/* Group commit: the writes of concurrent requests in one transaction, so
 * one WAL sync makes them all durable. A statement that fails on a
 * constraint (a login taken) undoes only itself: SQLite's default conflict
 * action ABORT reverts the statement and keeps the transaction, so the
 * others commit as they would have alone. An error that ends the
 * transaction itself (I/O, disk full) fails every item: none committed. */
static void
sqlite_execute_batch(struct orm_conn *c, struct orm_batch_item *const *items, size_t n)
{
    struct sqlite_conn *sc = to_sqlite(c);
    enum usv_err rc = exec_simple(c, "BEGIN IMMEDIATE");

    for (size_t i = 0; i < n && rc == USV_OK; i++) {
        items[i]->rc = sqlite_execute(c, items[i]->id, items[i]->params, items[i]->n_params,
                                      items[i]->res);
        if (sqlite3_get_autocommit(sc->db))
            rc = items[i]->rc != USV_OK ? items[i]->rc : USV_INTERNAL;  /* rolled back */
    }
    if (rc == USV_OK) {
        rc = exec_simple(c, "COMMIT");
        if (rc != USV_OK && !sqlite3_get_autocommit(sc->db))
            exec_simple(c, "ROLLBACK");
    }
    if (rc != USV_OK) {
        for (size_t i = 0; i < n; i++)
            items[i]->rc = rc;
    }
}

static enum usv_err
sqlite_query(struct orm_conn *c, const char *sql, const struct orm_param *params, size_t n,
             struct orm_result *res)
{
    struct sqlite_conn *sc = to_sqlite(c);
    sqlite3_stmt *st = NULL;
    enum usv_err rc;

    if (sqlite3_prepare_v2(sc->db, sql, -1, &st, NULL) != SQLITE_OK)
        return fail(sc, "prepare");
    rc = bind_all(sc, st, params, n);
    if (rc == USV_OK)
        rc = step_all(sc, st, res);
    sqlite3_finalize(st);
    return rc;
}

/* SQLite has no lock that outlives a transaction; the migration runner
 * re-reads schema_migrations inside each migration's BEGIN IMMEDIATE
 * transaction, which serialises concurrent runs on its own. */
static enum usv_err
sqlite_lock_migrations(struct orm_conn *c, unsigned timeout_ms)
{
    return USV_OK;
}

static void
sqlite_unlock_migrations(struct orm_conn *c)
{
}

static void
sqlite_placeholder(struct strbuf *b, unsigned n, enum orm_type type)
{
    strbuf_adds(b, "?");
}

static void
sqlite_select_column(struct strbuf *b, const struct orm_column *c)
{
    /* Timestamps are stored as the canonical text already. */
    strbuf_adds(b, c->name);
}

static void
sqlite_equals(struct strbuf *b, const struct orm_column *c, unsigned n)
{
    /* ORM_NOCASE columns are declared COLLATE NOCASE, which "=" honours. */
    strbuf_addf(b, "%s = ?", c->name);
}

const struct orm_backend orm_backend_sqlite = {
    .name = "sqlite",
    /* One writer at a time anyway; readers run in parallel under WAL. */
    .default_pool_size = 8,
    .has_transactional_ddl = true,
    .has_returning = true,
    .accepts = sqlite_accepts,
    .configure = sqlite_configure,
    .free_config = sqlite_free_config,
    .open = sqlite_open,
    .socket = sqlite_socket,
    .close = sqlite_close,
    .ping = sqlite_ping,
    .ready = sqlite_ready,
    .begin = sqlite_begin,
    .commit = sqlite_commit,
    .rollback = sqlite_rollback,
    .prepare = sqlite_prepare,
    .execute = sqlite_execute,
    .execute_batch = sqlite_execute_batch,
    .batching = ORM_BATCH_WRITES,   /* WAL readers run in parallel: only commits gain */
    .max_batches = 1,           /* one writer at a time */
    .query = sqlite_query,
    .lock_migrations = sqlite_lock_migrations,
    .unlock_migrations = sqlite_unlock_migrations,
    .placeholder = sqlite_placeholder,
    .select_column = sqlite_select_column,
    .equals = sqlite_equals,
    .lock_suffix = "",
};
