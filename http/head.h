/* SPDX-License-Identifier: MIT
 * head.h - the rules of API.md "HTTP/1.1 strictness" for a request head
 * (RFC 9110, RFC 9112), as a pure function over the head's parts.
 *
 * framing.c fills a struct head from what libmicrohttpd parsed (and from
 * what its buffer shows: extra whitespace, folded lines, NUL bytes);
 * tests/fuzz/fuzz_head.c fills it from raw bytes. head_check() then says
 * whether the request may run, and if not, the status and why. It reads
 * only its arguments: no allocation, no global state.
 * Thread-safety: pure. */
#ifndef USERSVC_HTTP_HEAD_H
#define USERSVC_HTTP_HEAD_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

/* The longest request target accepted (RFC 9112 section 3 asks for at
 * least 8000 octets); longer is 414. */
#define HEAD_MAX_TARGET 8000

struct head_field {
    const char *name;              /* not NUL-terminated */
    size_t name_len;
    const char *value;             /* without leading and trailing OWS */
    size_t value_len;
    bool is_folded;                /* continued with obs-fold */
};

struct head {
    const char *method;            /* not NUL-terminated */
    size_t method_len;
    const char *target;
    size_t target_len;
    const char *version;
    size_t version_len;
    bool has_bad_spacing;          /* request line not "M SP T SP V" */
    const struct head_field *fields;
    size_t n_fields;
};

struct head_verdict {
    enum usv_err rc;               /* USV_OK: the request may run */
    const char *detail;            /* static text; the problem's detail */
    bool is_absolute;              /* absolute-form target */
    size_t path_offset;            /* there: where the path starts in target */
    bool is_chunked;               /* Transfer-Encoding: chunked */
    bool has_length;               /* Content-Length present (one number) */
    unsigned long long length;
};

/* Judge @h. On anything but USV_OK the request must be refused with that
 * status and @v->detail, and its connection closed: USV_BAD_REQUEST (400),
 * USV_NOT_IMPLEMENTED (501: a transfer coding other than chunked before a
 * final chunked), USV_BAD_VERSION (505), USV_URI_TOO_LONG (414). */
enum usv_err head_check(const struct head *h, struct head_verdict *v);

/* Is [s, s+n) a token (RFC 9110 5.6.2), non-empty? */
bool head_is_token(const char *s, size_t n);

/* Is [s, s+n) uri-host [ ":" port ] (RFC 9110 7.2, RFC 3986 3.2.2)? */
bool head_host_ok(const char *s, size_t n);

#endif
