/* SPDX-License-Identifier: MIT
 * strbuf.c - see strbuf.h. */
#include "base/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
strbuf_init(struct strbuf *b)
{
    b->buf = NULL;
    b->len = b->cap = 0;
}

void
strbuf_finish(struct strbuf *b)
{
    free(b->buf);
    strbuf_init(b);
}

void
strbuf_reset(struct strbuf *b)
{
    b->len = 0;
    if (b->buf != NULL)
        b->buf[0] = '\0';
}

static void
grow(struct strbuf *b, size_t extra)
{
    size_t need = b->len + extra + 1;

    if (need <= b->cap)
        return;
    size_t cap = b->cap != 0 ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    b->buf = xrealloc(b->buf, cap);
    b->cap = cap;
}

void
strbuf_reserve(struct strbuf *b, size_t n)
{
    grow(b, n);
}

void
strbuf_add(struct strbuf *b, const void *p, size_t n)
{
    grow(b, n);
    if (n != 0)
        memcpy(b->buf + b->len, p, n);
    b->len += n;
    b->buf[b->len] = '\0';
}

void
strbuf_adds(struct strbuf *b, const char *s)
{
    strbuf_add(b, s, strlen(s));
}

void
strbuf_addf(struct strbuf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    grow(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->buf + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

const char *
strbuf_str(const struct strbuf *b)
{
    return b->buf != NULL ? b->buf : "";
}

size_t
strbuf_len(const struct strbuf *b)
{
    return b->len;
}

char *
strbuf_take(struct strbuf *b)
{
    char *s = b->buf != NULL ? b->buf : xstrdup("");

    strbuf_init(b);
    return s;
}
