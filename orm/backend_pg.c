/* SPDX-License-Identifier: MIT
 * backend_pg.c - the PostgreSQL backend (libpq).
 *
 * Each pooled connection is one PGconn. The DATABASE_URL, parsed once by
 * orm/url.c, becomes libpq keywords once per handle (pg_configure()): our
 * defaults (connect_timeout, application_name) first, so anything the URL
 * says wins; options libpq does not know are refused at start.
 * Statements are prepared once per connection under the name "usv_<id>" and
 * run with text parameters; rows come back as text, timestamps rewritten
 * from the server's ISO text into the service's canonical form, so they are
 * byte-identical to what the other backends return. Errors are classified
 * by SQLSTATE. Concurrent requests' statements may share one pipeline
 * (pg_execute_batch()).
 *
 * A connection the server dropped while it sat idle in the pool (restart,
 * failover, idle cut) is noticed before a statement is sent on it, without a
 * round trip (pg_looks_alive()), and reconnected in place (pg_reconnect());
 * when and why is the shared layer's policy (orm_conn_ensure_session()),
 * which also keeps the statements' texts and prepares them again. A
 * connection lost while a statement or transaction was in flight is marked
 * broken for the pool to replace: the outcome of that work is unknown, and
 * repeating it is not this layer's call.
 *
 * DB_PREPARED_STATEMENTS=off (orm_limits.no_prepared_statements): nothing
 * named is ever prepared. prepare() only keeps the text; each execution
 * sends it as the unnamed statement with its parameters (PQexecParams(),
 * PQsendQueryParams() in a pipeline: Parse, Bind, Describe, Execute, the
 * same messages as PQsendPrepare("") followed by PQsendQueryPrepared(""),
 * minus one result object. Measured on loopback (20,000 reads by key in
 * pipelines of 16 with a Sync each, best of 6 runs on a busy 2-core
 * machine): PQsendQueryParams 0.86 s, PQsendPrepare("") with
 * PQsendQueryPrepared("") 1.01 s, named statements 0.63 s; so the single
 * call. An unnamed statement lives only until the next Parse, inside the
 * same transaction, so PgBouncer in transaction mode may hand the session
 * to another server connection between transactions; the price is the
 * server's parse and plan on every execution.
 * A named statement the server does not have (26000) or already has
 * (42P05) means the session is not the one we prepared on: a pooler moved
 * it. The connection is then broken (the pool replaces it) and the log
 * says to set DB_PREPARED_STATEMENTS=off; open() warns once when it sees a
 * pooler at all (the backend pid libpq was given is not the server's). */
#include <inttypes.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "orm/orm_int.h"
#include "base/log.h"
#include "base/util.h"

/* Seconds libpq waits for a server per host; the URL may say otherwise. */
#define PG_CONNECT_TIMEOUT_S "5"
/* Our own bound on a connect when the caller gives none. */
#define PG_CONNECT_TIMEOUT_MS 5000u

/* The advisory lock key that serialises migration runs ("usersvcM" as a
 * big-endian int64). Advisory locks are per database, so services sharing a
 * server but not a database do not wait on each other. */
#define PG_MIGRATION_LOCK_KEY "8463219666997109581"

/* Statement names are "usv_" plus the id: at most 4 + 10 digits. */
#define PG_STMT_NAME_LEN 16

struct postgres_conn {
    struct orm_conn base;               /* first: the ORM sees only this */
    PGconn *conn;
    bool is_doomed;                     /* the server said FATAL: the session is ending */
    bool unnamed;                       /* DB_PREPARED_STATEMENTS=off: no named statements */
    unsigned reconnect_timeout_ms;      /* a reconnect in place happens during the work:
                                         * bounded by the statement timeout */
};

static struct postgres_conn *
to_pg(struct orm_conn *c)
{
    return (struct postgres_conn *)c;
}

static bool
pg_accepts(const char *scheme)
{
    /* The two URI schemes libpq itself recognises. */
    return strcmp(scheme, "postgres") == 0 || strcmp(scheme, "postgresql") == 0;
}

/* ---- errors ----------------------------------------------------------- */

static bool
is_sqlstate(const char *state, const char *want)
{
    return state != NULL && strcmp(state, want) == 0;
}

/* Classify a failed command (@r may be NULL: libpq could not even send it),
 * keep a one-line message without DETAIL (which may quote row values), and
 * return the ORM's code. */
static enum usv_err
fail(struct postgres_conn *pc, const char *what, const PGresult *r)
{
    const char *state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = r != NULL ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    char msg[200], line[240];

    if (primary != NULL)
        orm_one_line(msg, sizeof(msg), primary);
    else
        orm_one_line(msg, sizeof(msg), PQerrorMessage(pc->conn));
    snprintf(line, sizeof(line), "%s%s%s", state != NULL ? state : "",
             state != NULL ? " " : "", msg[0] != '\0' ? msg : "unknown error");
    orm_conn_error(&pc->base, what, line);

    /* Whatever the error said, a dead socket means a dead connection. */
    if (r == NULL || PQstatus(pc->conn) != CONNECTION_OK) {
        pc->base.is_broken = true;
        return USV_UNAVAILABLE;
    }
    if (state == NULL)
        return USV_INTERNAL;
    if (is_sqlstate(state, "23505"))
        return USV_CONFLICT;
    if (is_sqlstate(state, "40001") || is_sqlstate(state, "40P01"))
        return USV_RETRY;
    /* A named statement missing or already there: the server session is
     * not the one the statements were prepared on (a pooler moved it), and
     * will not become it again. Replace the connection; never 500 forever. */
    if (is_sqlstate(state, "26000") || is_sqlstate(state, "42P05")) {
        orm_conn_error(&pc->base, what, line);
        snprintf(pc->base.errmsg + strlen(pc->base.errmsg),
                 sizeof(pc->base.errmsg) - strlen(pc->base.errmsg),
                 " (behind a transaction-mode pooler? set DB_PREPARED_STATEMENTS=off)");
        pc->base.is_broken = true;
        return USV_UNAVAILABLE;
    }
    /* Connection exceptions, and the server shutting down, crashed or still
     * starting: this session is over, a new one may work in a moment. */
    if (strncmp(state, "08", 2) == 0 || is_sqlstate(state, "57P01") ||
        is_sqlstate(state, "57P02") || is_sqlstate(state, "57P03") ||
        /* read-only transaction: this host was demoted (a failover); a new
         * connection finds the primary through target_session_attrs. */
        is_sqlstate(state, "25006")) {
        pc->base.is_broken = true;
        return USV_UNAVAILABLE;
    }
    /* lock_timeout / statement_timeout expired, too many connections: the
     * database is there but too busy; the connection itself is fine. */
    if (is_sqlstate(state, "55P03") || is_sqlstate(state, "57014") ||
        strncmp(state, "53", 2) == 0) {
        pc->base.timed_out = !is_sqlstate(state, "53");
        return USV_UNAVAILABLE;
    }
    return USV_INTERNAL;
}

/* The type OID of timestamptz (pg_type.h; OIDs of built-in types are fixed). */
#define PG_TIMESTAMPTZ_OID 1184

/* Rewrite a timestamptz as the session renders it with DateStyle ISO:
 * "2026-11-21 08:00:00.1234+00" (trailing zeros of the fraction dropped, no
 * fraction when it is zero; the offset of the session's time zone, which
 * session_setup() makes UTC) into the service's canonical UTC text
 * "2026-11-21T08:00:00.123400Z", the bytes every backend returns. False for
 * anything else (a year beyond 9999, BC, infinity). */
static bool
canonical_timestamp(const char *s, size_t len, char out[UTC_STAMP_LEN + 1])
{
    struct orm_stamp t;
    size_t i;
    unsigned off_h, off_m = 0, off_s = 0;
    char num[3] = "";

    if (!orm_stamp_parse(s, len, &t, &i))
        return false;
    /* The offset: +HH, +HH:MM or +HH:MM:SS. */
    if ((len - i != 3 && len - i != 6 && len - i != 9) || (s[i] != '+' && s[i] != '-'))
        return false;
    for (size_t k = 1; k < len - i; k += 3) {
        unsigned *part = k == 1 ? &off_h : k == 4 ? &off_m : &off_s;

        if ((k > 1 && s[i + k - 1] != ':') || s[i + k] < '0' || s[i + k] > '9' ||
            s[i + k + 1] < '0' || s[i + k + 1] > '9')
            return false;
        memcpy(num, s + i + k, 2);
        *part = (unsigned)(num[0] - '0') * 10 + (unsigned)(num[1] - '0');
    }
    if (off_h != 0 || off_m != 0 || off_s != 0) {
        long off = (long)(off_h * 3600 + off_m * 60 + off_s);

        if (!orm_stamp_shift(&t, s[i] == '+' ? -off : off))
            return false;
    }
    return orm_stamp_format(&t, out);
}

/* Collect the rows of @r into @res (may be NULL). @r must have succeeded. */
static enum usv_err
collect(struct postgres_conn *pc, const char *what, PGresult *r, struct orm_result *res)
{
    int rows = PQntuples(r), fields = PQnfields(r);
    const char *affected = PQcmdTuples(r);

    if (res == NULL)
        return USV_OK;
    if (rows > 0 && (size_t)fields < res->n_cols) {
        char msg[80];

        snprintf(msg, sizeof(msg), "%d columns returned, %zu expected", fields, res->n_cols);
        orm_conn_error(&pc->base, what, msg);
        return USV_INTERNAL;
    }
    for (int row = 0; row < rows && res->n_cols > 0; row++) {
        for (size_t col = 0; col < res->n_cols; col++) {
            const char *v = PQgetvalue(r, row, (int)col);
            size_t len = (size_t)PQgetlength(r, row, (int)col);
            char stamp[UTC_STAMP_LEN + 1];

            if (PQgetisnull(r, row, (int)col)) {
                orm_result_push_null(res);
            } else if (PQftype(r, (int)col) != PG_TIMESTAMPTZ_OID) {
                orm_result_push(res, v, len);
            } else if (canonical_timestamp(v, len, stamp)) {
                orm_result_push(res, stamp, UTC_STAMP_LEN);
            } else {
                orm_conn_error(&pc->base, what, "a timestamp outside the canonical range");
                return USV_INTERNAL;
            }
        }
    }
    /* "" for commands that report no count (SELECT reports its rows). */
    res->affected = affected[0] != '\0' ? strtoull(affected, NULL, 10) : 0;
    return USV_OK;
}

/* Run @r's verdict through fail() or collect(), then free it. */
static enum usv_err
finish_result(struct postgres_conn *pc, const char *what, PGresult *r, struct orm_result *res)
{
    ExecStatusType st = r != NULL ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    enum usv_err rc;

    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        rc = collect(pc, what, r, res);
    else
        rc = fail(pc, what, r);
    PQclear(r);
    return rc;
}

static enum usv_err
exec_simple(struct postgres_conn *pc, const char *sql)
{
    return finish_result(pc, sql, PQexec(pc->conn, sql), NULL);
}

/* ---- parameters --------------------------------------------------------- */

/* Text-format parameters for libpq: NUL-terminated copies (an orm_param
 * carries a length and need not be terminated), NULL for SQL NULL. */
struct pg_params {
    const char **values;
    char *buf;
};

static void
params_finish(struct pg_params *pp)
{
    free(pp->values);
    free(pp->buf);
}

static enum usv_err
params_init(struct postgres_conn *pc, struct pg_params *pp, const struct orm_param *params,
            size_t n)
{
    size_t size = 0, off = 0;

    pp->values = NULL;
    pp->buf = NULL;
    if (n == 0)
        return USV_OK;
    for (size_t i = 0; i < n; i++)
        size += params[i].type == ORM_INT64 ? 24 : params[i].len + 1;
    pp->values = xcalloc(n, sizeof(*pp->values));
    pp->buf = xmalloc(size);
    for (size_t i = 0; i < n; i++) {
        const struct orm_param *p = &params[i];
        char *dst = pp->buf + off;

        if (p->is_null)
            continue;
        if (p->type == ORM_INT64) {
            off += (size_t)snprintf(dst, 24, "%" PRId64, p->i) + 1;
        } else {
            /* A text-format value ends at its first NUL: refuse rather than
             * silently store a truncated string (validation forbids U+0000). */
            if (p->len > 0 && memchr(p->s, '\0', p->len) != NULL) {
                orm_conn_error(&pc->base, "bind", "text parameter contains a NUL byte");
                params_finish(pp);
                return USV_INTERNAL;
            }
            if (p->len > 0)
                memcpy(dst, p->s, p->len);
            dst[p->len] = '\0';
            off += p->len + 1;
        }
        pp->values[i] = dst;
    }
    return USV_OK;
}

/* ---- connections ---------------------------------------------------------- */

static void
on_notice(void *arg, const PGresult *r)
{
    struct postgres_conn *pc = arg;
    const char *severity = PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED);

    /* NOTICEs ("relation already exists, skipping") are expected chatter;
     * libpq's default would print them on stderr, outside our log format.
     * One matters: a FATAL that reaches an idle session (libpq reports it
     * as a notice) is the server's goodbye, even before the socket closes. */
    if (severity != NULL && (strcmp(severity, "FATAL") == 0 || strcmp(severity, "PANIC") == 0))
        pc->is_doomed = true;
}

/* PQexec() of @sql bounded by @deadline_ms (monotonic), for the start of a
 * session, which belongs to the wait for a connection (issue 18): a pooler
 * (PgBouncer) lets a client log in at once and then queues its first
 * statement until a server connection frees (query_wait_timeout, 120 s).
 * The last result (or the first error), or NULL when none came in time:
 * the session is then in an unknown state and must be closed. */
static PGresult *
exec_until(struct postgres_conn *pc, const char *sql, uint64_t deadline_ms)
{
    PGresult *r, *keep = NULL;

    if (PQsendQuery(pc->conn, sql) != 1)
        return NULL;
    for (;;) {
        int flushed = PQflush(pc->conn);

        while (flushed == 1 || (flushed == 0 && PQisBusy(pc->conn))) {
            uint64_t now = monotonic_ms();
            struct pollfd pfd = {.fd = PQsocket(pc->conn),
                                 .events = flushed == 1 ? POLLIN | POLLOUT : POLLIN};

            if (now >= deadline_ms || poll(&pfd, 1, (int)(deadline_ms - now)) <= 0 ||
                PQconsumeInput(pc->conn) != 1) {
                PQclear(keep);
                return NULL;
            }
            if (flushed == 1)
                flushed = PQflush(pc->conn);
        }
        if (flushed < 0) {
            PQclear(keep);
            return NULL;
        }
        r = PQgetResult(pc->conn);
        if (r == NULL)
            return keep;
        if (keep != NULL && PQresultStatus(keep) == PGRES_FATAL_ERROR) {
            PQclear(r);                 /* the first error is the one to report */
        } else {
            PQclear(keep);
            keep = r;
        }
    }
}

/* Settings every session needs whatever the server or URL defaults are:
 * UTF-8 text both ways, and timestamps rendered in UTC as ISO 8601 text,
 * the form collect() turns into the canonical one. Within @deadline_ms. */
static enum usv_err
session_setup(struct postgres_conn *pc, uint64_t deadline_ms)
{
    static atomic_bool warned;
    struct orm_result res;
    const char *pid;
    long server_pid = 0;
    enum usv_err rc;

    /* The last statement's result comes back: the server's pid for this
     * session, in the same round trip. */
    PGresult *r = exec_until(pc, "SET client_encoding = 'UTF8'; SET TIME ZONE 'UTC';"
                                 " SET DateStyle = 'ISO, YMD'; SELECT pg_backend_pid()",
                             deadline_ms);

    if (r == NULL && PQstatus(pc->conn) == CONNECTION_OK) {
        orm_conn_error(&pc->base, "session setup", "no answer before the connection's "
                       "deadline (a pooler queueing the session?)");
        pc->base.is_broken = true;
        return USV_UNAVAILABLE;
    }
    orm_result_init(&res, 1);
    rc = finish_result(pc, "session setup", r, &res);
    pid = rc == USV_OK && orm_result_rows(&res) == 1 ? orm_result_cell(&res, 0, 0, NULL) : NULL;
    /* A pooler (PgBouncer, Odyssey, pgcat) gives the client a pid and
     * cancel key of its own: a pid that is not the server's is one between
     * us and PostgreSQL. Its pooling mode cannot be asked from here, and
     * named statements are fine in session mode, so this only warns. */
    if (pid != NULL && !pc->unnamed && parse_long(pid, 1, INT32_MAX, &server_pid) &&
        server_pid != (long)PQbackendPID(pc->conn) && !atomic_exchange(&warned, true))
        log_warn("orm", "a connection pooler sits between usersvc and PostgreSQL (the server "
                 "pid is not the one announced): with PgBouncer in transaction or statement "
                 "mode set DB_PREPARED_STATEMENTS=off");
    orm_result_finish(&res);
    return rc;
}

/* What every connection of a handle is opened with: libpq keywords built
 * once from the parsed DATABASE_URL (pg_configure()). libpq never sees the
 * URL text, so none of its messages can quote it. */
struct pg_config {
    struct url url;                 /* the parsed URL, for url_scrub() */
    const char **keys, **values;    /* NULL-terminated; values point into url/hosts/ports */
    size_t n;
    char *hosts, *ports;            /* "h1,h2", "5432,5433", or NULL */
};

static void
pg_free_config(void *cfg)
{
    struct pg_config *pc = cfg;

    if (pc == NULL)
        return;
    url_finish(&pc->url);
    free(pc->keys);
    free(pc->values);
    free(pc->hosts);
    free(pc->ports);
    free(pc);
}

static void
add_keyword(struct pg_config *pc, const char *key, const char *value)
{
    pc->keys[pc->n] = key;
    pc->values[pc->n++] = value;
}

/* Is @key a connection option this libpq knows? */
static bool
is_libpq_option(const PQconninfoOption *opts, const char *key)
{
    for (const PQconninfoOption *o = opts; o != NULL && o->keyword != NULL; o++) {
        if (strcmp(o->keyword, key) == 0)
            return true;
    }
    return false;
}

/* postgres://user:password@host1:port1,host2:port2/dbname?keyword=value&...
 * becomes libpq keywords as libpq's own URI parser would make them, after
 * our defaults (connect_timeout, application_name), which the URL's own
 * keywords override (later keywords win in PQconnectdbParams()). Query keys
 * must be libpq options: a misspelt "sslmod=require" must not connect in
 * clear text, and is refused here, at start. */
static enum usv_err
pg_configure(const struct url *u, void **cfg, char *err, size_t errlen)
{
    struct pg_config *pc = xcalloc(1, sizeof(*pc));
    PQconninfoOption *opts = PQconndefaults();
    size_t max = 8 + u->n_params;
    bool has_port = false;
    struct strbuf hosts, ports;
    enum usv_err rc = USV_BAD_REQUEST;

    url_copy(&pc->url, u);
    u = &pc->url;
    pc->keys = xcalloc(max, sizeof(*pc->keys));
    pc->values = xcalloc(max, sizeof(*pc->values));
    strbuf_init(&hosts);
    strbuf_init(&ports);
    add_keyword(pc, "connect_timeout", PG_CONNECT_TIMEOUT_S);
    add_keyword(pc, "application_name", "usersvc");
    for (size_t i = 0; i < u->n_hosts; i++) {
        strbuf_addf(&hosts, "%s%s", i > 0 ? "," : "", u->hosts[i].host);
        strbuf_addf(&ports, "%s%u", i > 0 ? "," : "", u->hosts[i].port);
        has_port = has_port || u->hosts[i].has_port;
    }
    if (strbuf_len(&hosts) > 0 && strspn(strbuf_str(&hosts), ",") != strbuf_len(&hosts)) {
        pc->hosts = strbuf_take(&hosts);
        add_keyword(pc, "host", pc->hosts);
    }
    if (has_port) {
        pc->ports = strbuf_take(&ports);
        add_keyword(pc, "port", pc->ports);
    }
    if (u->user != NULL)
        add_keyword(pc, "user", u->user);
    if (u->password != NULL)
        add_keyword(pc, "password", u->password);
    if (u->path != NULL)
        add_keyword(pc, "dbname", u->path);
    for (size_t i = 0; i < u->n_params; i++) {
        const char *key = u->params[i].key;
        bool is_plain = strspn(key, "abcdefghijklmnopqrstuvwxyz_") == strlen(key);

        if (opts != NULL && !is_libpq_option(opts, key)) {
            /* Name the key only when it is plainly a keyword, not a typo'd secret. */
            snprintf(err, errlen, "unknown DATABASE_URL option%s%s%s (see libpq's "
                     "connection parameters)", is_plain && !url_key_is_secret(key) ? " '" : "",
                     is_plain && !url_key_is_secret(key) ? key : "",
                     is_plain && !url_key_is_secret(key) ? "'" : "");
            goto out;
        }
        if (strcmp(key, "dbname") == 0 || strcmp(key, "replication") == 0) {
            /* dbname= could hold a whole connection string of its own. */
            snprintf(err, errlen, "DATABASE_URL option '%s' is not allowed: name the database "
                     "in the path", key);
            goto out;
        }
        add_keyword(pc, key, u->params[i].value);
    }
    pc->keys[pc->n] = NULL;
    pc->values[pc->n] = NULL;
    *cfg = pc;
    pc = NULL;
    rc = USV_OK;
out:
    PQconninfoFree(opts);
    strbuf_finish(&hosts);
    strbuf_finish(&ports);
    pg_free_config(pc);
    return rc;
}

static void pg_close(struct orm_conn *c);

/* Drive a connection attempt libpq started (PQconnectStartParams() or
 * PQresetStart()) to its end, waiting on the socket at most @timeout_ms in
 * all: libpq's own connect_timeout counts whole seconds, at least 2, and
 * does not cover a server that accepts and never answers the start-up. */
static bool
connect_within(PGconn *conn, bool is_reset, unsigned timeout_ms)
{
    uint64_t deadline = monotonic_ms() + timeout_ms;
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;

    for (;;) {
        struct pollfd pfd = {.fd = PQsocket(conn)};
        uint64_t now = monotonic_ms();
        int n;

        if (st == PGRES_POLLING_OK)
            return true;
        if (st == PGRES_POLLING_FAILED || pfd.fd < 0)
            return false;
        if (now >= deadline)
            return false;
        pfd.events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT;
        n = poll(&pfd, 1, (int)(deadline - now));
        if (n == 0)
            return false;
        st = is_reset ? PQresetPoll(conn) : PQconnectPoll(conn);
    }
}

/* Does a refused connection's message say the server is full? SQLSTATE
 * 53300 (too_many_connections), which libpq does not expose for a failed
 * connection, so its messages (servers' lc_messages in English), and
 * PgBouncer's when its own limits are reached (issue 18). */
static bool
is_full_message(const char *msg)
{
    static const char *const full[] = {
        "too many clients already",                  /* max_connections */
        "remaining connection slots are reserved",   /* only reserved slots left */
        "too many connections for",                  /* a role's or database's limit */
        "no more connections allowed",               /* PgBouncer max_client_conn */
    };

    for (size_t i = 0; i < sizeof(full) / sizeof(full[0]); i++) {
        if (strstr(msg, full[i]) != NULL)
            return true;
    }
    return false;
}

/* Keywords every connection gets before the handle's own (pg_config, where
 * the URL's keywords override them: later keywords win): keepalives and the
 * TCP user timeout notice a dead peer on every socket; the options make the
 * server cut a statement, or a wait for a lock, at the statement timeout
 * (migrations lift it, see pg_lock_migrations()). */
#define PG_N_LIMIT_KEYS 6

static enum usv_err
pg_open(const void *cfg, const struct orm_limits *lim, struct orm_conn **out, char *err,
        size_t errlen)
{
    static const struct orm_limits no_limits = {0};
    const struct pg_config *conf = cfg;
    char user_timeout[16], options[96];
    const char **keys = xcalloc(PG_N_LIMIT_KEYS + conf->n + 1, sizeof(*keys));
    const char **values = xcalloc(PG_N_LIMIT_KEYS + conf->n + 1, sizeof(*values));
    const char *const limit_keys[PG_N_LIMIT_KEYS] = {
        "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count",
        "tcp_user_timeout", "options"};
    const char *const limit_values[PG_N_LIMIT_KEYS] = {"1", "5", "1", "3", user_timeout,
                                                       options};
    struct postgres_conn *pc = xcalloc(1, sizeof(*pc));
    enum usv_err rc = USV_UNAVAILABLE;
    unsigned connect_ms;
    uint64_t start_ms;
    char msg[256];

    if (lim == NULL)
        lim = &no_limits;
    snprintf(user_timeout, sizeof(user_timeout), "%u", lim->statement_timeout_ms);
    if (lim->statement_timeout_ms != 0)
        snprintf(options, sizeof(options), "-c statement_timeout=%u -c lock_timeout=%u",
                 lim->statement_timeout_ms, lim->statement_timeout_ms);
    else
        options[0] = '\0';
    for (size_t i = 0; i < PG_N_LIMIT_KEYS; i++) {
        keys[i] = limit_keys[i];
        values[i] = limit_values[i];
    }
    for (size_t i = 0; i < conf->n; i++) {
        keys[PG_N_LIMIT_KEYS + i] = conf->keys[i];
        values[PG_N_LIMIT_KEYS + i] = conf->values[i];
    }
    /* libpq's connect_timeout only applies to its blocking connect; ours
     * polls, so the bound is ours: what the caller has left, else 5 s. */
    connect_ms = lim->connect_timeout_ms != 0 ? lim->connect_timeout_ms : PG_CONNECT_TIMEOUT_MS;
    pc->unnamed = lim->no_prepared_statements;
    pc->reconnect_timeout_ms = lim->statement_timeout_ms != 0 ? lim->statement_timeout_ms
                                                              : PG_CONNECT_TIMEOUT_MS;
    /* expand_dbname 0: a dbname is a name, never a connection string. */
    start_ms = monotonic_ms();
    pc->conn = PQconnectStartParams(keys, values, 0);
    free(keys);
    free(values);
    if (pc->conn != NULL && PQstatus(pc->conn) != CONNECTION_BAD &&
        !connect_within(pc->conn, false, connect_ms) && PQstatus(pc->conn) != CONNECTION_BAD) {
        snprintf(err, errlen, "no answer within %u ms", connect_ms);
        goto out;
    }
    if (pc->conn == NULL) {
        snprintf(err, errlen, "out of memory");
        rc = USV_NOMEM;
        goto out;
    }
    if (PQstatus(pc->conn) != CONNECTION_OK) {
        orm_one_line(msg, sizeof(msg), PQerrorMessage(pc->conn));
        url_scrub(msg, sizeof(msg), &conf->url);
        snprintf(err, errlen, "%s", msg);
        if (is_full_message(msg))
            rc = USV_DB_FULL;
        goto out;
    }
    PQsetNoticeReceiver(pc->conn, on_notice, pc);
    rc = session_setup(pc, start_ms + connect_ms);
    if (rc != USV_OK) {
        snprintf(err, errlen, "%s", pc->base.errmsg);
        goto out;
    }
    *out = &pc->base;
    pc = NULL;
out:
    pg_close(pc != NULL ? &pc->base : NULL);
    return rc;
}

static void
pg_close(struct orm_conn *c)
{
    struct postgres_conn *pc = to_pg(c);

    if (pc == NULL)
        return;
    PQfinish(pc->conn);  /* accepts NULL */
    orm_conn_finish(&pc->base);   /* last: it may free the configuration */
    free(pc);
}

/* Reconnect a connection the server dropped, in place: same PGconn, same
 * settings, a new server session (whose statements the shared layer
 * prepares again on first use). */
static enum usv_err
pg_reconnect(struct orm_conn *c)
{
    struct postgres_conn *pc = to_pg(c);
    enum usv_err rc;

    if (PQresetStart(pc->conn) != 1 ||
        !connect_within(pc->conn, true, pc->reconnect_timeout_ms) ||
        PQstatus(pc->conn) != CONNECTION_OK)
        return fail(pc, "reconnect", NULL);
    pc->base.is_broken = false;
    pc->is_doomed = false;
    rc = session_setup(pc, monotonic_ms() + pc->reconnect_timeout_ms);
    if (rc != USV_OK)
        pc->base.is_broken = true;      /* not UTF-8 or not UTC: never use it */
    return rc;
}

/* Is an idle connection still there, as far as can be told without a round
 * trip? The server sends nothing unasked to an idle session but its goodbye
 * (FATAL "terminating connection", then EOF): anything to read means that,
 * or a harmless ParameterStatus, which PQconsumeInput() absorbs. */
static bool
pg_looks_alive(struct orm_conn *c)
{
    struct postgres_conn *pc = to_pg(c);

    for (int i = 0; i < 4; i++) {
        struct pollfd pfd = {.fd = PQsocket(pc->conn), .events = POLLIN};

        if (PQstatus(pc->conn) != CONNECTION_OK || pfd.fd < 0 || pc->is_doomed)
            return false;
        if (poll(&pfd, 1, 0) <= 0)
            return true;        /* nothing pending (or EINTR: let the statement tell) */
        if (PQconsumeInput(pc->conn) == 0)
            return false;       /* EOF or a socket error */
    }
    return PQstatus(pc->conn) == CONNECTION_OK && !pc->is_doomed;
}

static enum usv_err
pg_ping(struct orm_conn *c)
{
    return exec_simple(to_pg(c), "SELECT 1");
}

/* ---- transactions ------------------------------------------------------- */

static enum usv_err
pg_begin(struct orm_conn *c, enum orm_tx mode)
{
    /* Read sessions declare it: a write slipping into one fails loudly. */
    return exec_simple(to_pg(c), mode == ORM_TX_WRITE ? "BEGIN" : "BEGIN READ ONLY");
}

static enum usv_err
pg_commit(struct orm_conn *c)
{
    struct postgres_conn *pc = to_pg(c);
    PGresult *r = PQexec(pc->conn, "COMMIT");

    /* COMMIT of a transaction that already failed "succeeds" with the tag
     * ROLLBACK: that is not a commit and must not be reported as one. */
    if (r != NULL && PQresultStatus(r) == PGRES_COMMAND_OK &&
        strcmp(PQcmdStatus(r), "ROLLBACK") == 0) {
        PQclear(r);
        orm_conn_error(c, "COMMIT", "the transaction had failed and was rolled back");
        return USV_INTERNAL;
    }
    return finish_result(pc, "COMMIT", r, NULL);
}

static enum usv_err
pg_rollback(struct orm_conn *c)
{
    return exec_simple(to_pg(c), "ROLLBACK");
}

/* ---- statements ----------------------------------------------------------- */

static void
stmt_name(char *buf, unsigned id)
{
    snprintf(buf, PG_STMT_NAME_LEN, "usv_%u", id);
}

/* PQprepare statement @id from its text (the shared layer's) on the
 * current session, in place of the one of that name it may have. */
static enum usv_err
pg_prepare(struct orm_conn *c, unsigned id)
{
    struct postgres_conn *pc = to_pg(c);
    const struct orm_conn_stmt *st = &c->stmts[id];
    char name[PG_STMT_NAME_LEN], what[PG_STMT_NAME_LEN + 8];

    if (pc->unnamed)
        return USV_OK;          /* the text goes with each execution instead */
    stmt_name(name, id);
    snprintf(what, sizeof(what), "prepare %s", name);
    if (st->is_live) {
        char sql[PG_STMT_NAME_LEN + 16];

        snprintf(sql, sizeof(sql), "DEALLOCATE %s", name);
        PQclear(PQexec(pc->conn, sql));     /* fails harmlessly when it is gone */
    }
    /* No parameter types: the server infers them from the statement, and
     * the dialect casts where inference needs help ($n::timestamptz). */
    return finish_result(pc, what, PQprepare(pc->conn, name, st->sql, (int)st->n_params,
                                             NULL), NULL);
}

/* Did executing a prepared statement fail because the statement itself is
 * stale: gone from the server session, or planned against a table whose
 * row type has changed since (a migration while we run)? */
static bool
is_stale_statement(const PGresult *r)
{
    const char *state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *func = r != NULL ? PQresultErrorField(r, PG_DIAG_SOURCE_FUNCTION) : NULL;

    if (is_sqlstate(state, "26000"))
        return true;
    /* "cached plan must not change result type"; the message is localised,
     * the name of the function raising it is not. */
    return is_sqlstate(state, "0A000") && func != NULL &&
           strcmp(func, "RevalidateCachedQuery") == 0;
}

static enum usv_err
pg_execute(struct orm_conn *c, unsigned id, const struct orm_param *params, size_t n,
           struct orm_result *res)
{
    struct postgres_conn *pc = to_pg(c);
    char name[PG_STMT_NAME_LEN], what[PG_STMT_NAME_LEN + 8];
    struct pg_params pp;
    PGresult *r;
    enum usv_err rc;

    stmt_name(name, id);
    snprintf(what, sizeof(what), "execute %s", name);
    rc = params_init(pc, &pp, params, n);
    if (rc != USV_OK)
        return rc;
    if (pc->unnamed)
        r = PQexecParams(pc->conn, c->stmts[id].sql, (int)n, NULL, pp.values, NULL, NULL, 0);
    else
        r = PQexecPrepared(pc->conn, name, (int)n, pp.values, NULL, NULL, 0);
    if (!pc->unnamed && r != NULL && PQresultStatus(r) == PGRES_FATAL_ERROR &&
        is_stale_statement(r) &&
        PQstatus(pc->conn) == CONNECTION_OK) {
        if (PQtransactionStatus(pc->conn) == PQTRANS_IDLE) {
            /* Outside a transaction the failed statement did nothing:
             * plan it afresh and run it again, here. */
            PQclear(r);
            r = NULL;
            rc = pg_prepare(c, id);
            c->stmts[id].is_live = rc == USV_OK;
            if (rc == USV_OK)
                r = PQexecPrepared(pc->conn, name, (int)n, pp.values, NULL, NULL, 0);
        } else {
            /* Inside, the transaction is aborted and refuses the DEALLOCATE
             * that re-preparing needs: retire the connection, and let the
             * session retry on another, which prepares afresh. */
            rc = fail(pc, what, r);
            PQclear(r);
            r = NULL;
            pc->base.is_broken = true;
            if (PQstatus(pc->conn) == CONNECTION_OK)
                rc = USV_RETRY;
        }
    }
    params_finish(&pp);
    if (rc != USV_OK)
        return rc;
    return finish_result(pc, what, r, res);
}

/* Send @items in pipeline mode and read the results in order. The first
 * @n_solo items (reads), or all of them with @sync_each, are followed by a
 * Sync each: each its own implicit transaction, which no other statement's
 * failure touches. The rest (writes) share one Sync: one commit for the
 * lot. Returns the connection's failure, or USV_OK with each item's rc set:
 * a statement the server skipped after another of its group failed (the
 * group rolled back at the Sync) gets USV_RETRY here, meaning "not run". */
static enum usv_err
run_pipeline(struct postgres_conn *pc, struct orm_batch_item *const *items, size_t n,
             const struct pg_params *const *pp, size_t n_solo, bool sync_each)
{
    char name[PG_STMT_NAME_LEN];
    PGresult *r;

    if (PQenterPipelineMode(pc->conn) != 1)
        return fail(pc, "batch", NULL);
    for (size_t i = 0; i < n; i++) {
        int sent;

        stmt_name(name, items[i]->id);
        if (pc->unnamed)
            sent = PQsendQueryParams(pc->conn, pc->base.stmts[items[i]->id].sql,
                                     (int)items[i]->n_params,
                                     NULL, pp[i]->values, NULL, NULL, 0);
        else
            sent = PQsendQueryPrepared(pc->conn, name, (int)items[i]->n_params, pp[i]->values,
                                       NULL, NULL, 0);
        if (sent != 1)
            return fail(pc, "batch send", NULL);
        if ((sync_each || i < n_solo || i == n - 1) && PQpipelineSync(pc->conn) != 1)
            return fail(pc, "batch sync", NULL);
    }
    for (size_t i = 0; i < n; i++) {
        ExecStatusType st;

        r = PQgetResult(pc->conn);
        if (r == NULL)
            return fail(pc, "batch", NULL);
        st = PQresultStatus(r);
        if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
            items[i]->rc = collect(pc, "batch", r, items[i]->res);
        } else if (st == PGRES_PIPELINE_ABORTED) {
            items[i]->rc = USV_RETRY;
        } else {
            items[i]->rc = fail(pc, "batch", r);
            if (PQstatus(pc->conn) != CONNECTION_OK) {
                PQclear(r);
                return USV_UNAVAILABLE;
            }
        }
        PQclear(r);
        r = PQgetResult(pc->conn);      /* NULL: the end of this statement's results */
        if (r != NULL) {
            PQclear(r);
            orm_conn_error(&pc->base, "batch", "unexpected result in pipeline");
            pc->base.is_broken = true;
            return USV_INTERNAL;
        }
        if (!sync_each && i >= n_solo && i != n - 1)
            continue;
        r = PQgetResult(pc->conn);
        if (r == NULL || PQresultStatus(r) != PGRES_PIPELINE_SYNC) {
            enum usv_err rc = fail(pc, "batch sync", r);

            PQclear(r);
            pc->base.is_broken = true;      /* the pipeline is out of step */
            return rc == USV_UNAVAILABLE ? rc : USV_INTERNAL;
        }
        PQclear(r);
    }
    if (PQexitPipelineMode(pc->conn) != 1) {
        orm_conn_error(&pc->base, "batch", PQerrorMessage(pc->conn));
        pc->base.is_broken = true;
        return USV_INTERNAL;
    }
    return USV_OK;
}

/* Start @it's result afresh: what a rolled-back run collected is void. */
static void
reset_result(struct orm_batch_item *it)
{
    orm_result_finish(it->res);
    orm_result_init(it->res, it->res->n_cols);
}

/* The statements of concurrent requests in one pipeline, one send and one
 * wait for the lot. Reads go first, each with a Sync of its own (a
 * read-only transaction commits for free), so no failure elsewhere touches
 * them. Writes follow as one implicit transaction, committed at one Sync,
 * which costs the server a third of what the same writes cost one by one.
 * If a write fails, none of them committed: the failing one keeps its own
 * outcome (a login taken twice within one batch is a 409 for the second
 * request only), and the other writes are sent again, once, as one
 * pipeline with a Sync after each, so no further failure can touch a
 * neighbour: two round trips at most, never a serial re-run; the owners of
 * the statements not sent again are woken before it. A statement
 * that failed for a reason of its own plan (a stale statement after a
 * schema change) runs again alone. Nothing is re-sent after the statement
 * or lock timeout (the time is up for all of them) or after the connection
 * was lost (the outcome of the lot is unknown). */
static void
pg_execute_batch(struct orm_conn *c, struct orm_batch_item *const *items, size_t n)
{
    struct postgres_conn *pc = to_pg(c);
    struct pg_params *pp = xcalloc(n, sizeof(*pp));
    struct orm_batch_item **order = xcalloc(n, sizeof(*order));
    const struct pg_params **opp = xcalloc(n, sizeof(*opp));
    struct orm_batch_item **again = xcalloc(n, sizeof(*again));
    const struct pg_params **again_pp = xcalloc(n, sizeof(*again_pp));
    enum usv_err rc = USV_OK;
    size_t n_pp = 0, n_reads = 0, k = 0, n_again = 0;
    bool writes_failed = false;

    while (n_pp < n &&
           params_init(pc, &pp[n_pp], items[n_pp]->params, items[n_pp]->n_params) == USV_OK)
        n_pp++;
    if (n_pp != n)
        rc = USV_NOMEM;
    for (size_t pass = 0; pass < 2; pass++) {       /* reads first, then writes */
        for (size_t i = 0; i < n; i++) {
            if (items[i]->is_write == (pass == 1)) {
                opp[k] = &pp[i];
                order[k++] = items[i];
            }
        }
        if (pass == 0)
            n_reads = k;
    }
    if (rc == USV_OK)
        rc = run_pipeline(pc, order, n, opp, n_reads, false);
    for (size_t i = n_reads; i < n && rc == USV_OK; i++)
        writes_failed |= order[i]->rc != USV_OK;
    for (size_t i = 0; i < n; i++) {
        struct orm_batch_item *it = order[i];
        bool rolled_back = i >= n_reads && writes_failed;

        if (rc != USV_OK) {
            it->rc = rc;
        } else if (it->rc == USV_INTERNAL && !pc->base.timed_out) {
            reset_result(it);
            it->rc = pg_execute(c, it->id, it->params, it->n_params, it->res);
        } else if (rolled_back && (it->rc == USV_OK || it->rc == USV_RETRY)) {
            if (pc->base.timed_out) {
                it->rc = USV_UNAVAILABLE;       /* the time is up for all of them */
                continue;
            }
            reset_result(it);
            again_pp[n_again] = opp[i];
            again[n_again++] = it;
        }
    }
    if (n_again > 0 && !c->is_broken) {
        /* The others are done: their owners need not wait for this. */
        for (size_t i = 0; i < n; i++) {
            bool resent = false;

            for (size_t j = 0; j < n_again && !resent; j++)
                resent = again[j] == order[i];
            if (!resent)
                orm_batch_item_done(order[i]);
        }
        rc = run_pipeline(pc, again, n_again, again_pp, 0, true);
        for (size_t i = 0; i < n_again && rc != USV_OK; i++)
            again[i]->rc = rc;
    } else {
        for (size_t i = 0; i < n_again; i++)
            again[i]->rc = USV_UNAVAILABLE;
    }
    for (size_t i = 0; i < n_pp; i++)
        params_finish(&pp[i]);
    free(pp);
    free(opp);
    free(order);
    free(again);
    free(again_pp);
}

static enum usv_err
pg_query(struct orm_conn *c, const char *sql, const struct orm_param *params, size_t n,
         struct orm_result *res)
{
    struct postgres_conn *pc = to_pg(c);
    struct pg_params pp;
    PGresult *r;
    enum usv_err rc = params_init(pc, &pp, params, n);

    if (rc != USV_OK)
        return rc;
    r = PQexecParams(pc->conn, sql, (int)n, NULL, pp.values, NULL, NULL, 0);
    params_finish(&pp);
    return finish_result(pc, "query", r, res);
}

/* ---- migrations ------------------------------------------------------------ */

static void
pg_unlock_migrations(struct orm_conn *c)
{
    struct postgres_conn *pc = to_pg(c);

    /* Errors are moot: a connection that cannot run this has lost its
     * session, and the lock with it. */
    exec_simple(pc, "SELECT pg_advisory_unlock(" PG_MIGRATION_LOCK_KEY ")");
    exec_simple(pc, "RESET statement_timeout");
}

static enum usv_err
pg_lock_migrations(struct orm_conn *c, unsigned timeout_ms)
{
    struct postgres_conn *pc = to_pg(c);
    struct orm_result res;
    char sql[64];
    enum usv_err rc;

    /* Migrations are not bound by the statement timeout. They keep the
     * session's lock timeout (the statement timeout unless the URL says
     * otherwise): DDL waiting for a lock queues live requests behind it. */
    rc = exec_simple(pc, "SET statement_timeout = 0");
    if (rc != USV_OK)
        return rc;
    if (timeout_ms == 0) {
        /* lock_timeout = 0 would mean "wait forever": try once instead. */
        orm_result_init(&res, 1);
        rc = finish_result(pc, "lock", PQexec(pc->conn, "SELECT pg_try_advisory_lock("
                                              PG_MIGRATION_LOCK_KEY ")"), &res);
        if (rc == USV_OK && (orm_result_rows(&res) != 1 ||
                             strcmp(orm_result_cell(&res, 0, 0, NULL), "t") != 0)) {
            orm_conn_error(c, "lock", "another migration run holds the lock");
            rc = USV_UNAVAILABLE;
        }
        orm_result_finish(&res);
        if (rc != USV_OK)
            exec_simple(pc, "RESET statement_timeout");
        return rc;
    }
    /* A session-level lock (a run spans several transactions), queued for
     * in the server's lock manager and bounded by lock_timeout, so the
     * waiter gets it the moment the holder lets go. */
    snprintf(sql, sizeof(sql), "SET lock_timeout = %u", timeout_ms);
    rc = exec_simple(pc, sql);
    if (rc != USV_OK)
        return rc;
    rc = exec_simple(pc, "SELECT pg_advisory_lock(" PG_MIGRATION_LOCK_KEY ")");
    if (c->is_broken)
        return rc;              /* the session, and any lock, are gone */
    if (rc == USV_UNAVAILABLE)
        orm_conn_error(c, "lock", "timed out waiting for another migration run");
    /* Back to the session's own default, which the URL may have set. */
    if (exec_simple(pc, "RESET lock_timeout") != USV_OK && rc == USV_OK) {
        /* The caller will not unlock after a failure: do not keep it. */
        pg_unlock_migrations(c);
        rc = USV_INTERNAL;
    }
    if (rc != USV_OK && !c->is_broken)
        exec_simple(pc, "RESET statement_timeout");
    return rc;
}

static int
pg_socket(struct orm_conn *c)
{
    return PQsocket(to_pg(c)->conn);
}

/* ---- dialect ------------------------------------------------------------------ */

static void
pg_placeholder(struct strbuf *b, unsigned n, enum orm_type type)
{
    /* Canonical timestamp text converts to timestamptz exactly (microseconds). */
    strbuf_addf(b, "$%u%s", n, type == ORM_TIMESTAMP ? "::timestamptz" : "");
}

static void
pg_select_column(struct strbuf *b, const struct orm_column *c)
{
    /* Timestamps too: collect() rewrites the server's ISO text into the
     * canonical form, which costs the server less than to_char() (2-3 µs
     * of its CPU per row, measured). */
    strbuf_adds(b, c->name);
}

static void
pg_equals(struct strbuf *b, const struct orm_column *c, unsigned n)
{
    if (c->flags & ORM_NOCASE) {
        /* ASCII case folding whatever the database's locale (a Turkish
         * LC_CTYPE folds 'I' to dotless i); the expression matches the
         * users_login_lower_key index, so lookups use it. */
        strbuf_addf(b, "lower(%s COLLATE \"C\") = lower($%u COLLATE \"C\")", c->name, n);
    } else {
        strbuf_addf(b, "%s = ", c->name);
        pg_placeholder(b, n, c->type);
    }
}

/* ---- migrations per transaction (issue 18) -----------------------------
 * The migration lock as a transaction-level advisory lock: commit or
 * rollback releases it, so it can never stay behind on a server connection
 * that a pooler (PgBouncer in transaction mode) hands to someone else, and
 * every SET here is LOCAL to the transaction for the same reason. */

static enum usv_err
pg_lock_migration_tx(struct orm_conn *c, unsigned lock_wait_ms, unsigned ddl_lock_ms)
{
    struct postgres_conn *pc = to_pg(c);
    char sql[96];
    enum usv_err rc;

    /* lock_timeout = 0 means "wait forever": never ask for that. */
    snprintf(sql, sizeof(sql), "SET LOCAL statement_timeout = 0; SET LOCAL lock_timeout = %u",
             lock_wait_ms > 0 ? lock_wait_ms : 1);
    rc = exec_simple(pc, sql);
    if (rc == USV_OK) {
        rc = exec_simple(pc, "SELECT pg_advisory_xact_lock(" PG_MIGRATION_LOCK_KEY ")");
        if (rc == USV_UNAVAILABLE && !c->is_broken)
            orm_conn_error(c, "lock", "timed out waiting for another migration run");
    }
    if (rc == USV_OK) {
        snprintf(sql, sizeof(sql), "SET LOCAL lock_timeout = %u", ddl_lock_ms > 0 ? ddl_lock_ms : 1);
        rc = exec_simple(pc, sql);
    }
    return rc;
}

const struct orm_backend orm_backend_pg = {
    .name = "postgres",
    /* Well under max_connections (default 100) even with a few instances. */
    .default_pool_size = 16,
    .has_transactional_ddl = true,
    .has_returning = true,
    .accepts = pg_accepts,
    .configure = pg_configure,
    .free_config = pg_free_config,
    .open = pg_open,
    .socket = pg_socket,
    .close = pg_close,
    .ping = pg_ping,
    .looks_alive = pg_looks_alive,
    .reconnect = pg_reconnect,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .prepare = pg_prepare,
    .execute = pg_execute,
    .execute_batch = pg_execute_batch,
    .batching = ORM_BATCH_ALL,
    .query = pg_query,
    .lock_migrations = pg_lock_migrations,
    .unlock_migrations = pg_unlock_migrations,
    .lock_migration_tx = pg_lock_migration_tx,
    .placeholder = pg_placeholder,
    .select_column = pg_select_column,
    .equals = pg_equals,
    .lock_suffix = " FOR UPDATE",
};
