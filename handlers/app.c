/* SPDX-License-Identifier: MIT
 * app.c - see app.h. */
#include "handlers/app.h"

const struct app *
app_of(struct http_req *req)
{
    return http_req_app(req);
}

struct orm_db *
app_db(struct http_req *req)
{
    return app_of(req)->db;
}
