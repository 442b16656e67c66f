/* SPDX-License-Identifier: MIT
 * health.c - /healthz says the process serves HTTP (no database touched);
 * /readyz says whether this instance should get traffic: not draining, the
 * database answers, and the schema is at the latest embedded migration. */
#include "handlers/health.h"

#include <stdlib.h>

#include "handlers/app.h"
#include "orm/migrate.h"
#include "orm/orm.h"

enum usv_err
health_live(struct http_req *req, json_t **out)
{
    *out = json_pack("{s:s}", "status", "ok");
    return *out != NULL ? USV_OK : USV_NOMEM;
}

enum usv_err
health_ready(struct http_req *req, json_t **out)
{
    struct orm_db *db = app_db(req);
    char why[256];
    enum usv_err rc;

    if (http_req_is_draining(req)) {
        http_req_set_detail(req, "shutting down");
        return USV_UNAVAILABLE;
    }
    rc = orm_db_ping(db);
    if (rc != USV_OK) {
        http_req_set_detail(req, "%s", orm_db_is_full(db)
                                           ? "the database is full (too many clients)"
                                           : "the database cannot be reached");
        return USV_UNAVAILABLE;
    }
    rc = migrate_check(db, why, sizeof(why));
    if (rc != USV_OK) {
        http_req_set_detail(req, "%s", why);
        return USV_UNAVAILABLE;
    }
    *out = json_pack("{s:s, s:s}", "status", "ready", "database", orm_db_backend(db));
    return *out != NULL ? USV_OK : USV_NOMEM;
}

enum usv_err
health_metrics(struct http_req *req, json_t **out)
{
    const struct app *app = app_of(req);
    struct strbuf b;
    size_t len;

    strbuf_init(&b);
    app->render_metrics(req, app, &b);
    len = strbuf_len(&b);   /* before strbuf_take() resets it */
    http_req_reply_text(req, strbuf_take(&b), len, "text/plain; version=0.0.4; charset=utf-8");
    return USV_OK;
}
