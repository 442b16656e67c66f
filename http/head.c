/* SPDX-License-Identifier: MIT
 * head.c - see head.h. The checks run in API.md's order of concern: the
 * request line (method, spacing, version, target), then each field line
 * (name, value, folding), then the fields that decide framing (Host,
 * Content-Length, Transfer-Encoding), so that the first thing wrong is the
 * one the detail names. Field names compare case-insensitively; repeated
 * Transfer-Encoding lines combine into one list (RFC 9110 5.3). */
#include "http/head.h"

#include <string.h>
#include <strings.h>

static bool
is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

bool
head_is_token(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!is_tchar((unsigned char)s[i]))
            return false;
    }
    return true;
}

static bool
is_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool
is_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
    }
    return true;
}

/* unreserved / sub-delims (RFC 3986 2.2, 2.3). */
static bool
is_reg_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("-._~!$&'()*+,;=", c) != NULL);
}

/* reg-name (an IPv4 address is one too): unreserved, sub-delims, %XX. */
static bool
is_reg_name(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '%') {
            if (i + 2 >= n || !is_hex((unsigned char)s[i + 1]) ||
                !is_hex((unsigned char)s[i + 2]))
                return false;
            i += 2;
        } else if (!is_reg_char(c)) {
            return false;
        }
    }
    return true;
}

/* The inside of "[...]": an IPv6 address (hex digits, ':' and the dots of
 * an embedded IPv4 address, at least two colons) or IPvFuture. */
static bool
is_ip_literal(const char *s, size_t n)
{
    size_t colons = 0;

    if (n >= 2 && (s[0] == 'v' || s[0] == 'V')) {
        size_t i = 1;

        while (i < n && is_hex((unsigned char)s[i]))
            i++;
        if (i == 1 || i >= n - 1 || s[i] != '.')
            return false;
        for (i++; i < n; i++) {
            if (!is_reg_char((unsigned char)s[i]) && s[i] != ':')
                return false;
        }
        return true;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ':')
            colons++;
        else if (!is_hex((unsigned char)s[i]) && s[i] != '.')
            return false;
    }
    return colons >= 2 && n <= 45;
}

bool
head_host_ok(const char *s, size_t n)
{
    const char *colon;
    size_t host_len;

    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);

        if (close == NULL || !is_ip_literal(s + 1, (size_t)(close - s - 1)))
            return false;
        host_len = (size_t)(close - s) + 1;
        if (host_len == n)
            return true;
        return s[host_len] == ':' && is_digits(s + host_len + 1, n - host_len - 1);
    }
    colon = memchr(s, ':', n);
    host_len = colon != NULL ? (size_t)(colon - s) : n;
    if (!is_reg_name(s, host_len))
        return false;
    return colon == NULL || is_digits(colon + 1, n - host_len - 1);
}

static bool
name_is(const struct head_field *f, const char *name)
{
    return f->name_len == strlen(name) && strncasecmp(f->name, name, f->name_len) == 0;
}

/* The request line: method, spacing, version, target. */
static enum usv_err
check_request_line(const struct head *h, struct head_verdict *v)
{
    const char *t = h->target;
    size_t n = h->target_len;

    if (!head_is_token(h->method, h->method_len)) {
        v->detail = "the method must be a token";
        return USV_BAD_REQUEST;
    }
    if (h->has_bad_spacing) {
        v->detail = "the request line must be method, one space, target, one space, version";
        return USV_BAD_REQUEST;
    }
    if (h->version_len == 8 && memcmp(h->version, "HTTP/", 5) == 0 &&
        h->version[5] >= '0' && h->version[5] <= '9' && h->version[6] == '.' &&
        h->version[7] >= '0' && h->version[7] <= '9') {
        if (memcmp(h->version, "HTTP/1.1", 8) != 0 && memcmp(h->version, "HTTP/1.0", 8) != 0) {
            v->detail = "only HTTP/1.0 and HTTP/1.1 are supported";
            return USV_BAD_VERSION;
        }
    } else {
        v->detail = "the request line must end with HTTP/1.1 or HTTP/1.0";
        return USV_BAD_REQUEST;
    }
    if (n > HEAD_MAX_TARGET) {
        v->detail = "the request target is longer than 8000 bytes";
        return USV_URI_TOO_LONG;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t[i];

        if (c <= 0x20 || c >= 0x7F) {
            v->detail = c == '\0' ? "the request target must not contain NUL bytes"
                                  : "the request target must be visible ASCII, without spaces";
            return USV_BAD_REQUEST;
        }
    }
    if (n > 0 && t[0] == '/')
        return USV_OK;
    if (n == 1 && t[0] == '*')
        return USV_OK;   /* asterisk-form: no such resource (404) */
    /* absolute-form (RFC 9112 3.2.2): the authority wins over Host. */
    {
        size_t scheme = (n >= 7 && strncasecmp(t, "http://", 7) == 0)    ? 7
                        : (n >= 8 && strncasecmp(t, "https://", 8) == 0) ? 8
                                                                         : 0;
        size_t end = scheme;

        if (scheme == 0) {
            v->detail = "the request target must be a path or an absolute http(s) URI";
            return USV_BAD_REQUEST;
        }
        while (end < n && t[end] != '/' && t[end] != '?' && t[end] != '#')
            end++;
        if (end == scheme || memchr(t + scheme, '@', end - scheme) != NULL ||
            !head_host_ok(t + scheme, end - scheme)) {
            v->detail = "the authority of an absolute request target must be host[:port]";
            return USV_BAD_REQUEST;
        }
        v->is_absolute = true;
        v->path_offset = end;
    }
    return USV_OK;
}

/* One field line: its name is a token right before the colon, its value
 * has no control character but HTAB, and it is not folded. */
static enum usv_err
check_field(const struct head_field *f, struct head_verdict *v)
{
    if (f->is_folded) {
        v->detail = "obsolete line folding (a field line starting with a space or tab) is "
                    "not accepted";
        return USV_BAD_REQUEST;
    }
    if (f->name_len == 0) {
        v->detail = "a field name must not be empty";
        return USV_BAD_REQUEST;
    }
    if (f->name[f->name_len - 1] == ' ' || f->name[f->name_len - 1] == '\t') {
        v->detail = "no whitespace is allowed between a field name and its colon";
        return USV_BAD_REQUEST;
    }
    if (!head_is_token(f->name, f->name_len)) {
        v->detail = "a field name must be a token";
        return USV_BAD_REQUEST;
    }
    for (size_t i = 0; i < f->value_len; i++) {
        unsigned char c = (unsigned char)f->value[i];

        if (c == '\0') {
            v->detail = "header fields must not contain NUL bytes";
            return USV_BAD_REQUEST;
        }
        if ((c < 0x20 && c != '\t') || c == 0x7F) {
            v->detail = "a field value must not contain control characters";
            return USV_BAD_REQUEST;
        }
    }
    return USV_OK;
}

/* Walk the combined Transfer-Encoding list of every such line. */
struct te_state {
    size_t n_codings;
    bool was_last_chunked;
    bool has_chunked_before;       /* chunked, then something else */
    bool has_other_before;         /* something else, then ... */
    bool is_bad;
};

static void
te_add_line(struct te_state *te, const char *s, size_t n)
{
    size_t i = 0;

    while (i <= n) {
        size_t start, end, tok_end;

        while (i < n && (s[i] == ' ' || s[i] == '\t'))
            i++;
        start = i;
        while (i < n && s[i] != ',')
            i++;
        end = i;
        i++;   /* past the comma */
        while (end > start && (s[end - 1] == ' ' || s[end - 1] == '\t'))
            end--;
        if (end == start)
            continue;   /* empty list element (RFC 9110 5.6.1) */
        tok_end = start;
        while (tok_end < end && is_tchar((unsigned char)s[tok_end]))
            tok_end++;
        if (tok_end == start || (tok_end < end && s[tok_end] != ';' && s[tok_end] != ' ' &&
                                 s[tok_end] != '\t')) {
            te->is_bad = true;
            return;
        }
        if (te->n_codings > 0 && te->was_last_chunked)
            te->has_chunked_before = true;
        else if (te->n_codings > 0)
            te->has_other_before = true;
        te->was_last_chunked = tok_end - start == 7 && strncasecmp(s + start, "chunked", 7) == 0
                               && tok_end == end;
        te->n_codings++;
    }
}

static enum usv_err
check_framing(const struct head *h, struct head_verdict *v)
{
    const struct head_field *cl = NULL, *host = NULL;
    struct te_state te = {0, false, false, false, false};
    size_t n_cl = 0, n_host = 0, n_te = 0, n_auth = 0, n_key = 0;
    bool is_11 = memcmp(h->version, "HTTP/1.1", 8) == 0;

    for (size_t i = 0; i < h->n_fields; i++) {
        const struct head_field *f = &h->fields[i];

        /* Two tokens or two idempotency keys: which one was meant is a
         * guess, and a guess about who is asking, or about which write a
         * retry repeats, is never made. */
        n_auth += name_is(f, "Authorization");
        n_key += name_is(f, "Idempotency-Key");
        if (name_is(f, "Content-Length")) {
            cl = f;
            n_cl++;
        } else if (name_is(f, "Host")) {
            host = f;
            n_host++;
        } else if (name_is(f, "Transfer-Encoding")) {
            n_te++;
            te_add_line(&te, f->value, f->value_len);
        }
    }
    if (n_host > 1) {
        v->detail = "Host must appear at most once";
        return USV_BAD_REQUEST;
    }
    if (is_11 && n_host == 0) {
        v->detail = "HTTP/1.1 requests must carry a Host header";
        return USV_BAD_REQUEST;
    }
    if (host != NULL && !v->is_absolute && !head_host_ok(host->value, host->value_len)) {
        v->detail = "Host must be host[:port]";
        return USV_BAD_REQUEST;
    }
    if (n_auth > 1) {
        v->detail = "Authorization must appear at most once";
        return USV_BAD_REQUEST;
    }
    if (n_key > 1) {
        v->detail = "Idempotency-Key must appear at most once";
        return USV_BAD_REQUEST;
    }
    if (n_cl > 0 && n_te > 0) {
        v->detail = "Content-Length and Transfer-Encoding must not both be present";
        return USV_BAD_REQUEST;
    }
    if (n_cl > 1) {
        v->detail = "Content-Length must appear at most once";
        return USV_BAD_REQUEST;
    }
    if (cl != NULL) {
        if (cl->value_len == 0 || !is_digits(cl->value, cl->value_len)) {
            v->detail = "Content-Length must be one decimal number";
            return USV_BAD_REQUEST;
        }
        if (cl->value_len > 18) {
            v->detail = "Content-Length is larger than this server accepts";
            return USV_TOO_LARGE;
        }
        v->has_length = true;
        v->length = 0;
        for (size_t i = 0; i < cl->value_len; i++)
            v->length = v->length * 10 + (unsigned)(cl->value[i] - '0');
    }
    if (n_te == 0)
        return USV_OK;
    if (!is_11) {
        v->detail = "Transfer-Encoding is not allowed in an HTTP/1.0 request";
        return USV_BAD_REQUEST;
    }
    if (te.is_bad || te.n_codings == 0) {
        v->detail = "Transfer-Encoding must be a list of transfer codings";
        return USV_BAD_REQUEST;
    }
    if (!te.was_last_chunked || te.has_chunked_before) {
        v->detail = "the final transfer coding must be chunked, applied once";
        return USV_BAD_REQUEST;
    }
    if (te.has_other_before) {
        v->detail = "only the chunked transfer coding is implemented";
        return USV_NOT_IMPLEMENTED;
    }
    v->is_chunked = true;
    return USV_OK;
}

enum usv_err
head_check(const struct head *h, struct head_verdict *v)
{
    enum usv_err rc;

    memset(v, 0, sizeof(*v));
    rc = check_request_line(h, v);
    for (size_t i = 0; rc == USV_OK && i < h->n_fields; i++)
        rc = check_field(&h->fields[i], v);
    if (rc == USV_OK)
        rc = check_framing(h, v);
    v->rc = rc;
    return rc;
}
