/* SPDX-License-Identifier: MIT
 * backends.c - the shared backend layer: the table of compiled-in backends
 * (meson defines USERSVC_WITH_<NAME> for each one whose client library was
 * found), DATABASE_URL to a configured backend, what every backend would
 * otherwise write again (timestamps, message lines), and the policy of a
 * connection: its statements' texts and prepare state, its transaction and
 * lock state, reconnecting in place and saying BEGIN again. curl's vtls.c
 * over vtls/ is the model: the orm_conn_*() functions here decide, a
 * backend file holds only what its driver needs. See orm_int.h. */
#include "orm/orm_int.h"

#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>

#include "base/util.h"

#ifdef USERSVC_WITH_SQLITE
extern const struct orm_backend orm_backend_sqlite;
#endif
#ifdef USERSVC_WITH_POSTGRES
extern const struct orm_backend orm_backend_pg;
#endif
#ifdef USERSVC_WITH_MYSQL
extern const struct orm_backend orm_backend_mysql;
#endif

static const struct orm_backend *const backends[] = {
#ifdef USERSVC_WITH_SQLITE
    &orm_backend_sqlite,
#endif
#ifdef USERSVC_WITH_POSTGRES
    &orm_backend_pg,
#endif
#ifdef USERSVC_WITH_MYSQL
    &orm_backend_mysql,
#endif
};

/* The backend serving @scheme (lower case), or NULL. */
static const struct orm_backend *
backend_of_scheme(const char *scheme)
{
    for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
        if (backends[i]->accepts(scheme))
            return backends[i];
    }
    return NULL;
}

const struct orm_backend *
orm_backend_for(const char *url)
{
    char scheme[16];
    size_t n = strcspn(url, ":");

    if (url[n] != ':' || n == 0 || n >= sizeof(scheme))
        return NULL;
    for (size_t i = 0; i < n; i++)
        scheme[i] = (char)tolower((unsigned char)url[i]);
    scheme[n] = '\0';
    /* "sqlite:PATH" stands alone; every other scheme is followed by "//". */
    if (strcmp(scheme, "sqlite") != 0 && strncmp(url + n, "://", 3) != 0)
        return NULL;
    return backend_of_scheme(scheme);
}

enum usv_err
orm_backend_configure(const char *url, const struct orm_backend **be, void **cfg, char *err,
                      size_t errlen)
{
    struct url u;
    char why[200];
    enum usv_err rc;

    if (!url_parse_database(url, &u, why, sizeof(why))) {
        snprintf(err, errlen, "bad DATABASE_URL: %s", why);
        return USV_BAD_REQUEST;
    }
    *be = backend_of_scheme(u.scheme);
    if (*be == NULL) {
        snprintf(err, errlen, "bad DATABASE_URL: unsupported scheme '%.16s' (this build "
                 "serves:%s%s%s)", u.scheme,
#ifdef USERSVC_WITH_SQLITE
                 " sqlite:PATH",
#else
                 "",
#endif
#ifdef USERSVC_WITH_POSTGRES
                 " postgres://",
#else
                 "",
#endif
#ifdef USERSVC_WITH_MYSQL
                 " mysql://"
#else
                 ""
#endif
        );
        url_finish(&u);
        return USV_BAD_REQUEST;
    }
    rc = (*be)->configure(&u, cfg, err, errlen);
    url_finish(&u);
    return rc;
}

enum usv_err
orm_connect_url(const char *url, const struct orm_limits *lim, struct orm_conn **out,
                char *err, size_t errlen)
{
    const struct orm_backend *be = NULL;
    void *cfg = NULL;
    enum usv_err rc = orm_backend_configure(url, &be, &cfg, err, errlen);

    if (rc != USV_OK)
        return rc;
    rc = orm_conn_open(be, cfg, lim, out, err, errlen);
    if (rc != USV_OK) {
        be->free_config(cfg);
        return rc;
    }
    (*out)->owned_cfg = cfg;
    (*out)->free_owned_cfg = be->free_config;
    return USV_OK;
}

/* ---- timestamps ------------------------------------------------------- */

/* Write @v as exactly @n decimal digits at @p; returns the end. */
static char *
put_digits(char *p, unsigned long v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + n;
}

/* Read exactly @n digits at @s into *@out. */
static bool
get_digits(const char *s, size_t n, unsigned *out)
{
    unsigned v = 0;

    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return true;
}

bool
orm_stamp_format(const struct orm_stamp *t, char out[ORM_STAMP_LEN + 1])
{
    char *p = out;

    if (t->year > 9999 || t->month > 12 || t->day > 31 || t->hour > 23 || t->minute > 59 ||
        t->second > 59 || t->usec > 999999)
        return false;
    p = put_digits(p, t->year, 4);
    *p++ = '-';
    p = put_digits(p, t->month, 2);
    *p++ = '-';
    p = put_digits(p, t->day, 2);
    *p++ = 'T';
    p = put_digits(p, t->hour, 2);
    *p++ = ':';
    p = put_digits(p, t->minute, 2);
    *p++ = ':';
    p = put_digits(p, t->second, 2);
    *p++ = '.';
    p = put_digits(p, t->usec, 6);
    *p++ = 'Z';
    *p = '\0';
    return true;
}

bool
orm_stamp_parse(const char *s, size_t len, struct orm_stamp *t, size_t *used)
{
    unsigned frac = 0, scale = 1000000;
    size_t n_frac = 0;

    memset(t, 0, sizeof(*t));
    if (len < 19 || s[4] != '-' || s[7] != '-' || (s[10] != ' ' && s[10] != 'T') ||
        s[13] != ':' || s[16] != ':')
        return false;
    if (!get_digits(s, 4, &t->year) || !get_digits(s + 5, 2, &t->month) ||
        !get_digits(s + 8, 2, &t->day) || !get_digits(s + 11, 2, &t->hour) ||
        !get_digits(s + 14, 2, &t->minute) || !get_digits(s + 17, 2, &t->second))
        return false;
    if (t->month < 1 || t->month > 12 || t->day < 1 || t->day > 31)
        return false;
    *used = 19;
    if (len > 19 && s[19] == '.') {
        while (20 + n_frac < len && n_frac < 6 && s[20 + n_frac] >= '0' &&
               s[20 + n_frac] <= '9')
            n_frac++;
        if (n_frac == 0 || !get_digits(s + 20, n_frac, &frac))
            return false;
        for (size_t i = 0; i < n_frac; i++)
            scale /= 10;
        *used = 20 + n_frac;
    }
    t->usec = (unsigned long)frac * scale;
    return true;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil). */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t era;
    unsigned yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned)(y - era * 400);
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

bool
orm_stamp_shift(struct orm_stamp *t, long offset_s)
{
    int64_t secs = days_from_civil(t->year, t->month, t->day) * 86400 + t->hour * 3600 +
                   t->minute * 60 + t->second + offset_s;
    time_t utc = (time_t)secs;
    struct tm tm;

    if (gmtime_r(&utc, &tm) == NULL || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0)
        return false;
    t->year = (unsigned)tm.tm_year + 1900;
    t->month = (unsigned)tm.tm_mon + 1;
    t->day = (unsigned)tm.tm_mday;
    t->hour = (unsigned)tm.tm_hour;
    t->minute = (unsigned)tm.tm_min;
    t->second = (unsigned)tm.tm_sec;
    return true;
}

/* ---- messages and the reconnect policy ---------------------------------- */

void
orm_one_line(char *buf, size_t size, const char *msg)
{
    size_t n = 0;

    if (size == 0)
        return;
    for (const char *p = msg != NULL ? msg : ""; *p != '\0' && n + 1 < size; p++) {
        char ch = (*p == '\n' || *p == '\r' || *p == '\t') ? ' ' : *p;

        if (ch == ' ' && (n == 0 || buf[n - 1] == ' '))
            continue;
        buf[n++] = ch;
    }
    while (n > 0 && buf[n - 1] == ' ')
        n--;
    buf[n] = '\0';
}

/* ---- connections: statements, transactions, reconnects ----------------- */

enum usv_err
orm_conn_open(const struct orm_backend *be, const void *cfg, const struct orm_limits *lim,
              struct orm_conn **out, char *err, size_t errlen)
{
    enum usv_err rc = be->open(cfg, lim, out, err, errlen);

    if (rc == USV_OK)
        (*out)->be = be;
    return rc;
}

void
orm_conn_finish(struct orm_conn *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n_stmts; i++)
        free(c->stmts[i].owned);
    free(c->stmts);
    c->stmts = NULL;
    c->n_stmts = 0;
    if (c->free_owned_cfg != NULL)
        c->free_owned_cfg(c->owned_cfg);
    c->owned_cfg = NULL;
    c->free_owned_cfg = NULL;
}

enum usv_err
orm_conn_reconnect(struct orm_conn *c)
{
    enum usv_err rc = c->be->reconnect(c);

    /* A new server session has none of the old one's statements, whatever
     * came of the attempt: each is prepared again on first use. */
    for (size_t i = 0; i < c->n_stmts; i++)
        c->stmts[i].is_live = false;
    return rc;
}

enum usv_err
orm_conn_ensure_session(struct orm_conn *c, const char *what)
{
    if (c->be->looks_alive == NULL || c->in_tx || c->be->looks_alive(c))
        return USV_OK;
    if (c->holds_lock) {
        orm_conn_error(c, what, "connection lost while holding the migration lock");
        c->is_broken = true;
        return USV_UNAVAILABLE;
    }
    return orm_conn_reconnect(c);
}

/* The slot of statement @id, made if new. */
static struct orm_conn_stmt *
stmt_slot(struct orm_conn *c, unsigned id)
{
    c->stmts = orm_grow(c->stmts, &c->n_stmts, (size_t)id + 1, sizeof(*c->stmts));
    return &c->stmts[id];
}

/* Prepare @id from its recorded text on the session as it is. */
static enum usv_err
prepare_live(struct orm_conn *c, unsigned id)
{
    enum usv_err rc = c->be->prepare(c, id);

    c->stmts[id].is_live = rc == USV_OK;
    return rc;
}

enum usv_err
orm_conn_prepare(struct orm_conn *c, unsigned id, const char *sql, size_t n_params)
{
    struct orm_conn_stmt *st = stmt_slot(c, id);
    enum usv_err rc;

    free(st->owned);
    st->owned = xstrdup(sql);
    st->sql = st->owned;
    st->n_params = n_params;
    /* is_live stays as it was until prepare() has run: it tells the
     * driver whether the session has a statement of that id to replace. */
    rc = orm_conn_ensure_session(c, "prepare");
    if (rc != USV_OK)
        return rc;
    return prepare_live(c, id);
}

enum usv_err
orm_conn_ready(struct orm_conn *c, unsigned id, const char *sql, size_t n_params)
{
    struct orm_conn_stmt *st = stmt_slot(c, id);
    enum usv_err rc;

    if (st->is_live && st->sql == sql)
        return USV_OK;
    free(st->owned);
    st->owned = NULL;
    st->sql = sql;
    st->n_params = n_params;
    rc = orm_conn_ensure_session(c, "prepare");
    if (rc != USV_OK)
        return rc;
    return prepare_live(c, id);
}

/* Statement @id known and prepared on the session about to be used. */
static enum usv_err
stmt_live(struct orm_conn *c, unsigned id)
{
    if (id >= c->n_stmts || c->stmts[id].sql == NULL) {
        orm_conn_error(c, "execute", "statement was never prepared");
        return USV_INTERNAL;
    }
    return c->stmts[id].is_live ? USV_OK : prepare_live(c, id);
}

enum usv_err
orm_conn_execute(struct orm_conn *c, unsigned id, const struct orm_param *params,
                 size_t n_params, struct orm_result *res)
{
    enum usv_err rc = orm_conn_ensure_session(c, "execute");

    if (rc == USV_OK)
        rc = stmt_live(c, id);
    if (rc != USV_OK)
        return rc;
    return c->be->execute(c, id, params, n_params, res);
}

void
orm_conn_execute_batch(struct orm_conn *c, struct orm_batch_item *const *items, size_t n)
{
    enum usv_err rc = orm_conn_ensure_session(c, "batch");

    for (size_t i = 0; i < n && rc == USV_OK; i++)
        rc = stmt_live(c, items[i]->id);
    if (rc != USV_OK) {
        for (size_t i = 0; i < n; i++)
            items[i]->rc = rc;
        return;
    }
    c->be->execute_batch(c, items, n);
}

enum usv_err
orm_conn_query(struct orm_conn *c, const char *sql, const struct orm_param *params,
               size_t n_params, struct orm_result *res)
{
    enum usv_err rc = orm_conn_ensure_session(c, "query");

    if (rc != USV_OK)
        return rc;
    return c->be->query(c, sql, params, n_params, res);
}

enum usv_err
orm_conn_ping(struct orm_conn *c)
{
    /* A connection the server dropped while idle is replaced in place: the
     * question is whether the database can be used, not this socket. */
    enum usv_err rc = orm_conn_ensure_session(c, "ping");

    if (rc != USV_OK)
        return rc;
    return c->be->ping(c);
}

enum usv_err
orm_conn_begin(struct orm_conn *c, enum orm_tx mode)
{
    enum usv_err rc;

    /* Never let a session inherit a transaction some earlier path left open. */
    if (c->in_tx) {
        rc = orm_conn_rollback(c);
        if (rc != USV_OK)
            return rc;
    }
    rc = orm_conn_ensure_session(c, "begin");
    if (rc != USV_OK)
        return rc;
    rc = c->be->begin(c, mode);
    if (rc == USV_UNAVAILABLE && c->is_broken && !c->holds_lock &&
        c->be->looks_alive != NULL) {
        /* The goodbye arrived just after orm_conn_ensure_session() looked. */
        rc = orm_conn_reconnect(c);
        if (rc == USV_OK)
            rc = c->be->begin(c, mode);
    }
    c->in_tx = rc == USV_OK;
    return rc;
}

enum usv_err
orm_conn_commit(struct orm_conn *c)
{
    /* Whatever COMMIT says, the transaction is over (or the session is). */
    c->in_tx = false;
    return c->be->commit(c);
}

enum usv_err
orm_conn_rollback(struct orm_conn *c)
{
    c->in_tx = false;
    return c->be->rollback(c);
}

enum usv_err
orm_conn_lock_migrations(struct orm_conn *c, unsigned timeout_ms)
{
    enum usv_err rc = orm_conn_ensure_session(c, "lock");

    if (rc == USV_OK)
        rc = c->be->lock_migrations(c, timeout_ms);
    c->holds_lock = rc == USV_OK;
    return rc;
}

void
orm_conn_unlock_migrations(struct orm_conn *c)
{
    c->be->unlock_migrations(c);
    c->holds_lock = false;
}
