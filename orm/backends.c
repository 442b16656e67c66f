/* SPDX-License-Identifier: MIT
 * backends.c - the table of compiled-in backends; meson defines
 * USERSVC_WITH_<NAME> for each one whose client library was found. */
#include "orm/orm_int.h"

#include <stddef.h>

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

const struct orm_backend *
orm_backend_for(const char *url)
{
    for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
        if (backends[i]->accepts(url))
            return backends[i];
    }
    return NULL;
}
