/* SPDX-License-Identifier: MIT
 * http_int.h - what the files of the HTTP layer share, and nobody else sees.
 *
 * The layer is one module in five files, one concern each:
 *   server.c      the daemon: start, drain, quiesce, stop; the MHD callbacks
 *                 and the per-request dispatch (head check, route, handler)
 *   request.c     a request's state and the http_req_* API handlers read
 *   reply.c       the one place where enum usv_err becomes a status, headers
 *                 and a JSON or problem+json body
 *   framing.c     the checks of the request head (RFC 9112 framing, Host,
 *                 NUL bytes, a declared size) before any body is read
 *   access_log.c  the access log line and the per-route counters
 * struct http_server and struct http_req are defined here so that these
 * files share them; http.h keeps both opaque.
 * Thread-safety: the server is shared (atomics only after start); a request
 * belongs to the connection thread serving it. */
#ifndef USERSVC_HTTP_HTTP_INT_H
#define USERSVC_HTTP_HTTP_INT_H

#include <jansson.h>
#include <microhttpd.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/strbuf.h"
#include "http/http.h"

#define MAX_RESP_HEADERS 8
#define RID_PREFIX_LEN 9           /* 8 hex digits and '-' */

struct http_server {
    struct MHD_Daemon *daemon;
    struct http_opts opts;
    void *app;                     /* the application's context, opaque */
    const struct route *routes;
    size_t n_routes;
    MHD_socket quiesced_fd;        /* listen socket after quiesce; closed after stop */
    atomic_int in_flight;          /* requests between first call and completion */
    atomic_bool is_draining;
    atomic_uint_fast64_t next_rid;
    char rid_prefix[RID_PREFIX_LEN + 1];   /* "%08x-", random per process */
    struct http_stats *stats;
    atomic_int n_connections;      /* open TCP connections (notify callback) */
};

struct header {
    const char *name;              /* borrowed: a string literal */
    char *value;
};

struct http_req {
    struct http_server *srv;
    struct MHD_Connection *conn;
    const char *method, *path;     /* borrowed from MHD for the request's life */
    const char *raw_target;        /* the target as received, in MHD's buffer */
    size_t raw_target_len;         /* its length then (unescaping shortens it later) */
    char *target;                  /* a copy of it then, before MHD splits it */
    char *joined[4];               /* repeated header lines, combined */
    size_t n_joined;
    bool is_started;               /* req_start() has run */
    const struct route *route;
    const char *param;             /* the "{…}" segment, inside path */
    size_t param_len;
    uint64_t start_us;
    char rid[32];

    struct strbuf body;            /* at most opts.max_body_bytes */
    bool is_too_large;
    bool is_json_done;             /* json/json_rc are the parse's outcome */
    json_t *json;
    enum usv_err json_rc;

    unsigned status;               /* success status (default 200) */
    char *raw_body;                /* serialized success body, or NULL */
    size_t raw_len;
    const char *raw_type;
    struct header headers[MAX_RESP_HEADERS];
    size_t n_headers;
    char *detail;

    const char *mhd_detail;        /* what MHD's log said it refused, or NULL */
    bool is_mhd_replaced;          /* reply_mhd_error() answered instead of MHD */
    unsigned sent_status;          /* for the access log; 0 = nothing sent */
    size_t sent_bytes;
};

/* ---- request.c ------------------------------------------------------ */

/* A request's state, born in MHD's URI log callback with the target as
 * received (@uri, in MHD's buffer; may be NULL). */
struct http_req *req_create(struct http_server *srv, const char *uri,
                            struct MHD_Connection *conn);

/* The first access-handler call: the request line and headers are in. */
void req_start(struct http_req *req, const char *url, const char *method);

void req_destroy(struct http_req *req);   /* accepts NULL */

/* Give @req a new request id (the first call does, unless the client sent
 * a sane X-Request-Id). */
void req_new_rid(struct http_req *req);

/* The request whose head this thread is reading or serving, or NULL: set
 * from MHD's URI log callback until the request completes. The connection
 * thread serves one connection (MHD_USE_THREAD_PER_CONNECTION). */
struct http_req *req_current(void);

/* The connection this thread serves, once its first request line was
 * read, or NULL. */
struct MHD_Connection *req_current_connection(void);

/* Append @len bytes of body; past max_body_bytes the rest is discarded. */
void req_add_body(struct http_req *req, const char *data, size_t len);

/* Is the Content-Type one of @media_types (or application/json), with at
 * most a charset=utf-8 parameter? */
bool media_type_ok(const char *ct, const char *const *media_types);

/* ---- reply.c -------------------------------------------------------- */

/* Queue the one response to @req: the success body or a problem body for
 * @rc, with @out (taken) as body or problem members. @must_close adds
 * Connection: close (so does draining). */
enum MHD_Result reply_send(struct http_req *req, enum usv_err rc, json_t *out,
                           bool must_close);

/* Refuse @req with @rc and @detail before its body is read; the connection
 * is closed. */
enum MHD_Result reply_refuse(struct http_req *req, enum usv_err rc, const char *detail);

/* MHD is about to send its own error page with @status for @req (from its
 * log callback, before it writes anything): write one problem+json
 * response with that status on the socket instead, then shut its sending
 * side, so that MHD's page never leaves (its write fails, and it closes
 * the connection). Statuses other than 400, 413, 414, 431, 505 are left
 * to MHD. */
void reply_mhd_error(struct http_req *req, unsigned status);

/* ---- framing.c ------------------------------------------------------ */

/* Check the head of @req (first access-handler call). MHD_YES to go on
 * reading the body; otherwise a 400/413 has been queued with a close. */
enum MHD_Result framing_check_head(struct http_req *req, const char *version);

/* ---- access_log.c --------------------------------------------------- */

/* Count @req in the metrics and write its access log line. */
void access_log_request(struct http_req *req, enum MHD_RequestTerminationCode toe);

#endif
