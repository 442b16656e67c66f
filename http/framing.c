/* SPDX-License-Identifier: MIT
 * framing.c - the checks of a request head, before any body is read (see
 * http_int.h).
 *
 * They run on the first access-handler call, when libmicrohttpd has parsed
 * the request line and the header fields. A head that could be framed two
 * ways (RFC 9112 section 6: Content-Length and Transfer-Encoding, repeated
 * or malformed Content-Length, NUL bytes that shorten a field) is refused
 * with one 400 problem and Connection: close, so that nothing after the
 * head is ever read as a request. A body declared larger than the limit is
 * refused here with 413 when nothing API.md orders before 413 can apply.
 * Thread-safety: called on the connection thread of the request. */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/util.h"
#include "http/http_int.h"
#include "http/router.h"

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

enum MHD_Result
framing_check_head(struct http_req *req, const char *version)
{
    const char *cl = http_req_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
    const char *te = http_req_header(req, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    struct header_count n = {0, 0, NULL, false};
    long declared;

    if (version[0] != '\0' && req->raw_target != NULL &&
        version != req->raw_target + req->raw_target_len + 1)
        return reply_refuse(req, USV_BAD_REQUEST, "the request target must not contain NUL bytes");
    MHD_get_connection_values_n(req->conn, MHD_HEADER_KIND, count_header, &n);
    /* The last field: its terminator's first byte, then a second NUL (LF of
     * CR LF, or the empty line after LF); text there followed a hidden NUL. */
    if (n.prev_end != NULL && n.prev_end[0] == '\0' && n.prev_end[1] != '\0')
        n.has_nul = true;
    if (n.has_nul)
        return reply_refuse(req, USV_BAD_REQUEST, "header fields must not contain NUL bytes");
    if (cl != NULL && te != NULL)
        return reply_refuse(req, USV_BAD_REQUEST,
                      "Content-Length and Transfer-Encoding must not both be present");
    if (n.content_length > 1)
        return reply_refuse(req, USV_BAD_REQUEST, "Content-Length must appear at most once");
    if (n.host > 1)
        return reply_refuse(req, USV_BAD_REQUEST, "Host must appear at most once");
    if (strcmp(version, MHD_HTTP_VERSION_1_1) == 0 && n.host == 0)
        return reply_refuse(req, USV_BAD_REQUEST, "HTTP/1.1 requests must carry a Host header");
    if (cl != NULL && !parse_long(cl, 0, LONG_MAX, &declared))
        return reply_refuse(req, USV_BAD_REQUEST, "Content-Length must be a decimal number");
    if (cl != NULL && declared > req->srv->opts.max_body_bytes && is_refusable_early(req)) {
        char detail[96];

        snprintf(detail, sizeof(detail), "request body is larger than %ld bytes",
                 req->srv->opts.max_body_bytes);
        return reply_refuse(req, USV_TOO_LARGE, detail);
    }
    /* Otherwise an oversized body is read and discarded as it streams in, and
     * its 413 comes in API.md's order (after 404 and 412, after 415). */
    return MHD_YES;
}
