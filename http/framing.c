/* SPDX-License-Identifier: MIT
 * framing.c - the checks of a request head, before any body is read (see
 * http_int.h, head.h).
 *
 * They run on the first access-handler call, when libmicrohttpd 0.9.75 has
 * parsed the request line and the header fields: this file rebuilds the
 * head from MHD's pieces (with what only MHD's buffer still shows: extra
 * whitespace in the request line, folded lines, NUL bytes) and hands it to
 * head_check(), which applies API.md "HTTP/1.1 strictness". A refused head
 * gets one problem response with Connection: close, so that nothing after
 * it is ever read as a request. A body declared larger than the limit is
 * refused here with 413 when nothing API.md orders before 413 can apply.
 * What MHD refuses itself before this call (an unparsable Content-Length,
 * a head larger than its memory, an unsupported version) is answered by
 * reply_mhd_error() from MHD's log callback (server.c).
 * Thread-safety: called on the connection thread of the request. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/util.h"
#include "http/head.h"
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

/* MHD 0.9.75 hands the request target and header fields over as C strings
 * in its read buffer, in arrival order, with each delimiter overwritten by
 * NUL: the SP after method and target, the colon of each field line, the CR
 * LF (or LF) that ends a line. So a NUL inside a field silently shortens it
 * ("Content-Length: 17\0 999" reads as 17), and a folded line's value is
 * copied elsewhere. What lies between one field's value and the next
 * field's name must be exactly its line terminator; a value must start
 * right after its name's colon and optional whitespace. */
struct collect {
    struct head_field *fields;
    size_t n, cap;
    const char *prev_end;          /* end of the previous field's value */
    bool has_nul;
    bool is_moved;                 /* a value was not where its line was */
};

/* Is [from, to) a line terminator: one or two NULs? */
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
collect_field(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
              const char *value, size_t value_size)
{
    struct collect *c = cls;
    struct head_field *f;
    const char *p;

    if (c->n == c->cap)
        return MHD_YES;   /* counted before: cannot happen */
    f = &c->fields[c->n++];
    f->name = key;
    f->name_len = key_size;
    f->value = value != NULL ? value : "";
    f->value_len = value != NULL ? value_size : 0;
    f->is_folded = false;
    /* Where the value should start: after the colon (now NUL) and OWS. */
    p = key + key_size;
    if (value != NULL && *p == '\0') {
        p++;
        while (p < value && (*p == ' ' || *p == '\t'))
            p++;
    }
    if (value != NULL && p != value && value_size > 0) {
        f->is_folded = true;   /* MHD joined a continuation line elsewhere */
        c->is_moved = true;
    }
    if (!c->is_moved && c->prev_end != NULL && !is_terminator_gap(c->prev_end, key))
        c->has_nul = true;
    c->prev_end = value != NULL ? value + value_size : NULL;
    /* OWS around the value is not part of it (RFC 9112 5). */
    while (f->value_len > 0 && (f->value[f->value_len - 1] == ' ' ||
                                f->value[f->value_len - 1] == '\t'))
        f->value_len--;
    return MHD_YES;
}

static enum MHD_Result
count_field(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (*(size_t *)cls)++;
    return MHD_YES;
}

/* The request line as sent: method SP target SP version, each delimiter
 * now a NUL. The target is judged as the URI log callback saw it (MHD
 * splits the query in place later); a version further away than that
 * target's end means a NUL hid the rest; a target that does not start
 * right after the method had more whitespace before it. */
static void
request_line(struct http_req *req, const char *version, struct head *h, bool *has_nul)
{
    h->method = req->method;
    h->method_len = strlen(req->method);
    h->target = req->target != NULL ? req->target : req->path;
    h->target_len = strlen(h->target);
    h->version = version;
    h->version_len = strlen(version);
    if (req->raw_target == NULL)
        return;
    if (req->raw_target != req->method + h->method_len + 1)
        h->has_bad_spacing = true;
    if (version > req->raw_target + req->raw_target_len + 1)
        *has_nul = true;   /* the target went on behind a NUL */
}

/* Mark [p, p+n) as explained in the map of the head [start, start+size). */
static void
account(bool *map, const char *start, size_t size, const char *p, size_t n)
{
    if (p < start || p >= start + size)
        return;   /* a folded value MHD copied elsewhere */
    if (n > (size_t)(start + size - p))
        n = (size_t)(start + size - p);
    memset(map + (p - start), 1, n);
}

/* Is every byte of the head that MHD read something it handed over (method,
 * target, version, names, values), a delimiter it overwrote (NUL), or OWS?
 * MHD 0.9.75 drops some lines without a word (an empty field name: ": x");
 * what they held is left over here. */
static bool
is_head_explained(struct http_req *req, const struct head *h, const struct collect *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    const char *start = req->method;
    size_t size;
    bool *map, ok = true;

    if (ci == NULL || req->raw_target == NULL || ci->header_size == 0)
        return true;
    size = ci->header_size;
    map = xcalloc(size, sizeof(*map));
    account(map, start, size, h->method, h->method_len);
    account(map, start, size, req->raw_target, req->raw_target_len);
    account(map, start, size, h->version, h->version_len);
    for (size_t i = 0; i < c->n; i++) {
        account(map, start, size, c->fields[i].name, c->fields[i].name_len);
        account(map, start, size, c->fields[i].value, c->fields[i].value_len);
    }
    for (size_t i = 0; ok && i < size; i++) {
        if (!map[i] && start[i] != '\0' && start[i] != ' ' && start[i] != '\t')
            ok = false;
    }
    free(map);
    return ok;
}

/* The path of an absolute-form target: after "http://authority". */
static void
use_absolute_path(struct http_req *req)
{
    const char *p = strstr(req->path, "://");

    if (p == NULL)
        return;
    p = strchr(p + 3, '/');
    req->path = p != NULL ? p : "/";
}

enum MHD_Result
framing_check_head(struct http_req *req, const char *version)
{
    struct head h = {0};
    struct head_verdict v;
    struct collect c = {0};
    bool target_nul = false;
    size_t n = 0;
    enum usv_err rc;

    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, count_field, &n);
    c.cap = n;
    c.fields = xcalloc(n > 0 ? n : 1, sizeof(*c.fields));
    MHD_get_connection_values_n(req->conn, MHD_HEADER_KIND, collect_field, &c);
    /* After the last field: its terminator's first byte, then a second NUL
     * (LF of CR LF, or the empty line after LF); text there followed a NUL. */
    if (!c.is_moved && c.prev_end != NULL && c.prev_end[0] == '\0' && c.prev_end[1] != '\0')
        c.has_nul = true;
    request_line(req, version, &h, &target_nul);
    h.fields = c.fields;
    h.n_fields = c.n;
    rc = head_check(&h, &v);
    if (rc == USV_OK && target_nul) {
        rc = USV_BAD_REQUEST;
        v.detail = "the request target must not contain NUL bytes";
    }
    if (rc == USV_OK && c.has_nul) {
        rc = USV_BAD_REQUEST;
        v.detail = "header fields must not contain NUL bytes";
    }
    if (rc == USV_OK && !is_head_explained(req, &h, &c)) {
        rc = USV_BAD_REQUEST;
        v.detail = "a header line is malformed (no field name before its colon?)";
    }
    free(c.fields);
    if (rc != USV_OK)
        return reply_refuse(req, rc, v.detail);
    if (v.is_absolute)
        use_absolute_path(req);
    if (v.has_length && v.length > (unsigned long long)req->srv->opts.max_body_bytes &&
        is_refusable_early(req)) {
        char detail[96];

        snprintf(detail, sizeof(detail), "request body is larger than %ld bytes",
                 req->srv->opts.max_body_bytes);
        return reply_refuse(req, USV_TOO_LARGE, detail);
    }
    /* Otherwise an oversized body is read and discarded as it streams in, and
     * its 413 comes in API.md's order (after 404 and 412, after 415). */
    return MHD_YES;
}
