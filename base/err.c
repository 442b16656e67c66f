/* SPDX-License-Identifier: MIT
 * err.c - lookup tables generated from USV_ERR_TABLE (see err.h). */
#include "err.h"

#include <stddef.h>

static const int http_status_of[] = {
#define X(name, status, title, detail) [USV_##name] = status,
    USV_ERR_TABLE(X)
#undef X
};

static const char *const title_of[] = {
#define X(name, status, title, detail) [USV_##name] = title,
    USV_ERR_TABLE(X)
#undef X
};

static const char *const detail_of[] = {
#define X(name, status, title, detail) [USV_##name] = detail,
    USV_ERR_TABLE(X)
#undef X
};

static const char *const name_of[] = {
#define X(name, status, title, detail) [USV_##name] = #name,
    USV_ERR_TABLE(X)
#undef X
};

#define N_ERRS (sizeof(http_status_of) / sizeof(http_status_of[0]))

int
usv_err_http_status(enum usv_err err)
{
    if ((size_t)err >= N_ERRS)
        return 500;
    return http_status_of[err];
}

const char *
usv_err_title(enum usv_err err)
{
    if ((size_t)err >= N_ERRS)
        return "Internal Server Error";
    return title_of[err];
}

const char *
usv_err_detail(enum usv_err err)
{
    if ((size_t)err >= N_ERRS)
        return "internal error; the server log has the details";
    return detail_of[err];
}

const char *
usv_err_name(enum usv_err err)
{
    if ((size_t)err >= N_ERRS)
        return "UNKNOWN";
    return name_of[err];
}
