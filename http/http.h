/* SPDX-License-Identifier: MIT
 * http.h - the HTTP server: libmicrohttpd glue, routing, responses.
 * (Implemented in server.c, request.c, reply.c, framing.c and access_log.c;
 * http_int.h says which concern lives where.)
 *
 * One thread per connection (MHD_USE_THREAD_PER_CONNECTION). A request's
 * body streams into a buffer capped at the configured size; the router
 * picks a handler by (method, path) and answers 404 or 405 + Allow itself;
 * handlers return an enum usv_err and a JSON value, and only this module
 * turns them into a status, headers and a JSON or problem+json body.
 * Thread-safety: the server is shared; a struct http_req belongs to the
 * connection thread serving it. */
#ifndef USERSVC_SERVICE_HTTP_H
#define USERSVC_SERVICE_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/strbuf.h"
#include "base/util.h"

struct http_server;
struct http_req;
struct tls;

/* What the server needs to know, filled by the composition root
 * (service/main.c) from its configuration. Copied by http_server_start();
 * @host is borrowed until http_server_stop(). */
struct http_opts {
    const char *host;              /* listen address (numeric or a name) */
    long port;                     /* 0: any free port (logged) */
    long max_body_bytes;           /* a larger body is refused with 413 */
    long max_connections;          /* beyond it a connection is closed at once */
    long max_connections_per_ip;
    long connection_timeout_s;     /* idle connections are closed after it */
    long max_header_bytes;         /* MHD's per-connection memory (the head) */
    long thread_stack_kb;          /* stack of each connection thread */
    /* Access control, or NULL for none. Called once per request on a known
     * path, when its head is in (before 405, 413 and the handler), with the
     * scope the route names, or "" for a method the path does not serve
     * (405 then needs an authenticated caller); routes without a scope are
     * public and skip it. Returns USV_OK to go on, or USV_UNAUTHORIZED /
     * USV_FORBIDDEN, which the request is then answered with; the guard
     * adds its headers (WWW-Authenticate), detail and subject itself.
     * Runs on connection threads, concurrently. */
    enum usv_err (*guard)(void *guard_ctx, struct http_req *req, const char *scope);
    void *guard_ctx;
    struct tls *tls;               /* HTTPS (http/tls.h), borrowed; NULL: plain HTTP */
};

/* A handler. On USV_OK, *@out is the response body (new reference; may stay
 * NULL for no body). On an error, *@out may be a JSON object whose members
 * are added to the problem body (for example "errors" for a 422). */
struct route {
    const char *method;
    const char *pattern;   /* "/users" or "/users/{id}": {x} matches one segment */
    enum usv_err (*handler)(struct http_req *req, json_t **out);
    const char *scope;     /* what the guard requires (a bearer scope); NULL: public */
    /* The JSON body is the first thing the handler judges (no lookup comes
     * before it), so a body declared larger than the limit may be refused
     * with 413 before it is read. */
    bool is_body_first;
};

/* Start serving @routes (borrowed) with @opts. @app (borrowed until
 * http_server_stop(), may be NULL) is the application's context, opaque
 * here: handlers get it back with http_req_app(). Logs
 * "listening on http://HOST:PORT" (https:// with opts->tls). */
enum usv_err http_server_start(const struct http_opts *opts, const struct route *routes,
                               size_t n_routes, void *app, struct http_server **out);

/* Append the Prometheus exposition of the server's request counters and
 * latency histograms (per route) to @out. */
void http_server_render_stats(struct http_server *srv, struct strbuf *out);

/* Start draining: /readyz answers 503 and every response closes its
 * connection, but new connections are still accepted. */
void http_server_drain(struct http_server *srv);

/* Stop accepting connections; requests in flight go on. Implies drain. */
void http_server_quiesce(struct http_server *srv);

/* Wait (at most @timeout_ms) for in-flight requests, then close every
 * connection and free @srv. Accepts NULL. */
void http_server_stop(struct http_server *srv, unsigned timeout_ms);

/* ---- for handlers --------------------------------------------------- */

/* The application context given to http_server_start(). */
void *http_req_app(struct http_req *req);

/* The server serving @req. */
struct http_server *http_req_server(struct http_req *req);

/* Is the server shutting down (quiesced)? */
bool http_req_is_draining(struct http_req *req);

/* The path segment matched by "{…}" in the route pattern, as an id: a
 * decimal integer in [1, 2^63-1], leading zeros allowed. False otherwise. */
bool http_req_path_id(struct http_req *req, int64_t *out);

/* A request header, or NULL. Borrowed until the request ends. Repeated
 * field lines of a list field (If-Match, If-None-Match) come back combined
 * into one comma-separated list (RFC 9110 5.3); of another field, the
 * first. */
const char *http_req_header(struct http_req *req, const char *name);

/* The request body as a JSON object (borrowed until the request ends).
 * Returns USV_BAD_MEDIA (Content-Type not JSON), USV_TOO_LARGE, or
 * USV_BAD_REQUEST (not UTF-8, not JSON, not an object; the detail says why).
 * @media_types: accepted media types besides application/json, or NULL. */
enum usv_err http_req_json_body(struct http_req *req, const char *const *media_types,
                                json_t **body);

/* The request body as received (after chunked decoding): @len bytes,
 * borrowed until the request ends. Call it after http_req_json_body()
 * (which judged its size); a body past the size limit is cut there. */
const char *http_req_body(struct http_req *req, size_t *len);

/* Who the caller is, as the guard set it (a bearer token's "sub", whole:
 * the verifier refuses one over HTTP_SUBJECT_MAX bytes), or "" when
 * unknown (no authentication). */
const char *http_req_subject(struct http_req *req);

/* Read the query string: @names is a NULL-terminated list of the accepted
 * parameters; values[i] is set to the value of names[i] (borrowed) or NULL
 * when absent. USV_BAD_REQUEST (with a detail naming it) for an unknown,
 * repeated or empty parameter. */
enum usv_err http_req_query(struct http_req *req, const char *const *names,
                            const char **values);

/* Answer with @text (taken: allocated with malloc, @len bytes) of media
 * type @type (a string literal) instead of JSON, when the handler returns
 * USV_OK (for GET /metrics). */
void http_req_reply_text(struct http_req *req, char *text, size_t len, const char *type);

/* Serialize @body (borrowed) now, once, as the JSON response body, and
 * return the bytes that will be sent in @text (NUL-terminated, borrowed
 * until the handler returns) and @len, so that a validator such as an ETag
 * is computed over exactly them. They are sent, instead of the handler's
 * *out, when the handler returns USV_OK, and dropped when it returns
 * anything else (USV_NOT_MODIFIED: a 304 has no body). USV_NOMEM when
 * jansson fails; then nothing is set. */
enum usv_err http_req_reply_json(struct http_req *req, const json_t *body, const char **text,
                                 size_t *len);

/* Success status to send (default 200). */
void http_req_set_status(struct http_req *req, unsigned status);

/* Add a response header. @name is borrowed for the request's life (a
 * string literal); @value is copied. */
void http_req_add_header(struct http_req *req, const char *name, const char *value);

/* Who the caller is, for the access log's "subject" (copied, cut to
 * HTTP_SUBJECT_MAX bytes; the log escapes it). */
#define HTTP_SUBJECT_MAX 255
void http_req_set_subject(struct http_req *req, const char *subject);

/* The problem body's "detail" for an error response (copied). */
void http_req_set_detail(struct http_req *req, const char *fmt, ...) PRINTF_LIKE(2, 3);

#endif
