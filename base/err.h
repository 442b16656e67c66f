/* SPDX-License-Identifier: MIT
 * err.h - the one error enum of usersvc, and its HTTP meaning.
 *
 * Every function that can fail returns enum usv_err (USV_OK == 0). One X-macro
 * table gives each code its HTTP status, RFC 9457 title and default detail, so
 * names, statuses, titles and details cannot drift apart. This is the leaf
 * header every module may include; only http/reply.c renders a code as an
 * HTTP response.
 * Thread-safety: pure functions over constant tables. */
#ifndef USERSVC_SERVICE_ERR_H
#define USERSVC_SERVICE_ERR_H

/* X(name, HTTP status, RFC 9457 title, default problem detail): the detail
 * is what a client reads when the code's producer says nothing more precise
 * (http_req_set_detail()). */
#define USV_ERR_TABLE(X)                                                        \
    X(OK,           200, "OK", "OK")                                            \
    X(NOT_MODIFIED, 304, "Not Modified", "Not Modified")                        \
    X(BAD_REQUEST,  400, "Bad Request", "Bad Request")                          \
    X(NOT_FOUND,    404, "Not Found", "no such resource")                       \
    X(BAD_METHOD,   405, "Method Not Allowed", "Method Not Allowed")            \
    X(CONFLICT,     409, "Conflict",                                            \
      "the request conflicts with the current state of the resource")           \
    X(PRECONDITION, 412, "Precondition Failed",                                 \
      "the resource does not match the given precondition")                     \
    X(TOO_LARGE,    413, "Content Too Large", "Content Too Large")              \
    X(BAD_MEDIA,    415, "Unsupported Media Type", "Unsupported Media Type")    \
    X(INVALID,      422, "Unprocessable Content", "Unprocessable Content")      \
    X(UNAVAILABLE,  503, "Service Unavailable",                                 \
      "the database is unavailable; retry later")                               \
    /* transient: serialization failure, deadlock */                            \
    X(RETRY,        503, "Service Unavailable",                                 \
      "the database is unavailable; retry later")                               \
    X(NOMEM,        500, "Internal Server Error",                               \
      "internal error; the server log has the details")                         \
    X(INTERNAL,     500, "Internal Server Error",                               \
      "internal error; the server log has the details")                         \
    /* append rows; never renumber */                                           \
    /* a transfer coding we lack */                                             \
    X(NOT_IMPLEMENTED, 501, "Not Implemented",                                 \
      "the request uses a transfer coding this server does not implement")      \
    X(BAD_VERSION,  505, "HTTP Version Not Supported",                          \
      "only HTTP/1.0 and HTTP/1.1 are supported")                               \
    X(URI_TOO_LONG, 414, "URI Too Long",                                        \
      "the request target is longer than this server accepts")                  \
    X(HEAD_TOO_LARGE, 431, "Request Header Fields Too Large",                   \
      "the request's header fields are larger than this server accepts")        \
    X(UNAUTHORIZED, 401, "Unauthorized",                                        \
      "this resource needs a valid bearer token")                               \
    X(FORBIDDEN,    403, "Forbidden",                                           \
      "the bearer token does not grant access to this resource")                 \
    /* the database refused a new connection because it is full (PostgreSQL \
     * 53300 "too many clients", MySQL 1040/1203/1226): pools wait for their own */ \
    X(DB_FULL,      503, "Service Unavailable",                                 \
      "the database has no connection to spare; retry later")

enum usv_err {
#define X(name, status, title, detail) USV_##name,
    USV_ERR_TABLE(X)
#undef X
};

/* HTTP status for @err (500 for an unknown value). */
int usv_err_http_status(enum usv_err err);

/* RFC 9457 title for @err; a static string. */
const char *usv_err_title(enum usv_err err);

/* The default problem "detail" for @err; a static string. */
const char *usv_err_detail(enum usv_err err);

/* The enum's own name without prefix ("CONFLICT"), for logs; a static string. */
const char *usv_err_name(enum usv_err err);

#endif
