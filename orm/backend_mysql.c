/* SPDX-License-Identifier: MIT
 * backend_mysql.c - MySQL and MariaDB through MariaDB Connector/C (libmariadb).
 *
 * DATABASE_URL is mysql://user:pass@host:port/db?options (or mariadb://),
 * parsed once by orm/url.c; my_configure() checks the options (listed at
 * config_parse()) once per handle, and every connection borrows the result.
 * Every
 * pooled connection is configured the same way right after connecting:
 * utf8mb4 end to end, UTC, strict SQL mode (the server errs instead of
 * silently truncating) and READ COMMITTED (no gap locks for our single-row
 * operations). Statements are prepared once per connection (mysql_stmt_*)
 * and every result column is fetched as text, the server doing the
 * conversion, so rows look the same as on the other backends -- except
 * DATETIME/TIMESTAMP columns: they arrive as a binary MYSQL_TIME and are
 * written as the canonical "2026-11-21T08:00:00.123456Z" here, which costs
 * the server nothing (DATE_FORMAT in the SQL did) and the client no printf.
 * On MariaDB 10.5+ a connection says has_returning, and the ORM creates a
 * row with one INSERT ... RETURNING instead of INSERT then SELECT.
 * Concurrent finds by key are batched into one SELECT ... WHERE id IN (...),
 * and on MariaDB 10.5+ concurrent inserts of a model into one multi-row
 * INSERT ... VALUES (...), (...) RETURNING, one autocommit statement, rows
 * one by one again if it fails so a duplicate fails only its own request
 * (my_execute_batch()); everything else runs on a connection of its own,
 * inserts too where the server has no RETURNING (MySQL).
 *
 * No MYSQL_OPT_RECONNECT: it reconnects in the middle of anything and
 * silently drops session settings, prepared statements and locks. Instead
 * a connection the server dropped while it sat idle in the pool -- restart,
 * KILL, idle timeout -- is noticed without a round trip (my_looks_alive():
 * the only thing a server ever sends unasked is its goodbye) and
 * reconnected in place with the same settings (my_reconnect()), when the
 * shared layer's policy says so (orm_conn_ensure_session(): outside a
 * transaction and the migration lock); the shared layer keeps the
 * statements' texts and prepares them again, lazily.
 *
 * Timeouts: connect 5 s, read/write 30 s, lock waits 10 s (InnoDB rows and
 * metadata locks; at most half the read timeout), so a lock wait ends in
 * ER_LOCK_WAIT_TIMEOUT (retried by the session) rather than in a read
 * timeout that kills the connection. A migration rewriting a big table may
 * need ?read-timeout=SECONDS.
 * Thread-safety: mysql_library_init() runs once under pthread_once(); after
 * that Connector/C 3.x needs no per-thread setup (mysql_thread_init is
 * implicit and deprecated), and each connection is used by one thread. */
#include <assert.h>
#include <errno.h>
#include <mysql.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "orm/batch.h"
#include "orm/orm_int.h"
#include "orm/url.h"
#include "base/util.h"

#ifndef MARIADB_PACKAGE_VERSION_ID
#error "backend_mysql.c needs MariaDB Connector/C 3.x (libmariadb-dev): it uses my_bool, \
mysql_optionsv and MYSQL_OPT_SSL_ENFORCE, which Oracle's libmysqlclient lacks"
#endif

/* Tests only (orm_int.h): connections opened while it is true say they
 * have no RETURNING. */
bool orm_mysql_test_no_returning = false;

#define BE_CONNECT_TIMEOUT_S 5
#define BE_RW_TIMEOUT_S 30
#define BE_LOCK_WAIT_S 10          /* innodb_lock_wait_timeout and lock_wait_timeout */
#define BE_MAX_TIMEOUT_S 86400
#define BE_COL_MIN_CAP 32          /* first buffer size of a result column, bytes */
#define BE_COL_MAX_CAP 4096        /* ... capped: longer values grow the buffer */

/* One advisory lock per database (not per server), so migrations of two
 * databases on one server never wait for each other. Names are at most 64
 * characters: 16 + 40 hex digits. */
#define MIGRATION_LOCK_NAME "CONCAT('usersvc_migrate_', SHA1(COALESCE(DATABASE(), '')))"

enum tls_mode {
    TLS_DEFAULT,    /* the library's default (Connector/C 3.3: TLS only if ssl-* files given) */
    TLS_DISABLED,
    TLS_REQUIRED,   /* encrypted, server certificate not checked */
    TLS_VERIFY,     /* encrypted, certificate chain and host name checked */
};

/* What a DATABASE_URL says, kept for reconnecting. */
struct conn_config {
    struct url url;                /* parsed; owns every string below */
    const char *socket;            /* ?socket=, or NULL */
    const char *ssl_ca, *ssl_capath, *ssl_cert, *ssl_key;
    enum tls_mode tls;
    unsigned connect_timeout_s, read_timeout_s, write_timeout_s;
};

/* A result column fetched as text into a buffer that grows as needed, or
 * (is_datetime) as a MYSQL_TIME that becomes canonical text in buf. */
struct out_col {
    char *buf;
    unsigned long cap, len;
    my_bool is_null, is_truncated;
    bool is_datetime;
    MYSQL_TIME tm;
};

struct my_stmt {
    MYSQL_STMT *st;                /* NULL: not prepared on the current session */
    size_t n_cols;                 /* result columns bound (see bind_columns()) */
    MYSQL_BIND *out;               /* n_cols result bindings, pointing into cols */
    struct out_col *cols;
};

/* Scratch space for binding one statement's parameters. */
struct param_aux {
    long long i;
    unsigned long len;
    my_bool is_null;
};

struct mysql_conn {
    struct orm_conn base;              /* first: the ORM sees only this */
    MYSQL *db;
    struct conn_config cfg;
    bool is_mariadb;                   /* has max_statement_time */
    unsigned connect_errno;            /* the server's code when a connect failed */
    struct orm_limits lim;             /* the bounds of open(); a reconnect's connect is
                                        * bounded by the statement timeout */
    struct my_stmt *stmts;             /* driver handles by statement id, n_stmts long;
                                        * st NULL: not prepared on this session */
    size_t n_stmts;
    MYSQL_BIND *pbind;                 /* parameter bindings, cap_params long */
    struct param_aux *paux;
    size_t cap_params;
};

static pthread_once_t library_once = PTHREAD_ONCE_INIT;
static bool library_ok;               /* written once, inside library_once */

static void
library_init_once(void)
{
    library_ok = mysql_library_init(0, NULL, NULL) == 0;
}

static struct mysql_conn *
to_mysql(struct orm_conn *c)
{
    return (struct mysql_conn *)c;
}

/* MYSQL_BIND.buffer is not const, but the library only reads input parameters. */
static void *
unconst(const void *p)
{
    return (void *)(uintptr_t)p;
}

static bool
my_accepts(const char *scheme)
{
    return strcmp(scheme, "mysql") == 0 || strcmp(scheme, "mariadb") == 0;
}

/* ---- errors --------------------------------------------------------- */

/* The ORM's meaning of a server (1xxx-4xxx) or client (2xxx, 5xxx) error
 * code. Numbers, not ER_* names: the names differ between MySQL and MariaDB
 * headers, the numbers on the wire do not. */
static enum usv_err
classify(unsigned code, bool *is_broken)
{
    *is_broken = false;
    switch (code) {
    case 1062:  /* ER_DUP_ENTRY */
    case 1586:  /* ER_DUP_ENTRY_WITH_KEY_NAME */
    case 1022:  /* ER_DUP_KEY */
        return USV_CONFLICT;
    case 1213:  /* ER_LOCK_DEADLOCK: the server rolled the transaction back */
    case 1205:  /* ER_LOCK_WAIT_TIMEOUT */
    case 1615:  /* ER_NEED_REPREPARE: a table changed under the statement */
        return USV_RETRY;
    case 2002:  /* CR_CONNECTION_ERROR (socket) */
    case 2003:  /* CR_CONN_HOST_ERROR */
    case 2005:  /* CR_UNKNOWN_HOST */
    case 2006:  /* CR_SERVER_GONE_ERROR */
    case 2013:  /* CR_SERVER_LOST */
    case 2026:  /* CR_SSL_CONNECTION_ERROR */
    case 2055:  /* CR_SERVER_LOST_EXTENDED */
    case 5013:  /* CR_ERR_NET_READ */
    case 5014:  /* CR_ERR_NET_WRITE */
    case 1040:  /* ER_CON_COUNT_ERROR */
    case 1053:  /* ER_SERVER_SHUTDOWN */
    case 1152:  /* ER_ABORTING_CONNECTION */
    case 1158:  /* ER_NET_READ_ERROR */
    case 1159:  /* ER_NET_READ_INTERRUPTED */
    case 1160:  /* ER_NET_ERROR_ON_WRITE */
    case 1161:  /* ER_NET_WRITE_INTERRUPTED */
    case 1927:  /* ER_CONNECTION_KILLED (MariaDB) */
    case 4031:  /* ER_CLIENT_INTERACTION_TIMEOUT (MySQL 8: idle session closed) */
    case 1290:  /* ER_OPTION_PREVENTS_STATEMENT: --read-only, e.g. during a failover */
    case 1836:  /* ER_READ_ONLY_MODE */
    case 1047:  /* ER_UNKNOWN_COM_ERROR: a Galera node outside the primary component */
    case 1180:  /* ER_ERROR_DURING_COMMIT: Galera certification/commit refused */
        /* Reconnecting is the only way forward (and reaches the new primary
         * behind a proxy after a failover). */
        *is_broken = true;
        return USV_UNAVAILABLE;
    default:
        /* Any other client-side error leaves the protocol state unknown. */
        if ((code >= 2000 && code < 3000) || (code >= 5000 && code < 6000))
            *is_broken = true;
        return USV_INTERNAL;
    }
}

/* Record "@what: [code] message" and map @code. */
static enum usv_err
fail_code(struct mysql_conn *mc, const char *what, unsigned code, const char *msg)
{
    char text[sizeof(mc->base.errmsg)];
    bool is_broken;
    enum usv_err rc = classify(code, &is_broken);

    snprintf(text, sizeof(text), "[%u] %s", code, msg != NULL ? msg : "(no message)");
    orm_conn_error(&mc->base, what, text);
    if (is_broken)
        mc->base.is_broken = true;
    /* The server's own bounds: a lock wait, a statement running too long
     * (MariaDB max_statement_time, MySQL max_execution_time). */
    if (code == 1205 || code == 1969 || code == 3024) {
        mc->base.timed_out = true;
        if (code != 1205)
            rc = USV_UNAVAILABLE;
    }
    return rc;
}

static enum usv_err
fail_db(struct mysql_conn *mc, const char *what)
{
    return fail_code(mc, what, mysql_errno(mc->db), mysql_error(mc->db));
}

static enum usv_err
fail_stmt(struct mysql_conn *mc, MYSQL_STMT *st, const char *what)
{
    return fail_code(mc, what, mysql_stmt_errno(st), mysql_stmt_error(st));
}

/* A failed mysql_stmt_fetch(). An error the server sends instead of a row
 * (a duplicate key of INSERT ... RETURNING arrives that way: the insert
 * runs as the rows are read) is recorded by Connector/C 3.3 on the
 * connection, not on the statement, whose errno stays 0. */
static enum usv_err
fail_fetch(struct mysql_conn *mc, MYSQL_STMT *st)
{
    if (mysql_stmt_errno(st) == 0 && mysql_errno(mc->db) != 0)
        return fail_db(mc, "fetch");
    return fail_stmt(mc, st, "fetch");
}

/* An error of ours, not the driver's. */
static enum usv_err
fail_internal(struct mysql_conn *mc, const char *what, const char *msg)
{
    orm_conn_error(&mc->base, what, msg);
    return USV_INTERNAL;
}

/* ---- configuration -------------------------------------------------- */

/* Option names compare with '-' and '_' alike, as in MySQL option files. */
static bool
option_is(const char *key, const char *name)
{
    for (; *key != '\0' && *name != '\0'; key++, name++) {
        char k = *key == '_' ? '-' : *key;

        if (k != *name)
            return false;
    }
    return *key == '\0' && *name == '\0';
}

/* Something that looks like an option name can be echoed in an error; other
 * text might be a piece of a mistyped password. */
static bool
is_plain_name(const char *s)
{
    size_t n = 0;

    for (; *s != '\0'; s++, n++) {
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
            return false;
    }
    return n > 0 && n <= 32;
}

static bool
parse_timeout(const char *value, const char *name, unsigned *out, char *err, size_t errlen)
{
    long v;

    if (!parse_long(value, 1, BE_MAX_TIMEOUT_S, &v)) {
        snprintf(err, errlen, "DATABASE_URL option %s must be a number of seconds from 1 to %d",
                 name, BE_MAX_TIMEOUT_S);
        return false;
    }
    *out = (unsigned)v;
    return true;
}

static bool
parse_tls_mode(const char *value, enum tls_mode *out, char *err, size_t errlen)
{
    static const struct {
        const char *name;
        enum tls_mode mode;
    } modes[] = {
        {"DISABLED", TLS_DISABLED},
        {"PREFERRED", TLS_DEFAULT},
        {"REQUIRED", TLS_REQUIRED},
        /* Connector/C checks the chain and the host name together. */
        {"VERIFY_CA", TLS_VERIFY},
        {"VERIFY_IDENTITY", TLS_VERIFY},
    };

    for (size_t i = 0; i < ARRAY_SIZE(modes); i++) {
        if (strcasecmp(value, modes[i].name) == 0) {
            *out = modes[i].mode;
            return true;
        }
    }
    snprintf(err, errlen, "DATABASE_URL option ssl-mode must be DISABLED, PREFERRED, REQUIRED, "
                          "VERIFY_CA or VERIFY_IDENTITY");
    return false;
}

/* Parse @text into @cfg. Options (query parameters; '_' may stand for '-'):
 *   socket=PATH            connect through this Unix socket (host empty or localhost)
 *   ssl-mode=MODE          DISABLED, PREFERRED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY
 *   ssl-ca=, ssl-capath=, ssl-cert=, ssl-key=   TLS files
 *   connect-timeout=, read-timeout=, write-timeout=   seconds
 * Unknown options are errors: a mistyped "ssl_mod=REQUIRED" must not quietly
 * connect in clear text. */
static bool
config_parse(const struct url *parsed, struct conn_config *cfg, char *err, size_t errlen)
{
    struct url *u = &cfg->url;
    bool has_tls_files;

    memset(cfg, 0, sizeof(*cfg));
    cfg->connect_timeout_s = BE_CONNECT_TIMEOUT_S;
    cfg->read_timeout_s = BE_RW_TIMEOUT_S;
    cfg->write_timeout_s = BE_RW_TIMEOUT_S;
    url_copy(u, parsed);
    if (u->n_hosts > 1) {
        snprintf(err, errlen, "bad DATABASE_URL: MySQL takes one host, not a list");
        goto fail;
    }
    if (u->path != NULL && strchr(u->path, '/') != NULL) {
        snprintf(err, errlen, "bad DATABASE_URL: the path must be one database name");
        goto fail;
    }
    for (size_t i = 0; i < u->n_params; i++) {
        const char *key = u->params[i].key, *value = u->params[i].value;
        bool ok = true;

        if (option_is(key, "socket"))
            cfg->socket = value;
        else if (option_is(key, "ssl-mode"))
            ok = parse_tls_mode(value, &cfg->tls, err, errlen);
        else if (option_is(key, "ssl-ca"))
            cfg->ssl_ca = value;
        else if (option_is(key, "ssl-capath"))
            cfg->ssl_capath = value;
        else if (option_is(key, "ssl-cert"))
            cfg->ssl_cert = value;
        else if (option_is(key, "ssl-key"))
            cfg->ssl_key = value;
        else if (option_is(key, "connect-timeout"))
            ok = parse_timeout(value, "connect-timeout", &cfg->connect_timeout_s, err, errlen);
        else if (option_is(key, "read-timeout"))
            ok = parse_timeout(value, "read-timeout", &cfg->read_timeout_s, err, errlen);
        else if (option_is(key, "write-timeout"))
            ok = parse_timeout(value, "write-timeout", &cfg->write_timeout_s, err, errlen);
        else {
            snprintf(err, errlen, "unknown DATABASE_URL option%s%s%s (known: socket, ssl-mode, "
                     "ssl-ca, ssl-capath, ssl-cert, ssl-key, connect-timeout, read-timeout, "
                     "write-timeout)", is_plain_name(key) ? " '" : "",
                     is_plain_name(key) ? key : "", is_plain_name(key) ? "'" : "");
            ok = false;
        }
        if (!ok)
            goto fail;
    }
    has_tls_files = cfg->ssl_ca != NULL || cfg->ssl_capath != NULL || cfg->ssl_cert != NULL ||
                    cfg->ssl_key != NULL;
    if (cfg->tls == TLS_DISABLED && has_tls_files) {
        snprintf(err, errlen,
                 "DATABASE_URL: ssl-mode=DISABLED contradicts the ssl-* file options");
        goto fail;
    }
    if (cfg->socket != NULL && u->host[0] != '\0' && strcmp(u->host, "localhost") != 0) {
        snprintf(err, errlen, "DATABASE_URL: socket= needs an empty host or localhost");
        goto fail;
    }
    return true;
fail:
    url_finish(u);
    memset(cfg, 0, sizeof(*cfg));
    return false;
}

static void
config_finish(struct conn_config *cfg)
{
    url_finish(&cfg->url);
    memset(cfg, 0, sizeof(*cfg));
}

/* Once per handle: every connection of the pool borrows this. */
static enum usv_err
my_configure(const struct url *u, void **cfg, char *err, size_t errlen)
{
    struct conn_config *c = xcalloc(1, sizeof(*c));

    if (!config_parse(u, c, err, errlen)) {
        free(c);
        return USV_BAD_REQUEST;
    }
    *cfg = c;
    return USV_OK;
}

static void
my_free_config(void *cfg)
{
    if (cfg == NULL)
        return;
    config_finish(cfg);
    free(cfg);
}

/* ---- statements ----------------------------------------------------- */

/* Free the result bindings of @s (not the statement). */
static void
columns_finish(struct my_stmt *s)
{
    for (size_t i = 0; i < s->n_cols; i++)
        free(s->cols[i].buf);
    free(s->cols);
    free(s->out);
    s->cols = NULL;
    s->out = NULL;
    s->n_cols = 0;
}

static void
stmt_finish(struct my_stmt *s)
{
    if (s->st != NULL)
        mysql_stmt_close(s->st);
    columns_finish(s);
    memset(s, 0, sizeof(*s));
}

static bool
is_datetime_type(enum enum_field_types type)
{
    return type == MYSQL_TYPE_DATETIME || type == MYSQL_TYPE_TIMESTAMP;
}

/* Bind one result buffer per column of the result @s->st has now: text in
 * a buffer sized from the column's declared length (grown later if a value
 * is longer), or a MYSQL_TIME for DATETIME/TIMESTAMP (which MariaDB and
 * MySQL never send as text through the binary protocol anyway: binding
 * them as text would only have Connector/C sprintf() them). */
static enum usv_err
bind_columns(struct mysql_conn *mc, struct my_stmt *s)
{
    size_t n = mysql_stmt_field_count(s->st);
    MYSQL_RES *meta;

    columns_finish(s);
    if (n == 0)
        return USV_OK;
    meta = mysql_stmt_result_metadata(s->st);
    if (meta == NULL)
        return fail_stmt(mc, s->st, "result metadata");
    s->out = xcalloc(n, sizeof(*s->out));
    s->cols = xcalloc(n, sizeof(*s->cols));
    s->n_cols = n;
    for (size_t i = 0; i < n; i++) {
        const MYSQL_FIELD *f = mysql_fetch_field_direct(meta, (unsigned)i);
        unsigned long cap = f->length;
        struct out_col *col = &s->cols[i];
        MYSQL_BIND *b = &s->out[i];

        cap = cap < BE_COL_MIN_CAP ? BE_COL_MIN_CAP : cap > BE_COL_MAX_CAP ? BE_COL_MAX_CAP : cap;
        col->cap = cap;
        col->buf = xmalloc(cap + 1);
        col->is_datetime = is_datetime_type(f->type);
        if (col->is_datetime) {
            /* buf (>= BE_COL_MIN_CAP) then receives the canonical text. */
            b->buffer_type = MYSQL_TYPE_DATETIME;
            b->buffer = &col->tm;
            b->buffer_length = sizeof(col->tm);
        } else {
            /* Text for every other type: the server formats numbers. */
            b->buffer_type = MYSQL_TYPE_STRING;
            b->buffer = col->buf;
            b->buffer_length = cap;
        }
        b->length = &col->len;
        b->is_null = &col->is_null;
        b->error = &col->is_truncated;
    }
    mysql_free_result(meta);
    return USV_OK;
}

/* Prepare @sql into @s, with its result columns bound if the server
 * announced them (it does not for INSERT ... RETURNING: see stmt_run()). */
static enum usv_err
stmt_prepare(struct mysql_conn *mc, struct my_stmt *s, const char *sql)
{
    enum usv_err rc = USV_OK;

    memset(s, 0, sizeof(*s));
    s->st = mysql_stmt_init(mc->db);
    if (s->st == NULL) {
        rc = fail_db(mc, "prepare");
        goto out;
    }
    if (mysql_stmt_prepare(s->st, sql, strlen(sql)) != 0) {
        rc = fail_stmt(mc, s->st, "prepare");
        goto out;
    }
    rc = bind_columns(mc, s);
out:
    if (rc != USV_OK)
        stmt_finish(s);
    return rc;
}

/* ---- timestamps ----------------------------------------------------- */

/* "2026-11-21T08:00:00.123456Z": the service's text of a moment, six
 * fractional digits always (base/util.c utc_stamp()). */
#define STAMP_LEN 27

/* Write the canonical text of @t (UTC: the session's time zone) to @out
 * (orm_stamp_format(), the shared layer's). False for a value that has no
 * such text (out of range), which a DATETIME column cannot hold. A zero
 * date, which strict mode keeps out, would come out as
 * "0000-00-00T00:00:00.000000Z". time_type is not checked: the protocol
 * sends a midnight without fraction as a bare date (MYSQL_TIMESTAMP_DATE,
 * time fields zero). */
static bool
format_stamp(const MYSQL_TIME *t, char *out)
{
    struct orm_stamp st = {
        .year = t->year, .month = t->month, .day = t->day, .hour = t->hour,
        .minute = t->minute, .second = t->second, .usec = t->second_part,
    };

    return !t->neg && orm_stamp_format(&st, out);
}

/* Parse the server's text of a DATETIME, "YYYY-MM-DD HH:MM:SS" plus "."
 * and 1-6 fractional digits when the column has them (the text protocol). */
static bool
parse_stamp(const char *s, size_t len, MYSQL_TIME *t)
{
    struct orm_stamp st;
    size_t used;

    memset(t, 0, sizeof(*t));
    if (!orm_stamp_parse(s, len, &st, &used) || used != len || s[10] != ' ')
        return false;
    t->year = st.year;
    t->month = st.month;
    t->day = st.day;
    t->hour = st.hour;
    t->minute = st.minute;
    t->second = st.second;
    t->second_part = st.usec;
    t->time_type = MYSQL_TIMESTAMP_DATETIME;
    return true;
}

static void
bind_params(struct mysql_conn *mc, const struct orm_param *params, size_t n)
{
    if (n > mc->cap_params) {
        mc->pbind = xrealloc(mc->pbind, n * sizeof(*mc->pbind));
        mc->paux = xrealloc(mc->paux, n * sizeof(*mc->paux));
        mc->cap_params = n;
    }
    memset(mc->pbind, 0, n * sizeof(*mc->pbind));
    for (size_t i = 0; i < n; i++) {
        const struct orm_param *p = &params[i];
        struct param_aux *a = &mc->paux[i];
        MYSQL_BIND *b = &mc->pbind[i];

        a->is_null = p->is_null;
        b->is_null = &a->is_null;
        if (p->type == ORM_INT64) {
            a->i = p->i;
            b->buffer_type = MYSQL_TYPE_LONGLONG;
            b->buffer = &a->i;
        } else {
            /* Text and timestamps (canonical text the SQL converts with STR_TO_DATE). */
            a->len = p->is_null ? 0 : (unsigned long)p->len;
            b->buffer_type = MYSQL_TYPE_STRING;
            b->buffer = unconst(p->s);
            b->buffer_length = a->len;
            b->length = &a->len;
        }
    }
}

/* Append the cells of the row just fetched into @s's buffers to @res. */
static enum usv_err
push_row(struct mysql_conn *mc, struct my_stmt *s, struct orm_result *res)
{
    for (size_t i = 0; i < s->n_cols; i++) {
        struct out_col *col = &s->cols[i];

        if (col->is_null) {
            orm_result_push_null(res);
        } else if (!col->is_datetime) {
            orm_result_push(res, col->buf, col->len);
        } else {
            if (!format_stamp(&col->tm, col->buf))
                return fail_internal(mc, "fetch", "a DATETIME value out of range");
            orm_result_push(res, col->buf, STAMP_LEN);
        }
    }
    return USV_OK;
}

/* Fetch every row of @s's result into @res (may be NULL: the rows are read
 * and dropped, which the protocol requires anyway). */
static enum usv_err
fetch_rows(struct mysql_conn *mc, struct my_stmt *s, struct orm_result *res, uint64_t *rows)
{
    MYSQL_STMT *st = s->st;
    enum usv_err rc;

    *rows = 0;
    if (res != NULL && res->n_cols != s->n_cols)
        return fail_internal(mc, "fetch", "the statement returns another number of columns "
                                          "than the caller reads");
    if (mysql_stmt_bind_result(st, s->out) != 0)
        return fail_stmt(mc, st, "bind result");
    for (;;) {
        bool did_grow = false;
        int r = mysql_stmt_fetch(st);

        if (r == MYSQL_NO_DATA)
            break;
        if (r != 0 && r != MYSQL_DATA_TRUNCATED)
            return fail_fetch(mc, st);
        for (size_t i = 0; i < s->n_cols; i++) {
            struct out_col *col = &s->cols[i];

            /* A MYSQL_TIME is never truncated; its length is sizeof(MYSQL_TIME). */
            if (col->is_null || col->is_datetime || col->len <= col->cap)
                continue;
            /* The value was longer than the buffer: grow it and read the column again. */
            col->cap = col->len;
            col->buf = xrealloc(col->buf, col->cap + 1);
            s->out[i].buffer = col->buf;
            s->out[i].buffer_length = col->cap;
            if (mysql_stmt_fetch_column(st, &s->out[i], (unsigned)i, 0) != 0)
                return fail_stmt(mc, st, "fetch column");
            did_grow = true;
        }
        /* Later rows go straight into the bigger buffers. */
        if (did_grow && mysql_stmt_bind_result(st, s->out) != 0)
            return fail_stmt(mc, st, "bind result");
        (*rows)++;
        if (res == NULL)
            continue;
        rc = push_row(mc, s, res);
        if (rc != USV_OK)
            return rc;
    }
    return USV_OK;
}

/* Execute prepared @s with @params, rows into @res (may be NULL). The
 * statement is left ready for its next execution whatever happens. */
static enum usv_err
stmt_run(struct mysql_conn *mc, struct my_stmt *s, const struct orm_param *params, size_t n,
         struct orm_result *res)
{
    MYSQL_STMT *st = s->st;
    uint64_t rows = 0;
    enum usv_err rc = USV_OK;

    if (mysql_stmt_param_count(st) != n)
        return fail_internal(mc, "execute", "wrong number of parameters for the statement");
    if (n > 0) {
        bind_params(mc, params, n);
        if (mysql_stmt_bind_param(st, mc->pbind) != 0) {
            rc = fail_stmt(mc, st, "bind");
            goto out;
        }
    }
    if (mysql_stmt_execute(st) != 0) {
        rc = fail_stmt(mc, st, "execute");
        goto out;
    }
    /* MariaDB's prepare response announces no columns for INSERT ...
     * RETURNING; executing it does. Bind them then, once: the count stays. */
    if (mysql_stmt_field_count(st) != s->n_cols) {
        rc = bind_columns(mc, s);
        if (rc != USV_OK)
            goto out;
    }
    /* A statement with a result (SELECT, INSERT ... RETURNING) reports no
     * affected rows (the count reads as -1): the rows are its count. */
    if (s->n_cols > 0)
        rc = fetch_rows(mc, s, res, &rows);
    if (rc == USV_OK && res != NULL) {
        res->affected = s->n_cols > 0 ? rows : (uint64_t)mysql_stmt_affected_rows(st);
        res->last_id = (int64_t)mysql_stmt_insert_id(st);
    }
out:
    mysql_stmt_free_result(st);
    return rc;
}

/* Close every statement handle of the current session (their SQL is kept). */
static void
drop_statements(struct mysql_conn *mc)
{
    for (size_t i = 0; i < mc->n_stmts; i++)
        stmt_finish(&mc->stmts[i]);
}

/* ---- connections ---------------------------------------------------- */

static bool
is_mariadb(MYSQL *db)
{
    const char *info = mysql_get_server_info(db);

    return info != NULL && strstr(info, "MariaDB") != NULL;
}

/* Connector/C counts its timeouts in whole seconds, and reads the server's
 * greeting and the authentication exchange under the READ timeout, which
 * must stay long enough for statements; a server that accepts and never
 * greets would hold a connection attempt that long. So every wait of the
 * client library on its socket goes through connect_wait(), which, while
 * this thread is inside mysql_real_connect(), never waits past the attempt's
 * deadline (milliseconds, from the pool's budget). Outside a connect the
 * deadline is 0 and the library's own timeouts apply unchanged. */
static _Thread_local uint64_t connect_deadline_ms;

static int
connect_wait(my_socket fd, my_bool is_read, int timeout_ms)
{
    struct pollfd pfd = {.fd = (int)fd, .events = is_read ? POLLIN : POLLOUT};
    int rc;

    if (connect_deadline_ms != 0) {
        uint64_t now = monotonic_ms();
        uint64_t left = connect_deadline_ms > now ? connect_deadline_ms - now : 0;

        if (timeout_ms < 0 || (uint64_t)timeout_ms > left)
            timeout_ms = (int)left;
    }
    do
        rc = poll(&pfd, 1, timeout_ms);
    while (rc < 0 && errno == EINTR);
    return rc;
}

/* Whole seconds (the client's unit) for @ms, at least 1, at most @cap. */
static unsigned
seconds_within(unsigned ms, unsigned cap)
{
    unsigned s = ms / 1000 + (ms % 1000 != 0);

    if (ms == 0 || s > cap)
        return cap;
    return s > 0 ? s : 1;
}

static bool
set_options(MYSQL *db, const struct conn_config *cfg, const struct orm_limits *lim)
{
    /* The bounds usersvc was given win over longer ones from the URL: a
     * connect within the wait for a connection, reads and writes within
     * the statement timeout plus a second (usersvc's watchdog cuts
     * statements at their deadline; this is the backstop). */
    unsigned int connect_s = seconds_within(lim->connect_timeout_ms, cfg->connect_timeout_s);
    unsigned int read_s = seconds_within(lim->statement_timeout_ms != 0
                                             ? lim->statement_timeout_ms + 1000 : 0,
                                         cfg->read_timeout_s);
    unsigned int write_s = seconds_within(lim->statement_timeout_ms != 0
                                              ? lim->statement_timeout_ms + 1000 : 0,
                                          cfg->write_timeout_s);
    unsigned int no = 0, proto = MYSQL_PROTOCOL_SOCKET;
    my_bool yes = 1;
    int bad = 0;

    bad |= mysql_optionsv(db, MYSQL_OPT_CONNECT_TIMEOUT, &connect_s);
    bad |= mysql_optionsv(db, MYSQL_OPT_READ_TIMEOUT, &read_s);
    bad |= mysql_optionsv(db, MYSQL_OPT_WRITE_TIMEOUT, &write_s);
    bad |= mysql_optionsv(db, MARIADB_OPT_IO_WAIT, connect_wait);
    bad |= mysql_optionsv(db, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    /* A server must never make us read local files (LOAD DATA LOCAL). */
    bad |= mysql_optionsv(db, MYSQL_OPT_LOCAL_INFILE, &no);
    bad |= mysql_optionsv(db, MYSQL_REPORT_DATA_TRUNCATION, &yes);
    if (cfg->socket != NULL)
        bad |= mysql_optionsv(db, MYSQL_OPT_PROTOCOL, &proto);
    if (cfg->ssl_ca != NULL)
        bad |= mysql_optionsv(db, MYSQL_OPT_SSL_CA, cfg->ssl_ca);
    if (cfg->ssl_capath != NULL)
        bad |= mysql_optionsv(db, MYSQL_OPT_SSL_CAPATH, cfg->ssl_capath);
    if (cfg->ssl_cert != NULL)
        bad |= mysql_optionsv(db, MYSQL_OPT_SSL_CERT, cfg->ssl_cert);
    if (cfg->ssl_key != NULL)
        bad |= mysql_optionsv(db, MYSQL_OPT_SSL_KEY, cfg->ssl_key);
    if (cfg->tls == TLS_REQUIRED || cfg->tls == TLS_VERIFY)
        bad |= mysql_optionsv(db, MYSQL_OPT_SSL_ENFORCE, &yes);
    if (cfg->tls == TLS_VERIFY)
        bad |= mysql_optionsv(db, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &yes);
    return bad == 0;
}

/* Configure a new session. Lock waits stay well below the read timeout,
 * and within the statement timeout, which MariaDB also enforces on each
 * statement (max_statement_time; MySQL has nothing that covers writes). */
static unsigned
session_lock_wait_s(unsigned read_timeout_s, unsigned statement_timeout_ms)
{
    unsigned half = read_timeout_s / 2 > 0 ? read_timeout_s / 2 : 1;
    unsigned lock_wait_s = half < BE_LOCK_WAIT_S ? half : BE_LOCK_WAIT_S;

    if (statement_timeout_ms != 0 && statement_timeout_ms / 1000 < lock_wait_s)
        lock_wait_s = statement_timeout_ms >= 1000 ? statement_timeout_ms / 1000 : 1;
    return lock_wait_s;
}

static bool
setup_session(MYSQL *db, unsigned read_timeout_s, unsigned statement_timeout_ms,
              char *err, size_t errlen)
{
    unsigned lock_wait_s = session_lock_wait_s(read_timeout_s, statement_timeout_ms);
    char lock_waits[160];
    const char *const setup[] = {
        /* utf8mb4 both ways; the collation only affects comparing literals,
         * since columns carry their own. */
        "SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci",
        "SET time_zone = '+00:00'",
        /* Strict: an over-long or invalid value is an error, never truncated. */
        "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_DATE,NO_ZERO_IN_DATE,"
        "ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'",
        /* No gap locks on reads: fewer lock waits and deadlocks. Those left
         * (duplicate-key checks of racing inserts) come back as USV_RETRY. */
        "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
        lock_waits,
    };

    if (statement_timeout_ms != 0 && is_mariadb(db))
        snprintf(lock_waits, sizeof(lock_waits),
                 "SET SESSION innodb_lock_wait_timeout = %u, lock_wait_timeout = %u,"
                 " max_statement_time = %u.%03u", lock_wait_s, lock_wait_s,
                 statement_timeout_ms / 1000, statement_timeout_ms % 1000);
    else
        snprintf(lock_waits, sizeof(lock_waits),
                 "SET SESSION innodb_lock_wait_timeout = %u, lock_wait_timeout = %u",
                 lock_wait_s, lock_wait_s);
    for (size_t i = 0; i < ARRAY_SIZE(setup); i++) {
        if (mysql_real_query(db, setup[i], strlen(setup[i])) != 0) {
            snprintf(err, errlen, "cannot set up the session (%.40s...): [%u] %s", setup[i],
                     mysql_errno(db), mysql_error(db));
            return false;
        }
    }
    return true;
}

/* Does the server of @db run INSERT ... RETURNING? MariaDB does since
 * 10.5; MySQL (8.x) does not. Connector/C strips the "5.5.5-" prefix that
 * MariaDB 10 puts before its version in the handshake. */
static bool
server_has_returning(MYSQL *db)
{
    const char *info = mysql_get_server_info(db);

    return !orm_mysql_test_no_returning && info != NULL &&
           strstr(info, "MariaDB") != NULL && mysql_get_server_version(db) >= 100500;
}

/* Notice a dead peer on a TCP socket as libpq's keepalive and
 * tcp_user_timeout options do: probes after 5 s idle, 1 s apart, 3 of them,
 * and unacknowledged data given up after the statement timeout (when set).
 * Failures are harmless (a Unix socket has no TCP options). */
static void
watch_peer(my_socket fd, unsigned user_timeout_ms)
{
    int on = 1, idle = 5, interval = 1, count = 3;
    unsigned int ut = user_timeout_ms;

    if ((int)fd < 0)
        return;
    setsockopt((int)fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
    setsockopt((int)fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
    setsockopt((int)fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof(interval));
    setsockopt((int)fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof(count));
    if (ut != 0)
        setsockopt((int)fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ut, sizeof(ut));
}

/* Connect from @mc->cfg and configure the session; only on success is
 * @mc->db replaced (the caller closes the handle it had). */
static bool
connect_db(struct mysql_conn *mc, char *err, size_t errlen)
{
    const struct conn_config *cfg = &mc->cfg;
    const struct url *u = &cfg->url;
    const char *host = u->host[0] != '\0' ? u->host : NULL;
    MYSQL *db = mysql_init(NULL);
    char where[160];

    if (cfg->socket != NULL)
        snprintf(where, sizeof(where), "socket %s", cfg->socket);
    else if (host == NULL || strcmp(host, "localhost") == 0)
        snprintf(where, sizeof(where), "localhost (default socket)");
    else
        snprintf(where, sizeof(where), "%s%s%s:%u", strchr(host, ':') != NULL ? "[" : "", host,
                 strchr(host, ':') != NULL ? "]" : "", u->port);
    if (db == NULL) {
        snprintf(err, errlen, "cannot connect to %s: out of memory", where);
        return false;
    }
    if (!set_options(db, cfg, &mc->lim)) {
        snprintf(err, errlen, "cannot set the client options for %s", where);
        goto fail;
    }
    /* CLIENT_FOUND_ROWS: an UPDATE reports the rows it matched, as on the
     * other backends, not only those whose values changed. No
     * CLIENT_MULTI_STATEMENTS: one statement per call, always. */
    connect_deadline_ms = mc->lim.connect_timeout_ms != 0
                              ? monotonic_ms() + mc->lim.connect_timeout_ms : 0;
    if (mysql_real_connect(db, host, u->user, u->password, u->path, u->port, cfg->socket,
                           CLIENT_FOUND_ROWS) == NULL) {
        snprintf(err, errlen, "cannot connect to %s: [%u] %s", where, mysql_errno(db),
                 mysql_error(db));
        mc->connect_errno = mysql_errno(db);
        goto fail;
    }
    /* The session set-up is part of connecting: under the same deadline. */
    if (!setup_session(db, cfg->read_timeout_s, mc->lim.statement_timeout_ms, err, errlen))
        goto fail;
    connect_deadline_ms = 0;
    mc->db = db;
    mc->is_mariadb = is_mariadb(db);
    watch_peer(mysql_get_socket(db), mc->lim.statement_timeout_ms);
    /* Asked of every session, the in-place reconnect's too: it may have
     * reached another server (an upgrade, a failover behind a proxy). */
    mc->base.has_returning = server_has_returning(db);
    return true;
fail:
    connect_deadline_ms = 0;
    mysql_close(db);
    return false;
}

static void my_close(struct orm_conn *c);

static enum usv_err
my_open(const void *cfg, const struct orm_limits *lim, struct orm_conn **out, char *err,
        size_t errlen)
{
    struct mysql_conn *mc = NULL;
    enum usv_err rc = USV_OK;

    if (pthread_once(&library_once, library_init_once) != 0 || !library_ok) {
        snprintf(err, errlen, "cannot initialise the MySQL client library");
        return USV_UNAVAILABLE;
    }
    mc = xcalloc(1, sizeof(*mc));
    if (lim != NULL)
        mc->lim = *lim;
    /* A shallow copy: the strings stay the handle's (my_configure()). */
    mc->cfg = *(const struct conn_config *)cfg;
    if (!connect_db(mc, err, errlen)) {
        /* 1040 ER_CON_COUNT_ERROR, 1203 ER_TOO_MANY_USER_CONNECTIONS, 1226
         * ER_USER_LIMIT_REACHED (an account's MAX_USER_CONNECTIONS): the
         * server is there but full; the pool waits for its own (issue 18). */
        rc = mc->connect_errno == 1040 || mc->connect_errno == 1203 ||
             mc->connect_errno == 1226 ? USV_DB_FULL : USV_UNAVAILABLE;
        goto out;
    }
    /* A reconnect in place happens during the work: bounded like it. */
    mc->lim.connect_timeout_ms = mc->lim.statement_timeout_ms;
    *out = &mc->base;
    mc = NULL;
out:
    my_close(mc != NULL ? &mc->base : NULL);
    return rc;
}

static void
my_close(struct orm_conn *c)
{
    struct mysql_conn *mc = to_mysql(c);

    if (mc == NULL)
        return;
    /* Statements first: they belong to the connection. */
    drop_statements(mc);
    free(mc->stmts);
    if (mc->db != NULL)
        mysql_close(mc->db);
    free(mc->pbind);
    free(mc->paux);
    /* mc->cfg borrows the handle's configuration; last, as this may free it. */
    orm_conn_finish(&mc->base);
    free(mc);
}

/* Replace a lost session by a new one, in place. Only where the session
 * holds no transaction, lock or result: see orm_conn_ensure_session(). */
static enum usv_err
my_reconnect(struct orm_conn *c)
{
    struct mysql_conn *mc = to_mysql(c);
    char err[sizeof(mc->base.errmsg)];
    MYSQL *old = mc->db;

    drop_statements(mc);
    /* On failure the old, dead handle stays (calls on it fail cleanly) and
     * the pool replaces the whole connection. */
    if (!connect_db(mc, err, sizeof(err))) {
        orm_conn_error(&mc->base, "reconnect", err);
        mc->base.is_broken = true;
        return USV_UNAVAILABLE;
    }
    mysql_close(old);
    mc->base.is_broken = false;
    return USV_OK;
}

/* Is an idle connection still there, as far as can be told without a round
 * trip? Every response has been read in full, and a server sends nothing
 * unasked to an idle session except its goodbye (an error packet such as
 * ER_CONNECTION_KILLED or ER_SERVER_SHUTDOWN, then EOF): anything to read,
 * or a hang-up, means the session is over. */
static bool
my_looks_alive(struct orm_conn *c)
{
    struct pollfd pfd = {.fd = mysql_get_socket(to_mysql(c)->db), .events = POLLIN};

    if (pfd.fd < 0)
        return false;
    /* poll() < 0 (EINTR): let the statement tell. */
    return poll(&pfd, 1, 0) <= 0;
}

/* Run @sql, which returns no rows, as a plain query. */
static enum usv_err
exec(struct mysql_conn *mc, const char *sql)
{
    if (mysql_real_query(mc->db, sql, strlen(sql)) != 0)
        return fail_db(mc, sql);
    return USV_OK;
}

static enum usv_err
my_ping(struct orm_conn *c)
{
    struct mysql_conn *mc = to_mysql(c);

    /* Without MYSQL_OPT_RECONNECT, mysql_ping() only reports. */
    if (mysql_ping(mc->db) != 0) {
        fail_db(mc, "ping");
        c->is_broken = true;
        return USV_UNAVAILABLE;
    }
    return USV_OK;
}

static enum usv_err
my_begin(struct orm_conn *c, enum orm_tx mode)
{
    /* Read sessions declare it: a write slipping into one fails loudly. */
    return exec(to_mysql(c), mode == ORM_TX_WRITE ? "START TRANSACTION READ WRITE"
                                                  : "START TRANSACTION READ ONLY");
}

static enum usv_err
my_commit(struct orm_conn *c)
{
    return exec(to_mysql(c), "COMMIT");
}

static enum usv_err
my_rollback(struct orm_conn *c)
{
    return exec(to_mysql(c), "ROLLBACK");
}

/* Prepare statement @id from its text (the shared layer's) into a handle
 * of this session, in place of the one it may have. */
static enum usv_err
my_prepare(struct orm_conn *c, unsigned id)
{
    struct mysql_conn *mc = to_mysql(c);
    const struct orm_conn_stmt *st = &c->stmts[id];
    enum usv_err rc;

    mc->stmts = orm_grow(mc->stmts, &mc->n_stmts, (size_t)id + 1, sizeof(*mc->stmts));
    stmt_finish(&mc->stmts[id]);
    rc = stmt_prepare(mc, &mc->stmts[id], st->sql);
    if (rc != USV_OK)
        return rc;
    if (mysql_stmt_param_count(mc->stmts[id].st) != st->n_params) {
        stmt_finish(&mc->stmts[id]);
        return fail_internal(mc, "prepare", "the statement has another number of parameters "
                                            "than the caller binds");
    }
    return USV_OK;
}

static enum usv_err
my_execute(struct orm_conn *c, unsigned id, const struct orm_param *params, size_t n,
           struct orm_result *res)
{
    struct mysql_conn *mc = to_mysql(c);

    if (id >= mc->n_stmts || mc->stmts[id].st == NULL)
        return fail_internal(mc, "execute", "statement not prepared on this session");
    return stmt_run(mc, &mc->stmts[id], params, n, res);
}

/* ---- batches: finds by key as one IN list --------------------------- */

/* Can @item join an IN list: a find by one integer key? */
static bool
is_find(const struct orm_batch_item *item)
{
    return item->find_many != NULL && item->n_params == 1 &&
           item->params[0].type == ORM_INT64 && !item->params[0].is_null;
}

/* Run @item on its own; false if that lost the connection. */
static bool
run_one(struct mysql_conn *mc, struct orm_batch_item *item)
{
    item->rc = my_execute(&mc->base, item->id, item->params, item->n_params, item->res);
    return !mc->base.is_broken;
}

/* Give each of @finds the row of @rows (an IN list's result) with its key,
 * or no row (a 404, as alone) when there is none; a key asked twice gets
 * the row twice. False, with no find touched, if a row is not one of
 * theirs (a key that does not read as a key, another width). */
static bool
hand_out_rows(const struct orm_find_many *fm, const struct orm_result *rows,
              struct orm_batch_item *const *finds, size_t n)
{
    size_t n_rows = orm_result_rows(rows);
    int64_t keys[BATCH_MAX];

    if (n_rows > BATCH_MAX)
        return false;
    for (size_t r = 0; r < n_rows; r++) {
        size_t len = 0;
        const char *v = orm_result_cell(rows, r, fm->key_col, &len);

        if (v == NULL || !parse_id(v, len, &keys[r]))
            return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (finds[i]->res->n_cols != rows->n_cols)
            return false;
    }
    for (size_t i = 0; i < n; i++) {
        struct orm_result *res = finds[i]->res;
        size_t r = 0;

        while (r < n_rows && keys[r] != finds[i]->params[0].i)
            r++;
        for (size_t col = 0; r < n_rows && col < rows->n_cols; col++) {
            size_t len = 0;
            const char *v = orm_result_cell(rows, r, col, &len);

            if (v == NULL)
                orm_result_push_null(res);
            else
                orm_result_push(res, v, len);
        }
        res->affected = r < n_rows ? 1 : 0;   /* as stmt_run() counts a SELECT's rows */
        res->last_id = 0;
        finds[i]->rc = USV_OK;
    }
    return true;
}

/* Answer every find by key among @items[0..n) that is not @done yet and
 * has @items[0]'s model, marking them done: together as one IN list (the
 * smallest that holds them, padded by repeating a key), or alone if there
 * is one. If the IN list fails, each runs again on its own, so an error is
 * only its own. False if the connection was lost: the finds not run by
 * then are answered USV_UNAVAILABLE. */
static bool
run_finds(struct mysql_conn *mc, struct orm_batch_item *const *items, size_t n, bool *done)
{
    const struct orm_find_many *fm = items[0]->find_many;
    struct orm_batch_item *finds[BATCH_MAX];
    struct orm_param keys[BATCH_MAX];
    struct orm_result rows;
    size_t k = 0, ran = 0;
    unsigned list = 0, id;
    enum usv_err rc;

    for (size_t i = 0; i < n; i++) {
        if (!done[i] && items[i]->find_many == fm && is_find(items[i])) {
            finds[k++] = items[i];
            done[i] = true;
        }
    }
    if (k == 1)
        return run_one(mc, finds[0]);
    while ((2u << list) < k)
        list++;
    for (size_t i = 0; i < (2u << list); i++)
        keys[i] = finds[i < k ? i : 0]->params[0];
    id = fm->first_id + list;
    orm_result_init(&rows, finds[0]->res->n_cols);
    rc = orm_conn_ready(&mc->base, id, fm->sql[list], 2u << list);
    if (rc == USV_OK)
        rc = stmt_run(mc, &mc->stmts[id], keys, 2u << list, &rows);
    if (rc == USV_OK && hand_out_rows(fm, &rows, finds, k))
        ran = k;
    orm_result_finish(&rows);
    for (; ran < k && !mc->base.is_broken; ran++)
        run_one(mc, finds[ran]);
    for (; ran < k; ran++)
        finds[ran]->rc = USV_UNAVAILABLE;
    return !mc->base.is_broken;
}

/* Give each of @ins its row of @rows (a multi-row INSERT ... RETURNING's
 * result, row i for the i-th row sent). False, with none touched, if the
 * rows are not one per insert. */
static bool
hand_out_inserted(const struct orm_result *rows, struct orm_batch_item *const *ins, size_t n)
{
    if (orm_result_rows(rows) != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (ins[i]->res->n_cols != rows->n_cols)
            return false;
    }
    for (size_t i = 0; i < n; i++) {
        struct orm_result *res = ins[i]->res;

        for (size_t col = 0; col < rows->n_cols; col++) {
            size_t len = 0;
            const char *v = orm_result_cell(rows, i, col, &len);

            if (v == NULL)
                orm_result_push_null(res);
            else
                orm_result_push(res, v, len);
        }
        res->affected = 1;
        res->last_id = 0;
        ins[i]->rc = USV_OK;
    }
    return true;
}

/* Insert @ins[0..n) (2 <= n, a power of two) as one multi-row INSERT ...
 * RETURNING: one autocommit statement, so all of the rows commit or none;
 * MariaDB returns the rows in the order of the VALUES list.
 * If it fails and the connection lives (a duplicate key, a value the
 * server refuses), nothing was inserted and each row runs again on its
 * own, so an error is only its own. False if the connection was lost:
 * then whether the statement committed is unknown, and every insert not
 * answered yet is USV_UNAVAILABLE, never sent again (as a PostgreSQL
 * pipeline does). */
static bool
run_insert_chunk(struct mysql_conn *mc, struct orm_batch_item *const *ins, size_t n)
{
    const struct orm_insert_many *im = ins[0]->insert_many;
    size_t np = im->n_params;
    struct orm_param *params = xcalloc(n * np, sizeof(*params));
    struct orm_result rows;
    unsigned size = 0, id;
    size_t ran = 0;
    enum usv_err rc;

    while ((2u << size) < n)
        size++;
    assert((2u << size) == n && size < ORM_FIND_MANY_SIZES);
    for (size_t i = 0; i < n; i++) {
        assert(ins[i]->n_params == np);
        memcpy(params + i * np, ins[i]->params, np * sizeof(*params));
    }
    id = im->first_id + size;
    orm_result_init(&rows, ins[0]->res->n_cols);
    rc = orm_conn_ready(&mc->base, id, im->sql[size], n * np);
    if (rc == USV_OK)
        rc = stmt_run(mc, &mc->stmts[id], params, n * np, &rows);
    if (rc == USV_OK && !hand_out_inserted(&rows, ins, n)) {
        /* Committed, but not as asked: answer, never insert again. */
        fail_internal(mc, "insert", "a multi-row INSERT returned other rows than it sent");
        for (size_t i = 0; i < n; i++)
            ins[i]->rc = USV_INTERNAL;
    }
    if (rc == USV_OK)
        ran = n;
    orm_result_finish(&rows);
    free(params);
    for (; ran < n && !mc->base.is_broken; ran++)
        run_one(mc, ins[ran]);
    for (; ran < n; ran++)
        ins[ran]->rc = USV_UNAVAILABLE;
    return !mc->base.is_broken;
}

/* Answer every insert among @items[0..n) that is not @done yet and has
 * @items[0]'s model, marking them done: in chunks of 2, 4, ... BATCH_MAX
 * rows, largest first, each one multi-row INSERT ... RETURNING
 * (run_insert_chunk()); a last single row alone. A chunk answered before
 * the connection is lost keeps its rows (they committed and were seen);
 * the later ones are USV_UNAVAILABLE. False if the connection was lost. */
static bool
run_inserts(struct mysql_conn *mc, struct orm_batch_item *const *items, size_t n, bool *done)
{
    const struct orm_insert_many *im = items[0]->insert_many;
    struct orm_batch_item *ins[BATCH_MAX];
    size_t k = 0, at = 0;
    bool is_alive = true;

    for (size_t i = 0; i < n; i++) {
        if (!done[i] && items[i]->insert_many == im) {
            ins[k++] = items[i];
            done[i] = true;
        }
    }
    while (at < k) {
        size_t chunk = 1;

        while (chunk * 2 <= k - at && chunk * 2 <= BATCH_MAX)
            chunk *= 2;
        if (!is_alive) {
            for (size_t i = 0; i < chunk; i++)
                ins[at + i]->rc = USV_UNAVAILABLE;
        } else if (chunk == 1) {
            is_alive = run_one(mc, ins[at]);
        } else {
            is_alive = run_insert_chunk(mc, ins + at, chunk);
        }
        at += chunk;
    }
    return is_alive;
}

/* Connector/C has no pipelining, so a batch cannot share a round trip the
 * way PostgreSQL's does. What it can share is the statement: concurrent
 * GETs by key become one SELECT ... WHERE id IN (...), which costs the
 * server about what one of them did alone, and concurrent POSTs one
 * multi-row INSERT ... RETURNING (MariaDB 10.5+; orm.c sends inserts here
 * only while the connections say has_returning: MySQL 8 has no RETURNING,
 * and there each insert borrows a connection of its own). Anything else
 * runs on its own, in turn. A statement answered before a connection is
 * lost keeps its answer (a read commits nothing; an insert whose rows came
 * back committed); the rest fail USV_UNAVAILABLE with the connection
 * marked broken, never revived or re-sent in the middle of a batch. */
static void
my_execute_batch(struct orm_conn *c, struct orm_batch_item *const *items, size_t n)
{
    struct mysql_conn *mc = to_mysql(c);
    bool done[BATCH_MAX] = {false};
    bool is_alive = true;

    assert(n <= BATCH_MAX);
    for (size_t i = 0; i < n; i++) {
        if (done[i])
            continue;
        if (!is_alive)
            items[i]->rc = USV_UNAVAILABLE;
        else if (is_find(items[i]))
            is_alive = run_finds(mc, items + i, n - i, done + i);
        else if (items[i]->insert_many != NULL)
            is_alive = run_inserts(mc, items + i, n - i, done + i);
        else
            is_alive = run_one(mc, items[i]);
        done[i] = true;
    }
}

/* Append one text-protocol cell of a column of type @type to @res:
 * DATETIME/TIMESTAMP as canonical text, as prepared statements give it. */
static enum usv_err
push_text_cell(struct mysql_conn *mc, enum enum_field_types type, const char *v,
               unsigned long len, struct orm_result *res)
{
    char stamp[STAMP_LEN + 1];
    MYSQL_TIME t;

    if (v == NULL) {
        orm_result_push_null(res);
        return USV_OK;
    }
    if (!is_datetime_type(type)) {
        orm_result_push(res, v, len);
        return USV_OK;
    }
    if (!parse_stamp(v, len, &t) || !format_stamp(&t, stamp))
        return fail_internal(mc, "query", "a DATETIME value the backend cannot read");
    orm_result_push(res, stamp, STAMP_LEN);
    return USV_OK;
}

/* Run @sql without preparing it (DDL, bookkeeping): the text protocol. */
static enum usv_err
text_query(struct mysql_conn *mc, const char *sql, struct orm_result *res)
{
    enum usv_err rc = USV_OK;
    int more;

    if (mysql_real_query(mc->db, sql, strlen(sql)) != 0)
        return fail_db(mc, "query");
    /* One statement gives one result, but a CALL may give several: read
     * them all, or the connection is out of sync. */
    do {
        MYSQL_RES *r = mysql_store_result(mc->db);

        if (r == NULL) {
            if (mysql_field_count(mc->db) != 0)
                return fail_db(mc, "store result");
            if (res != NULL) {
                res->affected = (uint64_t)mysql_affected_rows(mc->db);
                res->last_id = (int64_t)mysql_insert_id(mc->db);
            }
        } else {
            const MYSQL_FIELD *fields = mysql_fetch_fields(r);
            MYSQL_ROW row;

            if (res != NULL && res->n_cols != mysql_num_fields(r) && rc == USV_OK)
                rc = fail_internal(mc, "query", "the statement returns another number of "
                                                "columns than the caller reads");
            while ((row = mysql_fetch_row(r)) != NULL) {
                unsigned long *lens = mysql_fetch_lengths(r);

                for (size_t i = 0; res != NULL && rc == USV_OK && i < res->n_cols; i++)
                    rc = push_text_cell(mc, fields[i].type, row[i], lens[i], res);
            }
            if (res != NULL && rc == USV_OK)
                res->affected = (uint64_t)mysql_num_rows(r);
            mysql_free_result(r);
        }
        more = mysql_next_result(mc->db);
    } while (more == 0);
    if (more > 0)
        return fail_db(mc, "next result");
    return rc;
}

static enum usv_err
my_query(struct orm_conn *c, const char *sql, const struct orm_param *params, size_t n,
         struct orm_result *res)
{
    struct mysql_conn *mc = to_mysql(c);
    struct my_stmt s;
    enum usv_err rc;

    /* Some DDL cannot be prepared, and without parameters there is nothing
     * to bind: send the text. */
    if (n == 0)
        return text_query(mc, sql, res);
    rc = stmt_prepare(mc, &s, sql);
    if (rc != USV_OK)
        return rc;
    rc = stmt_run(mc, &s, params, n, res);
    stmt_finish(&s);
    return rc;
}

/* ---- migration lock ------------------------------------------------- */

/* Run "SELECT expr" and return its one cell: 1 or 0, or -1 for NULL. */
static enum usv_err
select_int(struct mysql_conn *mc, const char *sql, int *out)
{
    struct orm_result res;
    const char *v;
    enum usv_err rc;

    orm_result_init(&res, 1);
    rc = text_query(mc, sql, &res);
    if (rc == USV_OK && orm_result_rows(&res) != 1)
        rc = fail_internal(mc, sql, "expected one row");
    if (rc == USV_OK) {
        v = orm_result_cell(&res, 0, 0, NULL);
        *out = v == NULL ? -1 : strcmp(v, "1") == 0 ? 1 : 0;
    }
    orm_result_finish(&res);
    return rc;
}

static enum usv_err
my_lock_migrations(struct orm_conn *c, unsigned timeout_ms)
{
    struct mysql_conn *mc = to_mysql(c);
    uint64_t deadline = monotonic_ms() + timeout_ms;
    /* Wait in slices shorter than the read timeout, which would otherwise
     * take a long wait for a dead server. */
    unsigned slice_max = mc->cfg.read_timeout_s > 2 ? mc->cfg.read_timeout_s / 2 : 1;
    char sql[160];
    enum usv_err rc;

    /* Migrations are not bound by the statement timeout. */
    if (mc->is_mariadb && mc->lim.statement_timeout_ms != 0) {
        rc = exec(mc, "SET SESSION max_statement_time = 0");
        if (rc != USV_OK)
            return rc;
    }
    for (;;) {
        uint64_t now = monotonic_ms();
        unsigned left_s = now >= deadline ? 0 : (unsigned)((deadline - now + 999) / 1000);
        int got = 0;

        snprintf(sql, sizeof(sql), "SELECT GET_LOCK(" MIGRATION_LOCK_NAME ", %u)",
                 left_s < slice_max ? left_s : slice_max);
        rc = select_int(mc, sql, &got);
        if (rc != USV_OK)
            return rc;
        if (got == 1)
            return USV_OK;
        if (got < 0)
            return fail_internal(mc, "GET_LOCK", "the server refused the migration lock");
        if (monotonic_ms() >= deadline) {
            snprintf(sql, sizeof(sql), "another migration run held the lock for %u ms",
                     timeout_ms);
            orm_conn_error(c, "GET_LOCK", sql);
            return USV_UNAVAILABLE;
        }
    }
}

static void
my_unlock_migrations(struct orm_conn *c)
{
    struct mysql_conn *mc = to_mysql(c);
    int released = 0;

    if (select_int(mc, "SELECT RELEASE_LOCK(" MIGRATION_LOCK_NAME ")", &released) != USV_OK ||
        released != 1) {
        /* A lock we cannot release lives as long as the session: end it. */
        c->is_broken = true;
    }
    if (!c->is_broken && mc->is_mariadb && mc->lim.statement_timeout_ms != 0) {
        char sql[80];

        snprintf(sql, sizeof(sql), "SET SESSION max_statement_time = %u.%03u",
                 mc->lim.statement_timeout_ms / 1000, mc->lim.statement_timeout_ms % 1000);
        if (exec(mc, sql) != USV_OK)
            c->is_broken = true;
    }
}

static int
my_conn_socket(struct orm_conn *c)
{
    return (int)mysql_get_socket(to_mysql(c)->db);
}

/* ---- dialect -------------------------------------------------------- */

/* The canonical text, "2026-11-21T08:00:00.123456Z", in MySQL's format
 * language, for parameters; %f reads up to six digits. Results go the
 * other way in C (format_stamp()), from the binary value. */
#define TIMESTAMP_FORMAT "'%Y-%m-%dT%H:%i:%s.%fZ'"

static void
my_placeholder(struct strbuf *b, unsigned n, enum orm_type type)
{
    if (type == ORM_TIMESTAMP)
        strbuf_adds(b, "STR_TO_DATE(?, " TIMESTAMP_FORMAT ")");
    else
        strbuf_adds(b, "?");
}

static void
my_select_column(struct strbuf *b, const struct orm_column *c)
{
    /* The bare column, timestamps too: a DATETIME(6) comes back as a
     * MYSQL_TIME that fetch_rows() writes as canonical text, cheaper than
     * DATE_FORMAT() on the server for every row. */
    strbuf_adds(b, c->name);
}

static void
my_equals(struct strbuf *b, const struct orm_column *c, unsigned n)
{
    /* ORM_NOCASE columns are declared with a _ci collation, which "=" honours. */
    strbuf_adds(b, c->name);
    strbuf_adds(b, " = ");
    my_placeholder(b, n, c->type);
}

/* ---- migrations: a short lock wait for DDL (issue 18) --------------------
 * DDL waiting for a metadata lock queues every later statement on that
 * table behind it: let it give up soon (lock_wait_timeout counts whole
 * seconds) and let the runner retry. 0 restores the session's own bound. */

static enum usv_err
my_set_ddl_lock_wait(struct orm_conn *c, unsigned ms)
{
    struct mysql_conn *mc = to_mysql(c);
    unsigned s = ms == 0 ? session_lock_wait_s(mc->cfg.read_timeout_s,
                                               mc->lim.statement_timeout_ms)
                         : (ms + 999) / 1000;
    char sql[120];

    snprintf(sql, sizeof(sql),
             "SET SESSION lock_wait_timeout = %u, innodb_lock_wait_timeout = %u", s, s);
    return exec(mc, sql);
}

const struct orm_backend orm_backend_mysql = {
    .name = "mysql",
    .default_pool_size = 16,
    /* DDL commits implicitly: the runner records a failed migration as dirty. */
    .has_transactional_ddl = false,
    /* MariaDB 10.5+ has INSERT ... RETURNING, MySQL 8 does not, and this
     * table is chosen by URL before any server is seen: each connection
     * says (connect_db()); without it the ORM inserts, then finds the row
     * by its LAST_INSERT_ID(). */
    .has_returning = false,
    .accepts = my_accepts,
    .configure = my_configure,
    .free_config = my_free_config,
    .open = my_open,
    .socket = my_conn_socket,
    .close = my_close,
    .ping = my_ping,
    .looks_alive = my_looks_alive,
    .reconnect = my_reconnect,
    .begin = my_begin,
    .commit = my_commit,
    .rollback = my_rollback,
    .prepare = my_prepare,
    .execute = my_execute,
    /* Finds by key gain from a batch (one IN list for many), and so do
     * inserts where the server has RETURNING (one multi-row INSERT);
     * anything else would only queue on the leader's connection. */
    .execute_batch = my_execute_batch,
    .batching = ORM_BATCH_FINDS_INSERTS,
    .query = my_query,
    .lock_migrations = my_lock_migrations,
    .set_ddl_lock_wait = my_set_ddl_lock_wait,
    .lock_is_node_local = true,     /* GET_LOCK in a Galera cluster (issue 18) */
    .unlock_migrations = my_unlock_migrations,
    .placeholder = my_placeholder,
    .select_column = my_select_column,
    .equals = my_equals,
    .lock_suffix = " FOR UPDATE",
};
