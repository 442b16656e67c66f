/* SPDX-License-Identifier: MIT
 * backends.c - the table of compiled-in backends; meson defines
 * USERSVC_WITH_<NAME> for each one whose client library was found. */
#include "orm/orm_int.h"

#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

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
orm_connect_url(const char *url, struct orm_conn **out, char *err, size_t errlen)
{
    const struct orm_backend *be = NULL;
    void *cfg = NULL;
    enum usv_err rc = orm_backend_configure(url, &be, &cfg, err, errlen);

    if (rc != USV_OK)
        return rc;
    rc = be->open(cfg, out, err, errlen);
    if (rc != USV_OK) {
        be->free_config(cfg);
        return rc;
    }
    (*out)->owned_cfg = cfg;
    (*out)->free_owned_cfg = be->free_config;
    return USV_OK;
}
