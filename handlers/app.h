/* SPDX-License-Identifier: MIT
 * app.h - the application context every handler reaches through its
 * request: the database handle, the schema version and how /metrics is
 * composed. The composition root (service/main.c) fills one struct app
 * before the server starts and hands it to http_server_start() with the
 * route table; the HTTP layer carries it as an opaque pointer.
 * Thread-safety: read-only once the server runs. */
#ifndef USERSVC_HANDLERS_APP_H
#define USERSVC_HANDLERS_APP_H

#include <stdint.h>

#include "base/strbuf.h"
#include "http/http.h"
#include "orm/orm.h"

struct app {
    struct orm_db *db;             /* borrowed: opened and closed by main.c */
    int64_t schema_version;        /* latest migration applied at start-up */
    /* Append the /metrics page for @req to @out (service/metrics.c, where
     * both the HTTP counters and the pool statistics are visible). */
    void (*render_metrics)(struct http_req *req, const struct app *app, struct strbuf *out);
};

/* The context of the server serving @req. */
const struct app *app_of(struct http_req *req);

/* Its database handle: app_of(req)->db. */
struct orm_db *app_db(struct http_req *req);

#endif
