/* SPDX-License-Identifier: MIT
 * reply.c - the response to a request: the only place where an enum usv_err
 * becomes an HTTP status (see http_int.h).
 *
 * A handler either has its success body serialized early
 * (http_req_reply_json(), so that an ETag covers exactly the bytes sent) or
 * returns a JSON value serialized here; an error becomes an RFC 9457
 * problem+json body {type, title, status, detail} plus the handler's extra
 * members. Every response carries X-Request-Id; Connection: close when the
 * request was refused before its body or the server is draining. Bodies are
 * handed to MHD without a copy (it frees them).
 * Thread-safety: called on the connection thread of the request. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "base/log.h"
#include "base/util.h"
#include "http/http_int.h"

#define RETRY_AFTER_S "1"

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
http_req_reply_text(struct http_req *req, char *text, size_t len, const char *type)
{
    set_raw_body(req, len, text, type);
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

/* ---- the response ---------------------------------------------------- */

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

enum MHD_Result
reply_send(struct http_req *req, enum usv_err rc, json_t *out, bool must_close)
{
    const char *ctype = "application/json";
    struct MHD_Response *resp;
    unsigned status;
    char *text = NULL;
    size_t len = 0;
    enum MHD_Result ret;

    if (rc == USV_OK || rc == USV_NOT_MODIFIED) {
        status = rc == USV_OK ? (req->status != 0 ? req->status : 200) : 304;
        /* A 304 carries the Content-Length the 200 would have had (RFC 9110
         * 8.6), never a "0": MHD 0.9.75 always adds one and sends no body
         * for a 304, so it is given the 200's bytes (the handler serialized
         * them for the ETag), and no Content-Type. */
        if (status == 304 && req->raw_body != NULL) {
            text = req->raw_body;
            len = req->raw_len;
            req->raw_body = NULL;
            ctype = NULL;
        } else if (req->raw_body != NULL && rc == USV_OK) {
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
        if (rc == USV_NOMEM || rc == USV_INTERNAL) {
            /* Fields, not a formatted message: the path is the client's. */
            struct log_field f[] = {{"method", req->method, 0}, {"path", req->path, 0},
                                    {"error", usv_err_name(rc), 0}, {"rid", req->rid, 0}};

            log_fields(LOG_ERROR, "http", "request failed", f, ARRAY_SIZE(f));
        }
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
    if (text != NULL && ctype != NULL)
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
    req->sent_bytes = status == 304 ? 0 : len;
    return ret;
}

enum MHD_Result
reply_refuse(struct http_req *req, enum usv_err rc, const char *detail)
{
    http_req_set_detail(req, "%s", detail);
    return reply_send(req, rc, NULL, true);
}

/* Write @len bytes on the non-blocking socket @fd, waiting at most a second
 * each time it is full. */
static bool
send_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};

            if (poll(&pfd, 1, 1000) > 0)
                continue;
        }
        return false;
    }
    return true;
}

void
reply_mhd_error(struct http_req *req, unsigned status)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    const char *detail;
    enum usv_err rc;
    struct strbuf out;
    json_t *problem;
    char *body;
    size_t len = 0;
    char date[64];
    struct tm tm;
    time_t now = time(NULL);

    switch (status) {
    case 400:
        rc = USV_BAD_REQUEST;
        detail = req->mhd_detail != NULL ? req->mhd_detail : "the request head is malformed";
        break;
    case 413:
        rc = USV_TOO_LARGE;
        detail = "Content-Length is larger than this server accepts";
        break;
    case 414:
        rc = USV_URI_TOO_LONG;
        detail = "the request target does not fit in MAX_HEADER_BYTES";
        break;
    case 431:
        rc = USV_HEAD_TOO_LARGE;
        detail = "the request head is larger than MAX_HEADER_BYTES";
        break;
    case 505:
        rc = USV_BAD_VERSION;
        detail = "only HTTP/1.0 and HTTP/1.1 are supported";
        break;
    default:
        return;
    }
    if (ci == NULL || req->sent_status != 0)
        return;
    if (req->rid[0] == '\0')
        req_new_rid(req);
    http_req_set_detail(req, "%s", detail);
    problem = problem_body(req, rc, NULL);
    body = problem != NULL ? dump_json(problem, &len) : NULL;
    json_decref(problem);
    if (body == NULL)
        return;
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    strbuf_init(&out);
    strbuf_addf(&out,
                "HTTP/1.1 %u %s\r\nDate: %s\r\nConnection: close\r\n"
                "Content-Type: application/problem+json\r\nX-Request-Id: %s\r\n"
                "Content-Length: %zu\r\n\r\n",
                status, usv_err_title(rc), date, req->rid, len);
    strbuf_add(&out, body, len);
    if (send_all(ci->connect_fd, strbuf_str(&out), strbuf_len(&out))) {
        req->sent_status = status;
        req->sent_bytes = len;
    }
    /* Whatever was written, MHD's page must not follow it. */
    shutdown(ci->connect_fd, SHUT_WR);
    req->is_mhd_replaced = true;
    strbuf_finish(&out);
    free(body);
}
