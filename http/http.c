/* SPDX-License-Identifier: MIT
 * http.c - libmicrohttpd glue, router and response rendering (see http.h).
 *
 * MHD calls on_request() several times per request: once when the headers
 * are in (framing and size checks happen there, so an oversized declared
 * body is refused before it is read), once per piece of body (appended to a
 * buffer capped at MAX_BODY_BYTES; beyond it the rest is discarded), and
 * once at the end, when the router and the handler run. Everything a
 * request owns hangs off struct http_req and is freed in on_completed().
 * This is the only place where enum usv_err becomes an HTTP status. */
#include "http/http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <limits.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/strbuf.h"
#include "orm/orm.h"
#include "base/log.h"
#include "service/metrics.h"
#include "http/router.h"
#include "base/util.h"

#define MAX_RESP_HEADERS 8
#define RID_PREFIX_LEN 9           /* 8 hex digits and '-' */
#define RETRY_AFTER_S "1"
#define HTTP_MAX_JSON_DEPTH 64

struct http_server {
    struct MHD_Daemon *daemon;
    const struct cfg *cfg;
    struct orm_db *db;
    const struct route *routes;
    size_t n_routes;
    MHD_socket quiesced_fd;        /* listen socket after quiesce; closed after stop */
    atomic_int in_flight;          /* requests between first call and completion */
    atomic_bool is_draining;
    atomic_uint_fast64_t next_rid;
    char rid_prefix[RID_PREFIX_LEN + 1];   /* "%08x-", random per process */
    struct metrics *metrics;
    atomic_int_fast64_t schema_version;
    atomic_int n_connections;      /* open TCP connections (notify callback) */
};

/* MHD stops accept()ing at its own limit, leaving clients queued in the
 * listen backlog; ours is enforced by the accept policy instead, which closes
 * a connection beyond MAX_CONNECTIONS at once. MHD's limit sits above it. */
#define MHD_LIMIT_HEADROOM 64

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
    bool is_started;               /* req_start() has run */
    const struct route *route;
    const char *param;             /* the "{…}" segment, inside path */
    size_t param_len;
    uint64_t start_us;
    char rid[32];

    struct strbuf body;            /* at most cfg->max_body_bytes */
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

    unsigned sent_status;          /* for the access log; 0 = nothing sent */
    size_t sent_bytes;
};

/* ---- handler API ---------------------------------------------------- */

struct orm_db *
http_req_db(struct http_req *req)
{
    return req->srv->db;
}

bool
http_req_is_draining(struct http_req *req)
{
    return atomic_load(&req->srv->is_draining);
}

bool
http_req_path_id(struct http_req *req, int64_t *out)
{
    return req->param != NULL && parse_id(req->param, req->param_len, out);
}

const char *
http_req_header(struct http_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

void
http_req_set_status(struct http_req *req, unsigned status)
{
    req->status = status;
}

void
http_req_add_header(struct http_req *req, const char *name, const char *value)
{
    if (req->n_headers == MAX_RESP_HEADERS) {
        log_error("http", "too many response headers; dropped %s", name);
        return;
    }
    req->headers[req->n_headers].name = name;
    req->headers[req->n_headers].value = xstrdup(value);
    req->n_headers++;
}

void
http_req_set_detail(struct http_req *req, const char *fmt, ...)
{
    va_list ap;
    char tmp[512];

    va_start(ap, fmt);
    vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    free(req->detail);
    req->detail = xstrdup(tmp);
}

struct query_scan {
    struct http_req *req;
    const char *const *names;
    const char **values;
    enum usv_err rc;
};

static enum MHD_Result
scan_query_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    struct query_scan *q = cls;
    size_t i;

    for (i = 0; q->names[i] != NULL; i++) {
        if (strcmp(q->names[i], key) == 0)
            break;
    }
    if (q->names[i] == NULL)
        http_req_set_detail(q->req, "unknown query parameter '%.64s'", key);
    else if (q->values[i] != NULL)
        http_req_set_detail(q->req, "query parameter '%s' is repeated", key);
    else if (value == NULL || *value == '\0')
        http_req_set_detail(q->req, "query parameter '%s' is empty", key);
    else {
        q->values[i] = value;
        return MHD_YES;
    }
    q->rc = USV_BAD_REQUEST;
    return MHD_NO;
}

enum usv_err
http_req_query(struct http_req *req, const char *const *names, const char **values)
{
    struct query_scan q = {.req = req, .names = names, .values = values, .rc = USV_OK};

    for (size_t i = 0; names[i] != NULL; i++)
        values[i] = NULL;
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, scan_query_arg, &q);
    return q.rc;
}

/* json_dump_callback()'s sink. jansson hands the text over in small pieces
 * (about fifty for a user): they go to a stack buffer while it has room, so
 * that a body the size of a user costs one allocation; a longer one (a list)
 * moves to a strbuf and grows there. Either way it is serialized once. */
struct dump_sink {
    char head[1024];
    size_t len;               /* bytes in head, while !is_spilled */
    bool is_spilled;
    struct strbuf spill;      /* all the text once head overflowed */
};

static int
sink_add(const char *p, size_t n, void *data)
{
    struct dump_sink *d = data;

    if (!d->is_spilled && n <= sizeof(d->head) - d->len) {
        memcpy(d->head + d->len, p, n);
        d->len += n;
        return 0;
    }
    if (!d->is_spilled) {
        strbuf_add(&d->spill, d->head, d->len);
        d->is_spilled = true;
    }
    strbuf_add(&d->spill, p, n);
    return 0;
}

/* @value as compact JSON text (new, NUL-terminated) of *@len bytes, or NULL
 * when jansson fails. */
static char *
dump_json(const json_t *value, size_t *len)
{
    struct dump_sink d;
    char *text;

    d.len = 0;
    d.is_spilled = false;
    strbuf_init(&d.spill);
    if (json_dump_callback(value, sink_add, &d, JSON_COMPACT) != 0) {
        strbuf_finish(&d.spill);
        return NULL;
    }
    if (d.is_spilled) {
        *len = strbuf_len(&d.spill);
        return strbuf_take(&d.spill);
    }
    text = xmalloc(d.len + 1);
    memcpy(text, d.head, d.len);
    text[d.len] = '\0';
    *len = d.len;
    return text;
}

/* The success body, already serialized: @text (new, @len bytes) is taken. */
static void
set_raw_body(struct http_req *req, size_t len, char *text, const char *type)
{
    free(req->raw_body);
    req->raw_body = text;
    req->raw_len = len;
    req->raw_type = type;
}

void
http_req_reply_metrics(struct http_req *req)
{
    struct orm_pool_stats stats, replica;
    bool has_replica;
    struct strbuf b;
    size_t len;

    orm_db_stats(req->srv->db, &stats);
    has_replica = orm_db_replica_stats(req->srv->db, &replica);
    strbuf_init(&b);
    metrics_render(req->srv->metrics, &stats, has_replica ? &replica : NULL,
                   orm_db_backend(req->srv->db),
                   atomic_load(&req->srv->schema_version), &b);
    len = strbuf_len(&b);   /* before strbuf_take() resets it */
    set_raw_body(req, len, strbuf_take(&b), "text/plain; version=0.0.4; charset=utf-8");
}

enum usv_err
http_req_reply_json(struct http_req *req, const json_t *body, const char **text, size_t *len)
{
    size_t n = 0;
    char *t = dump_json(body, &n);

    if (t == NULL)
        return USV_NOMEM;
    set_raw_body(req, n, t, "application/json");
    *text = t;
    *len = n;
    return USV_OK;
}

/* Is the Content-Type one of @media_types (or application/json), with
 * at most a charset=utf-8 parameter? */
static bool
media_type_ok(const char *ct, const char *const *media_types)
{
    size_t len;
    const char *semi;
    bool ok = false;

    if (ct == NULL)
        return false;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    semi = strchr(ct, ';');
    len = semi != NULL ? (size_t)(semi - ct) : strlen(ct);
    while (len > 0 && (ct[len - 1] == ' ' || ct[len - 1] == '\t'))
        len--;
    if (len == strlen("application/json") && strncasecmp(ct, "application/json", len) == 0)
        ok = true;
    for (size_t i = 0; !ok && media_types != NULL && media_types[i] != NULL; i++) {
        if (len == strlen(media_types[i]) && strncasecmp(ct, media_types[i], len) == 0)
            ok = true;
    }
    /* Parameters: only a charset, and only UTF-8 (RFC 8259 says JSON is UTF-8). */
    for (const char *p = semi; ok && p != NULL; p = strchr(p + 1, ';')) {
        const char *v = p + 1;

        while (*v == ' ' || *v == '\t')
            v++;
        if (*v == '\0')
            continue;
        if (strncasecmp(v, "charset=", 8) != 0)
            continue;  /* unknown parameters are ignored, as RFC 9110 allows */
        v += 8;
        if (*v == '"')
            v++;
        ok = strncasecmp(v, "utf-8", 5) == 0 &&
             (v[5] == '\0' || v[5] == ';' || v[5] == '"' || v[5] == ' ');
    }
    return ok;
}

/* The deepest nesting of arrays and objects in @text, strings skipped.
 * jansson parses recursively (up to 2048 levels, ~170 KB of stack): bodies
 * nested deeper than any user needs are refused before they reach it, so a
 * small connection-thread stack can never overflow. */
static int
nesting_depth(const char *text, size_t len)
{
    int depth = 0, max = 0;
    bool in_string = false;

    for (size_t i = 0; i < len; i++) {
        char c = text[i];

        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > max)
                max = depth;
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    return max;
}

enum usv_err
http_req_json_body(struct http_req *req, const char *const *media_types, json_t **body)
{
    json_error_t err;
    char text[160];
    size_t n = 0;

    if (req->is_json_done)
        goto out;
    req->is_json_done = true;
    req->json_rc = USV_BAD_REQUEST;
    if (!media_type_ok(http_req_header(req, MHD_HTTP_HEADER_CONTENT_TYPE), media_types)) {
        http_req_set_detail(req, "Content-Type must be application/json");
        req->json_rc = USV_BAD_MEDIA;
        goto out;
    }
    if (req->is_too_large) {
        http_req_set_detail(req, "request body is larger than %ld bytes",
                            req->srv->cfg->max_body_bytes);
        req->json_rc = USV_TOO_LARGE;
        goto out;
    }
    if (nesting_depth(strbuf_str(&req->body), strbuf_len(&req->body)) > HTTP_MAX_JSON_DEPTH) {
        http_req_set_detail(req, "body nests JSON deeper than %d levels", HTTP_MAX_JSON_DEPTH);
        goto out;
    }
    /* JSON_ALLOW_NUL: "\u0000" is valid JSON; the model rejects it as a
     * control character (422) instead of the parser calling it invalid. */
    req->json = json_loadb(strbuf_str(&req->body), strbuf_len(&req->body),
                           JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    if (req->json == NULL) {
        /* The parser's text may quote the client's bytes: keep it printable. */
        for (const char *p = err.text; *p != '\0' && n < sizeof(text) - 1; p++)
            text[n++] = (*p >= 0x20 && *p < 0x7F) ? *p : '?';
        text[n] = '\0';
        http_req_set_detail(req, "body is not valid JSON: %s (line %d, column %d)", text,
                            err.line, err.column);
        goto out;
    }
    if (!json_is_object(req->json)) {
        http_req_set_detail(req, "body must be a JSON object");
        goto out;
    }
    req->json_rc = USV_OK;
out:
    if (req->json_rc == USV_OK)
        *body = req->json;
    return req->json_rc;
}

/* ---- router --------------------------------------------------------- */

static enum usv_err
route_request(struct http_req *req)
{
    struct strbuf allow;
    enum usv_err rc;

    strbuf_init(&allow);
    rc = router_find(req->srv->routes, req->srv->n_routes, req->method, req->path,
                     &req->route, &req->param, &req->param_len, &allow);
    if (rc == USV_BAD_METHOD) {
        http_req_add_header(req, MHD_HTTP_HEADER_ALLOW, strbuf_str(&allow));
        http_req_set_detail(req, "%s is not allowed on this resource; allowed: %s",
                            req->method, strbuf_str(&allow));
    }
    strbuf_finish(&allow);
    return rc;
}

/* ---- responses ------------------------------------------------------ */

static const char *
default_detail(enum usv_err rc)
{
    return usv_err_detail(rc);   /* the error table's (base/err.h) */
}

static json_t *
problem_body(struct http_req *req, enum usv_err rc, json_t *extra)
{
    int status = usv_err_http_status(rc);
    json_t *p = json_object();
    char buf[64];

    if (p == NULL)
        return NULL;
    json_object_set_new(p, "type", json_string("about:blank"));
    json_object_set_new(p, "title", json_string(usv_err_title(rc)));
    json_object_set_new(p, "status", json_integer(status));
    if (rc == USV_INVALID && req->detail == NULL && json_is_object(extra)) {
        size_t n = json_array_size(json_object_get(extra, "errors"));

        snprintf(buf, sizeof(buf), n == 1 ? "%zu field is invalid" : "%zu fields are invalid",
                 n);
        json_object_set_new(p, "detail", json_string(buf));
    } else {
        json_object_set_new(p, "detail",
                            json_string(req->detail != NULL ? req->detail : default_detail(rc)));
    }
    if (json_is_object(extra))
        json_object_update_missing(p, extra);
    return p;
}

static enum MHD_Result
respond(struct http_req *req, enum usv_err rc, json_t *out, bool must_close)
{
    const char *ctype = "application/json";
    struct MHD_Response *resp;
    unsigned status;
    char *text = NULL;
    size_t len = 0;
    enum MHD_Result ret;

    if (rc == USV_OK || rc == USV_NOT_MODIFIED) {
        status = rc == USV_OK ? (req->status != 0 ? req->status : 200) : 304;
        if (req->raw_body != NULL && rc == USV_OK) {
            text = req->raw_body;
            len = req->raw_len;
            req->raw_body = NULL;
            ctype = req->raw_type;
        } else if (out != NULL && status != 204 && status != 304) {
            text = dump_json(out, &len);
        }
    } else {
        json_t *problem = problem_body(req, rc, out);

        status = (unsigned)usv_err_http_status(rc);
        ctype = "application/problem+json";
        text = problem != NULL ? dump_json(problem, &len) : NULL;
        json_decref(problem);
        if (rc == USV_UNAVAILABLE || rc == USV_RETRY)
            http_req_add_header(req, MHD_HTTP_HEADER_RETRY_AFTER, RETRY_AFTER_S);
        if (rc == USV_NOMEM || rc == USV_INTERNAL)
            log_error("http", "%s %s failed with %s rid=%s", req->method, req->path,
                      usv_err_name(rc), req->rid);
    }
    json_decref(out);
    if (text != NULL) {
        /* MHD sends our buffer as it is and frees it: no copy. */
        resp = MHD_create_response_from_buffer_with_free_callback(len, text, free);
    } else {
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    }
    if (resp == NULL) {
        free(text);
        return MHD_NO;
    }
    if (text != NULL)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    for (size_t i = 0; i < req->n_headers; i++)
        MHD_add_response_header(resp, req->headers[i].name, req->headers[i].value);
    MHD_add_response_header(resp, "X-Request-Id", req->rid);
    /* While draining, no connection is kept for reuse: the balancer's next
     * request opens a new one, to another instance. */
    if (must_close || atomic_load(&req->srv->is_draining))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    ret = MHD_queue_response(req->conn, status, resp);
    MHD_destroy_response(resp);
    req->sent_status = status;
    req->sent_bytes = len;
    return ret;
}

/* Refuse a request before reading its body; the connection is closed. */
static enum MHD_Result
refuse(struct http_req *req, enum usv_err rc, const char *detail)
{
    http_req_set_detail(req, "%s", detail);
    return respond(req, rc, NULL, true);
}

/* ---- MHD callbacks -------------------------------------------------- */

/* MHD_OPTION_URI_LOG_CALLBACK: the first thing MHD calls for a request,
 * with the target as received (before '?' splitting and unescaping). The
 * request's state is born here and completed on the first on_request(). */
static void *
req_create(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct http_server *srv = cls;
    struct http_req *req = xcalloc(1, sizeof(*req));

    req->srv = srv;
    req->conn = conn;
    req->raw_target = uri;
    req->raw_target_len = uri != NULL ? strlen(uri) : 0;
    req->start_us = monotonic_us();
    strbuf_init(&req->body);
    atomic_fetch_add(&srv->in_flight, 1);
    return req;
}

/* A new request id: the process's prefix and "%06llx" of a counter. Formatted
 * by hand: snprintf() cost more than the rest of req_start(). */
static void
make_rid(struct http_req *req)
{
    static const char hex[] = "0123456789abcdef";
    uint64_t n = atomic_fetch_add(&req->srv->next_rid, 1);
    char digits[16];
    size_t n_digits = 0;
    char *p = req->rid;

    do {
        digits[n_digits++] = hex[n & 0xF];
        n >>= 4;
    } while (n != 0 || n_digits < 6);
    memcpy(p, req->srv->rid_prefix, RID_PREFIX_LEN);
    p += RID_PREFIX_LEN;
    while (n_digits > 0)
        *p++ = digits[--n_digits];
    *p = '\0';
}

/* The first on_request(): the request line and headers are parsed. */
static void
req_start(struct http_req *req, const char *url, const char *method)
{
    const char *rid = http_req_header(req, "X-Request-Id");

    req->is_started = true;
    req->method = method;
    req->path = url;
    /* Honour a sane incoming request id so logs correlate across hops. */
    if (rid != NULL && rid[0] != '\0' && strlen(rid) < sizeof(req->rid) &&
        strspn(rid, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") ==
            strlen(rid))
        snprintf(req->rid, sizeof(req->rid), "%s", rid);
    else
        make_rid(req);
    log_set_request_id(req->rid);   /* every log line of this request carries it */
}

static void
req_destroy(struct http_req *req)
{
    if (req == NULL)
        return;
    atomic_fetch_sub(&req->srv->in_flight, 1);
    strbuf_finish(&req->body);
    json_decref(req->json);
    for (size_t i = 0; i < req->n_headers; i++)
        free(req->headers[i].value);
    free(req->detail);
    free(req->raw_body);
    free(req);
}

/* May an oversized body be refused before it is read? Only when nothing
 * API.md orders before 413 can apply: the route judges its body first and
 * the media type is acceptable (415 comes first). */
static bool
is_refusable_early(struct http_req *req)
{
    const struct route *route = NULL;
    const char *param = NULL;
    size_t param_len = 0;
    struct strbuf allow;
    enum usv_err rc;

    strbuf_init(&allow);
    rc = router_find(req->srv->routes, req->srv->n_routes, req->method, req->path, &route,
                     &param, &param_len, &allow);
    strbuf_finish(&allow);
    return rc == USV_OK && route->is_body_first &&
           media_type_ok(http_req_header(req, MHD_HTTP_HEADER_CONTENT_TYPE), NULL);
}

/* NUL bytes (RFC 9110 5.5: reject). libmicrohttpd 0.9.75 hands the request
 * target and header fields over as C strings, so a NUL inside one silently
 * shortens it ("Content-Length: 17\0 999" reads as 17). The bytes still lie in
 * MHD's read buffer, in arrival order: the target ends right before the
 * version (one SP, overwritten with NUL), and each field is followed by its
 * line terminator (CR LF or LF, overwritten with NULs) and then the next
 * field's name. Anything else there is what followed an embedded NUL. */
struct header_count {
    unsigned host, content_length;
    const char *prev_end;          /* end of the previous field's value */
    bool has_nul;
};

static bool
is_terminator_gap(const char *from, const char *to)
{
    if (to - from < 1 || to - from > 2)
        return false;
    for (const char *p = from; p < to; p++) {
        if (*p != '\0')
            return false;
    }
    return true;
}

static enum MHD_Result
count_header(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
             const char *value, size_t value_size)
{
    struct header_count *n = cls;

    if (n->prev_end != NULL && !is_terminator_gap(n->prev_end, key))
        n->has_nul = true;
    n->prev_end = value != NULL ? value + value_size : NULL;
    if (strcasecmp(key, MHD_HTTP_HEADER_HOST) == 0)
        n->host++;
    else if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
        n->content_length++;
    return MHD_YES;
}

/* First call: headers are in. Check framing (RFC 9112) and the declared
 * size; a refused request closes its connection, since what follows on it
 * cannot be framed reliably. */
static enum MHD_Result
on_headers(struct http_req *req, const char *version)
{
    const char *cl = http_req_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
    const char *te = http_req_header(req, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    struct header_count n = {0, 0, NULL, false};
    long declared;

    if (version[0] != '\0' && req->raw_target != NULL &&
        version != req->raw_target + req->raw_target_len + 1)
        return refuse(req, USV_BAD_REQUEST, "the request target must not contain NUL bytes");
    MHD_get_connection_values_n(req->conn, MHD_HEADER_KIND, count_header, &n);
    /* The last field: its terminator's first byte, then a second NUL (LF of
     * CR LF, or the empty line after LF); text there followed a hidden NUL. */
    if (n.prev_end != NULL && n.prev_end[0] == '\0' && n.prev_end[1] != '\0')
        n.has_nul = true;
    if (n.has_nul)
        return refuse(req, USV_BAD_REQUEST, "header fields must not contain NUL bytes");
    if (cl != NULL && te != NULL)
        return refuse(req, USV_BAD_REQUEST,
                      "Content-Length and Transfer-Encoding must not both be present");
    if (n.content_length > 1)
        return refuse(req, USV_BAD_REQUEST, "Content-Length must appear at most once");
    if (n.host > 1)
        return refuse(req, USV_BAD_REQUEST, "Host must appear at most once");
    if (strcmp(version, MHD_HTTP_VERSION_1_1) == 0 && n.host == 0)
        return refuse(req, USV_BAD_REQUEST, "HTTP/1.1 requests must carry a Host header");
    if (cl != NULL && !parse_long(cl, 0, LONG_MAX, &declared))
        return refuse(req, USV_BAD_REQUEST, "Content-Length must be a decimal number");
    if (cl != NULL && declared > req->srv->cfg->max_body_bytes && is_refusable_early(req)) {
        char detail[96];

        snprintf(detail, sizeof(detail), "request body is larger than %ld bytes",
                 req->srv->cfg->max_body_bytes);
        return refuse(req, USV_TOO_LARGE, detail);
    }
    /* Otherwise an oversized body is read and discarded as it streams in, and
     * its 413 comes in API.md's order (after 404 and 412, after 415). */
    return MHD_YES;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_data_size,
           void **req_cls)
{
    struct http_server *srv = cls;
    struct http_req *req = *req_cls;
    json_t *out = NULL;
    enum usv_err rc;

    if (req == NULL) {
        /* No URI log callback call (cannot happen with MHD 0.9.75, but cheap). */
        req = req_create(srv, NULL, conn);
        *req_cls = req;
    }
    if (!req->is_started) {
        req_start(req, url, method);
        return on_headers(req, version);
    }
    if (*upload_data_size != 0) {
        size_t cap = (size_t)srv->cfg->max_body_bytes;

        if (!req->is_too_large && strbuf_len(&req->body) + *upload_data_size > cap) {
            req->is_too_large = true;   /* discard the rest; answer 413 at the end */
            strbuf_finish(&req->body);
        }
        if (!req->is_too_large)
            strbuf_add(&req->body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    rc = route_request(req);
    if (rc == USV_OK)
        rc = req->route->handler(req, &out);
    return respond(req, rc, out, false);
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
             enum MHD_RequestTerminationCode toe)
{
    struct http_req *req = *req_cls;
    uint64_t duration_us;

    if (req == NULL)
        return;
    duration_us = monotonic_us() - req->start_us;
    metrics_observe(req->srv->metrics,
                    req->route != NULL ? (size_t)(req->route - req->srv->routes)
                                       : req->srv->n_routes,
                    req->sent_status, duration_us);
    if (log_enabled(LOG_INFO)) {
        /* MHD may refuse a request (bad framing) before on_request() runs. */
        const char *target = req->is_started ? req->path : "-";
        char path[256];
        size_t n = strnlen(target, sizeof(path) - 1);
        struct log_field f[] = {
            {"method", req->is_started ? req->method : "-", 0},
            {"path", path, 0},
            {"route", req->route != NULL ? req->route->pattern : "-", 0},
            {"status", NULL, req->sent_status},
            {"bytes", NULL, (double)req->sent_bytes},
            {"duration_ms", NULL, (double)duration_us / 1000.0},
            {"request_id", req->rid, 0},
            {"outcome", toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "ok" : "aborted", 0},
        };

        memcpy(path, target, n);   /* cut as snprintf() into it did */
        path[n] = '\0';
        log_fields(LOG_INFO, "http", "request", f, ARRAY_SIZE(f));
    }
    req_destroy(req);
    *req_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) PRINTF_LIKE(2, 0);

static void
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];
    size_t n;

    vsnprintf(line, sizeof(line), fmt, ap);
    n = strlen(line);
    while (n > 0 && line[n - 1] == '\n')
        line[--n] = '\0';
    log_warn("mhd", "%s", line);
}

/* Percent-decode @uri in place, like MHD's default, except that "%00" stays
 * as it is: a decoded NUL would silently cut "/healthz%00" to "/healthz". */
static size_t
unescape(void *cls, struct MHD_Connection *conn, char *uri)
{
    char *r = uri, *w = uri;

    while (*r != '\0') {
        unsigned v;

        if (r[0] == '%' && isxdigit((unsigned char)r[1]) && isxdigit((unsigned char)r[2]) &&
            sscanf(r + 1, "%2x", &v) == 1 && v != 0) {
            *w++ = (char)v;
            r += 3;
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
    return (size_t)(w - uri);
}

static enum MHD_Result
on_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    struct http_server *srv = cls;

    return atomic_load(&srv->n_connections) < srv->cfg->max_connections ? MHD_YES : MHD_NO;
}

static void
on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
              enum MHD_ConnectionNotificationCode toe)
{
    struct http_server *srv = cls;

    if (toe == MHD_CONNECTION_NOTIFY_STARTED)
        atomic_fetch_add(&srv->n_connections, 1);
    else if (toe == MHD_CONNECTION_NOTIFY_CLOSED)
        atomic_fetch_sub(&srv->n_connections, 1);
}

/* ---- server --------------------------------------------------------- */

enum usv_err
http_server_start(const struct cfg *cfg, struct orm_db *db, const struct route *routes,
                  size_t n_routes, struct http_server **out)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    struct http_server *srv;
    const union MHD_DaemonInfo *info;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_ITC | MHD_USE_ERROR_LOG;
    char port[8];
    int gai;

    snprintf(port, sizeof(port), "%ld", cfg->port);
    gai = getaddrinfo(cfg->host, port, &hints, &ai);
    if (gai != 0) {
        log_error("http", "cannot resolve listen address %s: %s", cfg->host, gai_strerror(gai));
        return USV_BAD_REQUEST;
    }
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    srv = xcalloc(1, sizeof(*srv));
    srv->cfg = cfg;
    srv->db = db;
    srv->routes = routes;
    srv->n_routes = n_routes;
    srv->quiesced_fd = MHD_INVALID_SOCKET;
    snprintf(srv->rid_prefix, sizeof(srv->rid_prefix), "%08x-",
             (unsigned)(monotonic_us() ^ ((unsigned)getpid() << 16)));
    srv->metrics = metrics_create(routes, n_routes);
    srv->daemon = MHD_start_daemon(
        flags, (uint16_t)cfg->port, on_accept, srv, on_request, srv,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
        MHD_OPTION_SOCK_ADDR, ai->ai_addr,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
        MHD_OPTION_URI_LOG_CALLBACK, req_create, srv,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
        MHD_OPTION_CONNECTION_LIMIT,
        (unsigned int)cfg->max_connections + MHD_LIMIT_HEADROOM,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)cfg->max_connections_per_ip,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)cfg->connection_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)cfg->max_header_bytes,
        MHD_OPTION_THREAD_STACK_SIZE, (size_t)cfg->thread_stack_kb * 1024,
        /* Level 0: MHD's own strict checks answer with an HTML body; this
         * module checks Host and framing itself and answers problem+json. */
        MHD_OPTION_STRICT_FOR_CLIENT, (int)0,
        MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL,
        MHD_OPTION_END);
    freeaddrinfo(ai);
    if (srv->daemon == NULL) {
        log_error("http", "cannot listen on %s:%ld (address in use or not available)",
                  cfg->host, cfg->port);
        metrics_destroy(srv->metrics);
        free(srv);
        return USV_UNAVAILABLE;
    }
    info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    log_info("http", "listening on http://%s%s%s:%u", strchr(cfg->host, ':') ? "[" : "",
             cfg->host, strchr(cfg->host, ':') ? "]" : "", info != NULL ? info->port : 0);
    *out = srv;
    return USV_OK;
}

void
http_server_set_schema_version(struct http_server *srv, int64_t version)
{
    atomic_store(&srv->schema_version, version);
}

void
http_server_drain(struct http_server *srv)
{
    atomic_store(&srv->is_draining, true);
}

void
http_server_quiesce(struct http_server *srv)
{
    http_server_drain(srv);
    if (srv->quiesced_fd == MHD_INVALID_SOCKET)
        srv->quiesced_fd = MHD_quiesce_daemon(srv->daemon);
}

void
http_server_stop(struct http_server *srv, unsigned timeout_ms)
{
    uint64_t deadline;
    int left;

    if (srv == NULL)
        return;
    http_server_quiesce(srv);
    deadline = monotonic_ms() + timeout_ms;
    while ((left = atomic_load(&srv->in_flight)) > 0 && monotonic_ms() < deadline) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 10 * 1000 * 1000};

        nanosleep(&ts, NULL);
    }
    if (left > 0)
        log_warn("http", "%d requests still in flight after %u ms; closing them", left,
                 timeout_ms);
    MHD_stop_daemon(srv->daemon);
    if (srv->quiesced_fd != MHD_INVALID_SOCKET)
        close(srv->quiesced_fd);
    metrics_destroy(srv->metrics);
    free(srv);
}
