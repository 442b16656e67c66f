/* SPDX-License-Identifier: MIT
 * migrate.c - the migration runner (see migrate.h).
 *
 * The runner borrows one connection from the handle's pool and handles
 * migrations one transaction at a time, each under the migration lock:
 * where the backend has one (PostgreSQL), a lock of each transaction, which
 * nothing can leak through a pooler; otherwise a session lock held for
 * the whole run (MySQL GET_LOCK; SQLite's BEGIN IMMEDIATE is one already).
 * GET_LOCK holds only on its own server, so on MySQL the runner also takes
 * a lease: one row of schema_migrations_lock, claimed by an UPDATE that a
 * Galera cluster certifies like any write (two nodes claiming at once: one
 * commit fails certification and tries again, finding the row taken).
 * Bookkeeping SQL is written once with '?' markers and rendered with the
 * backend's placeholder hook, so it is the same on every database.
 *
 * Migrations never stall traffic: their DDL waits for a table lock at most
 * the migration lock timeout, because every request touching that table
 * queues behind a waiting DDL statement. When it gives up, its transaction
 * is rolled back and tried again later, with a doubling backoff, a bounded
 * number of times, each wait logged with the statement that waited. */
#include "orm/migrate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "orm/migrations.h"
#include "orm/orm_int.h"
#include "base/log.h"
#include "base/util.h"

#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)
#define MIGRATE_LOCK_TIMEOUT_MS 60000        /* waiting for another migration run */
#define MIGRATE_LEASE_S 600                  /* a crashed run's lease ends after this */
#define MIGRATE_LEASE_POLL_MS 200
#define MIGRATE_BACKOFF_MIN_MS 250
#define MIGRATE_BACKOFF_MAX_MS 8000

static const char create_table_sql[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version BIGINT NOT NULL PRIMARY KEY,"
    " name VARCHAR(200) NOT NULL,"
    " checksum CHAR(64) NOT NULL,"
    " applied_at VARCHAR(40) NOT NULL,"
    " dirty SMALLINT NOT NULL DEFAULT 0)";

struct runner {
    char lease_holder[96];  /* "host:pid:n" while the lease is ours, else "" */
    struct orm_db *db;
    const struct orm_backend *be;
    struct orm_conn *conn;
    bool is_locked;         /* holds the session lock (backends without lock_migration_tx) */
    bool has_ddl_wait;      /* set_ddl_lock_wait() was applied: undo at the end */
    unsigned ddl_lock_ms;   /* how long DDL waits for a lock */
    unsigned retries;       /* further tries of a migration whose DDL gave up waiting */
};

/* Render @sql, replacing each '?' with the dialect's placeholder. */
static char *
render(const struct orm_backend *be, const char *sql)
{
    struct strbuf b;
    unsigned n = 0;

    strbuf_init(&b);
    for (const char *p = sql; *p != '\0'; p++) {
        if (*p == '?')
            be->placeholder(&b, ++n, ORM_TEXT);
        else
            strbuf_add(&b, p, 1);
    }
    return strbuf_take(&b);
}

static enum usv_err
query(struct runner *r, const char *sql, const struct orm_param *params, size_t n,
      struct orm_result *res)
{
    char *text = render(r->be, sql);
    enum usv_err rc = orm_conn_query(r->conn, text, params, n, res);

    free(text);
    return rc;
}

static struct orm_param
text_param(const char *s)
{
    struct orm_param p = {.type = ORM_TEXT, .s = s, .len = strlen(s)};
    return p;
}

static struct orm_param
int_param(int64_t v)
{
    struct orm_param p = {.type = ORM_INT64, .i = v};
    return p;
}

/* Inside a migration's transaction, first: the per-transaction lock where
 * the backend has one. */
static enum usv_err
lock_tx(struct runner *r)
{
    enum usv_err rc;

    if (r->be->lock_migration_tx == NULL)
        return USV_OK;
    rc = r->be->lock_migration_tx(r->conn, MIGRATE_LOCK_TIMEOUT_MS, r->ddl_lock_ms);
    if (rc != USV_OK)
        log_error("migrate", "cannot take the migration lock: %s", r->conn->errmsg);
    return rc;
}

static enum usv_err
create_table_work(void *arg)
{
    struct runner *r = arg;
    enum usv_err rc = lock_tx(r);

    if (rc == USV_OK)
        rc = query(r, create_table_sql, NULL, 0, NULL);
    return rc;
}

/* Sleep @ms. */
static void
sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* ---- the cluster-wide lease (MySQL SQL; MariaDB Galera) ---------------- */

static const char create_lease_sql[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations_lock ("
    " id INT NOT NULL PRIMARY KEY,"
    " holder VARCHAR(96) NOT NULL,"
    " expires_at BIGINT NOT NULL)";

/* Run @sql (autocommit), retrying a certification conflict or deadlock a
 * few times; *@affected: the rows it changed. */
static enum usv_err
lease_query(struct runner *r, const char *sql, const char *holder, uint64_t *affected)
{
    struct orm_param p = text_param(holder != NULL ? holder : "");
    enum usv_err rc = USV_RETRY;

    for (unsigned attempt = 0; rc == USV_RETRY && attempt < 5; attempt++) {
        struct orm_result res;

        orm_result_init(&res, 0);
        rc = query(r, sql, &p, holder != NULL ? 1 : 0, &res);
        if (affected != NULL)
            *affected = rc == USV_OK ? res.affected : 0;
        orm_result_finish(&res);
    }
    return rc;
}

/* Claim the lease: wait (polling) while another run holds it, at most
 * MIGRATE_LOCK_TIMEOUT_MS. A lease whose run crashed ends MIGRATE_LEASE_S
 * after it was taken. */
static enum usv_err
take_lease(struct runner *r)
{
    char holder[96], host[64] = "?";
    uint64_t deadline = monotonic_ms() + MIGRATE_LOCK_TIMEOUT_MS, affected = 0;
    bool logged = false;
    enum usv_err rc;

    gethostname(host, sizeof(host) - 1);
    snprintf(holder, sizeof(holder), "%.60s:%ld:%llu", host, (long)getpid(),
             (unsigned long long)monotonic_us());
    rc = lease_query(r, create_lease_sql, NULL, NULL);
    if (rc == USV_OK)
        rc = lease_query(r, "INSERT IGNORE INTO schema_migrations_lock (id, holder, expires_at)"
                            " VALUES (1, '', 0)", NULL, NULL);
    while (rc == USV_OK) {
        rc = lease_query(r, "UPDATE schema_migrations_lock SET holder = ?,"
                            " expires_at = UNIX_TIMESTAMP() + " STRINGIFY(MIGRATE_LEASE_S)
                            " WHERE id = 1 AND (holder = '' OR expires_at < UNIX_TIMESTAMP())",
                         holder, &affected);
        if (rc != USV_OK || affected == 1)
            break;
        if (monotonic_ms() >= deadline) {
            orm_conn_error(r->conn, "lease", "another migration run held the cluster-wide "
                           "lease (schema_migrations_lock) for the whole wait");
            rc = USV_UNAVAILABLE;
            break;
        }
        if (!logged)
            log_info("migrate", "waiting for another migration run's cluster-wide lease "
                     "(schema_migrations_lock)");
        logged = true;
        sleep_ms(MIGRATE_LEASE_POLL_MS);
    }
    if (rc == USV_OK)
        snprintf(r->lease_holder, sizeof(r->lease_holder), "%s", holder);
    return rc;
}

static void
give_lease(struct runner *r)
{
    if (r->lease_holder[0] == '\0')
        return;
    if (lease_query(r, "UPDATE schema_migrations_lock SET holder = '', expires_at = 0"
                       " WHERE id = 1 AND holder = ?", r->lease_holder, NULL) != USV_OK)
        log_warn("migrate", "cannot give the migration lease back (it ends by itself %d s "
                 "after it was taken): %s", MIGRATE_LEASE_S, r->conn->errmsg);
    r->lease_holder[0] = '\0';
}

static enum usv_err
runner_start(struct runner *r, struct orm_db *db, bool lock)
{
    enum usv_err rc;

    memset(r, 0, sizeof(*r));
    r->db = db;
    r->be = orm_db_backend_ops(db);
    orm_db_migration_waits(db, &r->ddl_lock_ms, &r->retries);
    rc = orm_db_acquire(db, &r->conn);
    if (rc != USV_OK || !lock)
        return rc;
    if (r->be->lock_migration_tx != NULL) {
        /* Under the lock: concurrent CREATE TABLE IF NOT EXISTS can collide
         * in PostgreSQL's catalog. */
        rc = orm_conn_transact(r->conn, ORM_TX_WRITE, create_table_work, r);
        if (rc != USV_OK)
            log_error("migrate", "cannot create schema_migrations: %s", r->conn->errmsg);
        return rc;
    }
    rc = orm_conn_lock_migrations(r->conn, MIGRATE_LOCK_TIMEOUT_MS);
    if (rc != USV_OK) {
        log_error("migrate", "cannot take the migration lock: %s", r->conn->errmsg);
        return rc;
    }
    r->is_locked = true;
    if (r->be->lock_is_node_local) {
        rc = take_lease(r);
        if (rc != USV_OK) {
            log_error("migrate", "cannot take the migration lease: %s", r->conn->errmsg);
            return rc;
        }
    }
    if (r->be->set_ddl_lock_wait != NULL) {
        rc = r->be->set_ddl_lock_wait(r->conn, r->ddl_lock_ms);
        r->has_ddl_wait = rc == USV_OK;
    }
    if (rc == USV_OK)
        rc = query(r, create_table_sql, NULL, 0, NULL);
    if (rc != USV_OK)
        log_error("migrate", "cannot create schema_migrations: %s", r->conn->errmsg);
    return rc;
}

static void
runner_finish(struct runner *r)
{
    if (r->conn != NULL && r->has_ddl_wait && !r->conn->is_broken &&
        r->be->set_ddl_lock_wait(r->conn, 0) != USV_OK)
        r->conn->is_broken = true;     /* never hand out a session with our bounds */
    if (r->conn != NULL && !r->conn->is_broken)
        give_lease(r);
    if (r->conn != NULL && r->is_locked && !r->conn->is_broken)
        orm_conn_unlock_migrations(r->conn);
    orm_db_release(r->db, r->conn);
    r->conn = NULL;
}

static const struct migration *
find_embedded(struct orm_db *db, const char *backend, int64_t version)
{
    size_t n;
    const struct migration *set = orm_db_migrations(db, &n);

    for (size_t i = 0; i < n; i++) {
        if (set[i].version == version && strcmp(set[i].backend, backend) == 0)
            return &set[i];
    }
    return NULL;
}

/* Read the record of @version: *@found, and its checksum and dirty flag. */
static enum usv_err
read_record(struct runner *r, int64_t version, bool *found, char *checksum, size_t cs_len,
            bool *is_dirty)
{
    struct orm_param p = int_param(version);
    struct orm_result res;
    enum usv_err rc;

    orm_result_init(&res, 2);
    rc = query(r, "SELECT checksum, dirty FROM schema_migrations WHERE version = ?", &p, 1,
               &res);
    *found = false;
    if (rc == USV_OK && orm_result_rows(&res) == 1) {
        const char *dirty = orm_result_cell(&res, 0, 1, NULL);

        *found = true;
        snprintf(checksum, cs_len, "%s", orm_result_cell(&res, 0, 0, NULL));
        *is_dirty = dirty != NULL && strcmp(dirty, "0") != 0;
    }
    orm_result_finish(&res);
    return rc;
}

static enum usv_err
write_record(struct runner *r, const struct migration *m, bool is_dirty)
{
    char now[UTC_STAMP_LEN + 1];
    struct orm_param p[5];

    utc_stamp(now, sizeof(now));
    p[0] = int_param(m->version);
    p[1] = text_param(m->name);
    p[2] = text_param(m->checksum);
    p[3] = text_param(now);
    p[4] = int_param(is_dirty ? 1 : 0);
    return query(r, "INSERT INTO schema_migrations (version, name, checksum, applied_at, dirty)"
                    " VALUES (?, ?, ?, ?, ?)", p, 5, NULL);
}

/* What apply_work() and revert_work() do and find. */
struct apply {
    struct runner *r;
    const struct migration *m;
    const char *direction;  /* "up" or "down" */
    bool is_recorded;      /* another runner applied it (or it is dirty) */
    size_t failed_at;      /* 1-based statement that failed; 0 = none */
    char failed_sql[120];  /* its first line */
};

/* Run @stmts; on failure note which statement failed. A lock wait that gave
 * up is apply_retrying()'s to log; anything else is logged here. */
static enum usv_err
run_statements(struct apply *a, const char *const *stmts)
{
    struct runner *r = a->r;

    for (size_t i = 0; stmts[i] != NULL; i++) {
        enum usv_err rc = orm_conn_query(r->conn, stmts[i], NULL, 0, NULL);

        if (rc != USV_OK) {
            a->failed_at = i + 1;
            snprintf(a->failed_sql, sizeof(a->failed_sql), "%.*s",
                     (int)strcspn(stmts[i], "\n"), stmts[i]);
            if (!r->conn->timed_out || r->conn->is_broken)
                log_error("migrate", "migration %04lld_%s (%s) failed at statement %zu (%s): "
                          "%s", (long long)a->m->version, a->m->name, a->direction, i + 1,
                          a->failed_sql, r->conn->errmsg);
            return rc;
        }
    }
    return USV_OK;
}

/* Inside the migration's transaction: check its record, run it, record it. */
static enum usv_err
apply_work(void *arg)
{
    struct apply *a = arg;
    const struct migration *m = a->m;
    char checksum[80] = "";
    bool is_dirty = false;
    enum usv_err rc = lock_tx(a->r);

    if (rc == USV_OK)
        rc = read_record(a->r, m->version, &a->is_recorded, checksum, sizeof(checksum),
                         &is_dirty);
    if (rc != USV_OK || !a->is_recorded) {
        if (rc == USV_OK)
            rc = run_statements(a, m->up);
        if (rc == USV_OK)
            rc = write_record(a->r, m, false);
        return rc;
    }
    if (is_dirty) {
        log_error("migrate", "migration %04lld_%s failed earlier and is marked dirty in"
                  " schema_migrations; repair the schema by hand, then delete that row",
                  (long long)m->version, m->name);
        return USV_CONFLICT;
    }
    if (strcmp(checksum, m->checksum) != 0) {
        log_error("migrate", "migration %04lld_%s was changed after it was applied"
                  " (checksum %.12s… recorded, %.12s… embedded); merged migrations must"
                  " never be edited", (long long)m->version, m->name, checksum, m->checksum);
        return USV_CONFLICT;
    }
    return USV_OK;    /* applied already, unchanged: nothing to do */
}

/* Run @work (apply_work or revert_work) in its own transaction; when a
 * statement gave up waiting for a lock, and nothing of the migration can
 * have been committed, wait and try again, at most r->retries times. */
static enum usv_err
transact_retrying(struct apply *a, enum usv_err (*work)(void *arg))
{
    struct runner *r = a->r;
    const struct migration *m = a->m;
    unsigned backoff_ms = MIGRATE_BACKOFF_MIN_MS;
    enum usv_err rc;

    for (unsigned attempt = 0;; attempt++) {
        uint64_t start = monotonic_ms();

        a->failed_at = 0;
        a->is_recorded = false;
        r->conn->timed_out = false;
        rc = orm_conn_transact(r->conn, ORM_TX_WRITE, work, a);
        /* Only a lock wait that gave up is retried, and on a database
         * without transactional DDL only when it was the first statement
         * (the ones before it would have committed). */
        if (rc == USV_OK || a->failed_at == 0 || !r->conn->timed_out || r->conn->is_broken ||
            (!r->be->has_transactional_ddl && a->failed_at > 1))
            return rc;
        if (attempt >= r->retries) {
            log_error("migrate", "migration %04lld_%s (%s): statement %zu (%s) could not get "
                      "its lock within %u ms in %u tries; another transaction holds the "
                      "table: %s", (long long)m->version, m->name, a->direction,
                      a->failed_at, a->failed_sql, r->ddl_lock_ms, attempt + 1,
                      r->conn->errmsg);
            return rc;
        }
        log_warn("migrate", "migration %04lld_%s (%s): statement %zu (%s) waited %llu ms for "
                 "a lock another transaction holds and gave up, so that requests do not "
                 "queue behind it (%s); retry %u of %u in %u ms", (long long)m->version,
                 m->name, a->direction, a->failed_at, a->failed_sql,
                 (unsigned long long)(monotonic_ms() - start), r->conn->errmsg, attempt + 1,
                 r->retries, backoff_ms);
        r->conn->timed_out = false;
        sleep_ms(backoff_ms);
        backoff_ms = backoff_ms * 2 < MIGRATE_BACKOFF_MAX_MS ? backoff_ms * 2
                                                             : MIGRATE_BACKOFF_MAX_MS;
    }
}

/* Apply @m in its own transaction unless another runner already did. The
 * transaction is the sessions' own (orm_conn_transact()). */
static enum usv_err
apply_one(struct runner *r, const struct migration *m, bool *did_apply)
{
    struct apply a = {.r = r, .m = m, .direction = "up"};
    enum usv_err rc = transact_retrying(&a, apply_work);

    *did_apply = rc == USV_OK && !a.is_recorded;
    if (rc == USV_OK || a.is_recorded)
        return rc;
    if (!r->be->has_transactional_ddl && !r->conn->is_broken && a.failed_at > 0 &&
        !(a.failed_at == 1 && r->conn->timed_out)) {
        /* Part of the DDL has been committed implicitly: say so durably. */
        if (write_record(r, m, true) != USV_OK)
            log_error("migrate", "cannot record the failed migration: %s", r->conn->errmsg);
    }
    return rc == USV_CONFLICT ? USV_INTERNAL : rc;
}

enum usv_err
migrate_up(struct orm_db *db, unsigned *applied)
{
    const char *backend = orm_db_backend(db);
    struct runner r;
    unsigned count = 0;
    size_t n_set;
    const struct migration *set = orm_db_migrations(db, &n_set);
    enum usv_err rc = runner_start(&r, db, true);

    for (size_t i = 0; rc == USV_OK && i < n_set; i++) {
        const struct migration *m = &set[i];
        bool did_apply = false;

        if (strcmp(m->backend, backend) != 0)
            continue;
        rc = apply_one(&r, m, &did_apply);
        if (rc == USV_OK && did_apply) {
            log_info("migrate", "applied %04lld_%s", (long long)m->version, m->name);
            count++;
        }
    }
    runner_finish(&r);
    if (applied != NULL)
        *applied = count;
    return rc;
}

/* Read the highest recorded version into *@version (0 when none). */
static enum usv_err
latest_version(struct runner *r, int64_t *version)
{
    struct orm_result res;
    enum usv_err rc;

    orm_result_init(&res, 1);
    rc = query(r, "SELECT MAX(version) FROM schema_migrations", NULL, 0, &res);
    *version = 0;
    if (rc == USV_OK && orm_result_rows(&res) == 1) {
        const char *v = orm_result_cell(&res, 0, 0, NULL);

        if (v != NULL)
            *version = strtoll(v, NULL, 10);
    }
    orm_result_finish(&res);
    return rc;
}

static enum usv_err
revert_work(void *arg)
{
    struct apply *a = arg;
    struct orm_param p = int_param(a->m->version);
    char checksum[80] = "";
    bool is_dirty = false;
    enum usv_err rc = lock_tx(a->r);

    /* Under the lock: a concurrent run may have reverted it meanwhile. */
    if (rc == USV_OK)
        rc = read_record(a->r, a->m->version, &a->is_recorded, checksum, sizeof(checksum),
                         &is_dirty);
    if (rc != USV_OK || !a->is_recorded)
        return rc;
    rc = run_statements(a, a->m->down);
    if (rc == USV_OK)
        rc = query(a->r, "DELETE FROM schema_migrations WHERE version = ?", &p, 1, NULL);
    return rc;
}

static enum usv_err
revert_one(struct runner *r, const struct migration *m, bool *did_revert)
{
    struct apply a = {.r = r, .m = m, .direction = "down"};
    enum usv_err rc = transact_retrying(&a, revert_work);

    *did_revert = rc == USV_OK && a.is_recorded;
    return rc;
}

enum usv_err
migrate_down(struct orm_db *db, unsigned n, unsigned *reverted)
{
    const char *backend = orm_db_backend(db);
    struct runner r;
    unsigned count = 0;
    enum usv_err rc = runner_start(&r, db, true);

    while (rc == USV_OK && count < n) {
        const struct migration *m;
        int64_t version;
        bool did_revert = false;

        rc = latest_version(&r, &version);
        if (rc != USV_OK || version == 0)
            break;
        m = find_embedded(db, backend, version);
        if (m == NULL) {
            log_error("migrate", "migration %lld is not known to this binary; cannot revert it",
                      (long long)version);
            rc = USV_CONFLICT;
            break;
        }
        rc = revert_one(&r, m, &did_revert);
        if (rc == USV_OK && did_revert) {
            log_info("migrate", "reverted %04lld_%s", (long long)m->version, m->name);
            count++;
        }
    }
    runner_finish(&r);
    if (reverted != NULL)
        *reverted = count;
    return rc;
}

static int
by_version(const void *a, const void *b)
{
    const struct migrate_entry *x = a, *y = b;

    return (x->version > y->version) - (x->version < y->version);
}

enum usv_err
migrate_status(struct orm_db *db, struct migrate_entry **entries, size_t *n)
{
    const char *backend = orm_db_backend(db);
    struct migrate_entry *list = NULL;
    size_t count = 0, rows = 0, n_set;
    const struct migration *set = orm_db_migrations(db, &n_set);
    struct orm_result res;
    struct runner r;
    enum usv_err rc = runner_start(&r, db, false);

    orm_result_init(&res, 5);
    if (rc == USV_OK) {
        rc = query(&r, "SELECT version, name, checksum, applied_at, dirty"
                       " FROM schema_migrations", NULL, 0, &res);
        /* Status takes no lock and creates nothing (it also serves /readyz):
         * a database that answers but has no schema_migrations table has
         * simply had nothing applied yet. */
        if (rc == USV_INTERNAL && !r.conn->is_broken) {
            log_debug("migrate", "no schema_migrations table: %s", r.conn->errmsg);
            orm_result_finish(&res);
            orm_result_init(&res, 5);
            rc = USV_OK;
        }
    }
    if (rc != USV_OK)
        goto out;
    rows = orm_result_rows(&res);
    list = xcalloc(n_set + rows, sizeof(*list));
    for (size_t i = 0; i < n_set; i++) {
        if (strcmp(set[i].backend, backend) != 0)
            continue;
        list[count].version = set[i].version;
        snprintf(list[count].name, sizeof(list[count].name), "%s", set[i].name);
        list[count].state = MIGRATE_PENDING;
        count++;
    }
    for (size_t row = 0; row < rows; row++) {
        int64_t version = strtoll(orm_result_cell(&res, row, 0, NULL), NULL, 10);
        const struct migration *m = find_embedded(db, backend, version);
        const char *dirty = orm_result_cell(&res, row, 4, NULL);
        struct migrate_entry *e = NULL;

        for (size_t i = 0; i < count; i++) {
            if (list[i].version == version)
                e = &list[i];
        }
        if (e == NULL) {
            e = &list[count++];
            e->version = version;
            snprintf(e->name, sizeof(e->name), "%s", orm_result_cell(&res, row, 1, NULL));
        }
        snprintf(e->applied_at, sizeof(e->applied_at), "%s", orm_result_cell(&res, row, 3, NULL));
        if (m == NULL)
            e->state = MIGRATE_UNKNOWN;
        else if (dirty != NULL && strcmp(dirty, "0") != 0)
            e->state = MIGRATE_FAILED;
        else if (strcmp(m->checksum, orm_result_cell(&res, row, 2, NULL)) != 0)
            e->state = MIGRATE_CHANGED;
        else
            e->state = MIGRATE_APPLIED;
    }
    qsort(list, count, sizeof(*list), by_version);
    *entries = list;
    *n = count;
    list = NULL;
out:
    free(list);
    orm_result_finish(&res);
    runner_finish(&r);
    return rc;
}

enum usv_err
migrate_check(struct orm_db *db, char *why, size_t why_len)
{
    struct migrate_entry *list = NULL;
    struct strbuf b;
    size_t n = 0;
    enum usv_err rc = migrate_status(db, &list, &n);

    if (rc != USV_OK) {
        snprintf(why, why_len, "the database cannot be reached");
        return rc;
    }
    strbuf_init(&b);
    for (size_t i = 0; i < n; i++) {
        if (list[i].state == MIGRATE_APPLIED || list[i].state == MIGRATE_UNKNOWN)
            continue;
        strbuf_addf(&b, "%s%04lld_%s (%s)", strbuf_len(&b) > 0 ? ", " : "",
                    (long long)list[i].version, list[i].name,
                    migrate_state_name(list[i].state));
    }
    if (strbuf_len(&b) > 0) {
        snprintf(why, why_len, "schema is not current: %s", strbuf_str(&b));
        rc = USV_CONFLICT;
    }
    strbuf_finish(&b);
    free(list);
    return rc;
}

const char *
migrate_state_name(enum migrate_state s)
{
    switch (s) {
    case MIGRATE_PENDING:
        return "pending";
    case MIGRATE_APPLIED:
        return "applied";
    case MIGRATE_CHANGED:
        return "checksum changed";
    case MIGRATE_FAILED:
        return "failed, dirty";
    case MIGRATE_UNKNOWN:
        return "unknown to this binary";
    }
    return "?";
}
