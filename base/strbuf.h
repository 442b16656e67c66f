/* SPDX-License-Identifier: MIT
 * strbuf.h - a growable byte buffer (curl's dynbuf, in small).
 * Thread-safety: a strbuf belongs to one thread. */
#ifndef USERSVC_ORM_STRBUF_H
#define USERSVC_ORM_STRBUF_H

#include <stddef.h>

#include "base/util.h"

struct strbuf {
    /* private: use the functions */
    char *buf;   /* NUL-terminated when not NULL */
    size_t len, cap;
};

void strbuf_init(struct strbuf *b);
void strbuf_finish(struct strbuf *b);           /* frees; accepts a finished buffer */
void strbuf_reset(struct strbuf *b);            /* len = 0, keeps memory */
void strbuf_reserve(struct strbuf *b, size_t n);   /* room for @n more bytes */
void strbuf_add(struct strbuf *b, const void *p, size_t n);
void strbuf_adds(struct strbuf *b, const char *s);
void strbuf_addf(struct strbuf *b, const char *fmt, ...) PRINTF_LIKE(2, 3);
const char *strbuf_str(const struct strbuf *b); /* "" when empty; borrowed */
size_t strbuf_len(const struct strbuf *b);
char *strbuf_take(struct strbuf *b);            /* new string; @b is reset */

#endif
