/* SPDX-License-Identifier: MIT
 * jsonw.c - see jsonw.h.
 *
 * One pass over the bytes: runs that need no escape are copied with one
 * strbuf_add, each escape is added on its own. The UTF-8 rules are
 * jansson's utf8_check_first()/utf8_check_full(), restated: a lead byte
 * 0xC2..0xDF, 0xE0..0xEF or 0xF0..0xF4 starts a sequence of 2, 3 or 4
 * bytes whose continuation bytes are 0x80..0xBF; the value must not be an
 * overlong form, a surrogate (U+D800..U+DFFF) or above U+10FFFF. */
#include "base/jsonw.h"

#include <string.h>

/* Length of the valid UTF-8 sequence at @p (@n bytes left), or 0. */
static size_t
utf8_seq(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    size_t len;
    uint32_t v;

    if (c < 0x80)
        return 1;
    if (c < 0xC2 || c > 0xF4)
        return 0;    /* a continuation byte, an overlong lead, or beyond U+10FFFF */
    if (c < 0xE0) {
        len = 2;
        v = c & 0x1Fu;
    } else if (c < 0xF0) {
        len = 3;
        v = c & 0x0Fu;
    } else {
        len = 4;
        v = c & 0x07u;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0u) != 0x80u)
            return 0;
        v = (v << 6) | (p[i] & 0x3Fu);
    }
    if (v > 0x10FFFFu || (v >= 0xD800u && v <= 0xDFFFu))
        return 0;
    if ((len == 3 && v < 0x800u) || (len == 4 && v < 0x10000u))
        return 0;    /* overlong (two-byte overlongs are the leads 0xC0, 0xC1) */
    return len;
}

static bool
utf8_valid(const unsigned char *p, size_t n)
{
    size_t i = 0;

    while (i < n) {
        size_t k = utf8_seq(p + i, n - i);

        if (k == 0)
            return false;
        i += k;
    }
    return true;
}

bool
jsonw_string(struct strbuf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *p = (const unsigned char *)s;
    size_t run = 0;

    /* Validate first so that a refused string leaves @b untouched. */
    if (!utf8_valid(p, len))
        return false;
    strbuf_add(b, "\"", 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = p[i];
        char esc[6];
        size_t n = 2;

        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        if (i > run)
            strbuf_add(b, s + run, i - run);
        run = i + 1;
        esc[0] = '\\';
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 0x0F];
            n = 6;
            break;
        }
        strbuf_add(b, esc, n);
    }
    if (len > run)
        strbuf_add(b, s + run, len - run);
    strbuf_add(b, "\"", 1);
    return true;
}

void
jsonw_int64(struct strbuf *b, int64_t n)
{
    char digits[24];
    size_t i = sizeof(digits);
    /* The magnitude as unsigned: -INT64_MIN does not fit an int64_t. */
    uint64_t u = n < 0 ? (uint64_t)0 - (uint64_t)n : (uint64_t)n;

    do {
        digits[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (n < 0)
        digits[--i] = '-';
    strbuf_add(b, digits + i, sizeof(digits) - i);
}

bool
jsonw_key(struct strbuf *b, const char *key, bool is_first)
{
    size_t len = strlen(key);

    if (!utf8_valid((const unsigned char *)key, len))
        return false;
    if (!is_first)
        strbuf_add(b, ",", 1);
    jsonw_string(b, key, len);
    strbuf_add(b, ":", 1);
    return true;
}
