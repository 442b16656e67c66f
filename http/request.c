/* SPDX-License-Identifier: MIT
 * request.c - a request's state and the http_req_* API (see http.h).
 *
 * A struct http_req is born in MHD's URI log callback (req_create(), before
 * the headers are parsed), completed on the first access-handler call
 * (req_start(): method, path, request id) and freed when MHD reports the
 * request done. Everything a handler reads comes from here: the matched
 * path segment, headers and query arguments (MHD's, borrowed for the
 * request's life), and the body, buffered up to max_body_bytes and parsed
 * once as JSON on first demand.
 * Thread-safety: a request belongs to the connection thread serving it. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/log.h"
#include "base/util.h"
#include "http/http_int.h"

#define HTTP_MAX_JSON_DEPTH 64

/* ---- handler API ---------------------------------------------------- */

void *
http_req_app(struct http_req *req)
{
    return req->srv->app;
}

struct http_server *
http_req_server(struct http_req *req)
{
    return req->srv;
}

const char *
http_req_body(struct http_req *req, size_t *len)
{
    *len = strbuf_len(&req->body);
    return strbuf_str(&req->body);
}

const char *
http_req_subject(struct http_req *req)
{
    return req->subject;
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

/* Field lines of one name combine into one comma-separated list (RFC 9110
 * 5.3) when the field is defined as a list: the second and later values are
 * appended to the first. A singleton field (Content-Type, X-Request-Id...)
 * repeated keeps its first value, as MHD's lookup gives it. */
static const char *const list_fields[] = {"If-Match", "If-None-Match"};

static bool
is_list_field(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(list_fields); i++) {
        if (strcasecmp(name, list_fields[i]) == 0)
            return true;
    }
    return false;
}

struct header_join {
    const char *name;
    const char *first;
    struct strbuf joined;          /* used from the second line on */
    size_t n;
};

static enum MHD_Result
join_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    struct header_join *j = cls;

    if (strcasecmp(key, j->name) != 0 || value == NULL)
        return MHD_YES;
    if (j->n == 1)
        strbuf_adds(&j->joined, j->first);
    if (j->n >= 1) {
        strbuf_adds(&j->joined, ", ");
        strbuf_adds(&j->joined, value);
    } else {
        j->first = value;
    }
    j->n++;
    return MHD_YES;
}

const char *
http_req_header(struct http_req *req, const char *name)
{
    struct header_join j = {.name = name, .first = NULL, .n = 0};

    if (!is_list_field(name))
        return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
    strbuf_init(&j.joined);
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, join_header, &j);
    if (j.n <= 1)
        return j.first;
    /* Kept until the request ends, with the other values it owns. */
    if (req->n_joined == ARRAY_SIZE(req->joined)) {
        strbuf_finish(&j.joined);
        return j.first;
    }
    req->joined[req->n_joined] = strbuf_take(&j.joined);
    return req->joined[req->n_joined++];
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
http_req_set_subject(struct http_req *req, const char *subject)
{
    size_t n = strnlen(subject, HTTP_SUBJECT_MAX);

    memcpy(req->subject, subject, n);
    req->subject[n] = '\0';
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
    if (q->names[i] == NULL) {
        char shown[3 * 64 + 1];
        size_t n = 0;

        /* The name as printable ASCII (a detail must stay valid UTF-8). */
        for (const char *p = key; *p != '\0' && n + 4 <= sizeof(shown) && p - key < 64; p++) {
            unsigned char c = (unsigned char)*p;

            if (c >= 0x20 && c < 0x7F && c != '%') {
                shown[n++] = (char)c;
            } else {
                snprintf(shown + n, sizeof(shown) - n, "%%%02X", c);
                n += 3;
            }
        }
        shown[n] = '\0';
        http_req_set_detail(q->req, "unknown query parameter '%s'", shown);
    } else if (q->values[i] != NULL) {
        http_req_set_detail(q->req, "query parameter '%s' is repeated", key);
    } else if (value == NULL || *value == '\0') {
        http_req_set_detail(q->req, "query parameter '%s' is empty", key);
    } else {
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

bool
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
                            req->srv->opts.max_body_bytes);
        req->json_rc = USV_TOO_LARGE;
        goto out;
    }
    /* jansson parses recursively (up to 2048 levels, ~170 KB of stack): bodies
     * nested deeper than any user needs are refused before they reach it, so
     * a small connection-thread stack can never overflow. */
    if (json_nesting_depth(strbuf_str(&req->body), strbuf_len(&req->body)) >
        HTTP_MAX_JSON_DEPTH) {
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

/* ---- life of a request ---------------------------------------------- */

/* The request of this connection thread (see http_int.h). */
static _Thread_local struct http_req *current;
static _Thread_local struct MHD_Connection *current_conn;

struct http_req *
req_current(void)
{
    return current;
}

struct MHD_Connection *
req_current_connection(void)
{
    return current_conn;
}

struct http_req *
req_create(struct http_server *srv, const char *uri, struct MHD_Connection *conn)
{
    struct http_req *req = xcalloc(1, sizeof(*req));

    req->srv = srv;
    req->conn = conn;
    req->raw_target = uri;
    req->raw_target_len = uri != NULL ? strlen(uri) : 0;
    if (uri != NULL) {
        req->target = xmalloc(req->raw_target_len + 1);
        memcpy(req->target, uri, req->raw_target_len + 1);
    }
    req->start_us = monotonic_us();
    strbuf_init(&req->body);
    atomic_fetch_add(&srv->in_flight, 1);
    current = req;
    current_conn = conn;
    return req;
}

/* A new request id: the process's prefix and "%06llx" of a counter. Formatted
 * by hand: snprintf() cost more than the rest of req_start(). */
void
req_new_rid(struct http_req *req)
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

void
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
        req_new_rid(req);
    log_set_request_id(req->rid);   /* every log line of this request carries it */
}

void
req_destroy(struct http_req *req)
{
    if (req == NULL)
        return;
    if (current == req) {
        current = NULL;
        /* The request is over: a later line of this thread (MHD refusing
         * the connection's next request line, say) is not its. */
        log_set_request_id(NULL);
    }
    atomic_fetch_sub(&req->srv->in_flight, 1);
    strbuf_finish(&req->body);
    json_decref(req->json);
    for (size_t i = 0; i < req->n_headers; i++)
        free(req->headers[i].value);
    free(req->detail);
    free(req->raw_body);
    free(req->target);
    for (size_t i = 0; i < req->n_joined; i++)
        free(req->joined[i]);
    free(req);
}

void
req_add_body(struct http_req *req, const char *data, size_t len)
{
    size_t cap = (size_t)req->srv->opts.max_body_bytes;

    if (!req->is_too_large && strbuf_len(&req->body) + len > cap) {
        req->is_too_large = true;   /* discard the rest; answer 413 at the end */
        strbuf_finish(&req->body);
    }
    if (!req->is_too_large)
        strbuf_add(&req->body, data, len);
}
