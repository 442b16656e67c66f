/* SPDX-License-Identifier: MIT
 * url.c - see url.h for the accepted grammar.
 *
 * Hand-written rather than liburiparser (which Debian has): that library
 * would add a system dependency and a runtime library for ~200 lines, and
 * still leave us the parts that matter here (splitting user from password,
 * decoding into C strings, port range, repeated keys, error messages that
 * cannot leak a password). The parser walks the text once, left to right:
 * scheme, authority (userinfo, host, port), path, query. */
#include "orm/url.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

#define URL_MAX_PORT 65535u

static bool PRINTF_LIKE(3, 4)
fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return false;
}

static bool
is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool
is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int
hex_value(char c)
{
    if (is_digit(c))
        return c - '0';
    return (c | 0x20) - 'a' + 10;
}

/* RFC 3986 "unreserved": what a host name (or an IPv6 zone) may hold. */
static bool
is_unreserved(char c)
{
    return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/* Percent-decode @n bytes at @s into a new string *@out. False on a broken
 * escape or an escaped NUL (which a C string cannot carry). */
static bool
decode(const char *s, size_t n, char **out)
{
    char *buf = xmalloc(n + 1);
    size_t len = 0;

    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            buf[len++] = s[i];
            continue;
        }
        if (i + 2 >= n || !is_hex(s[i + 1]) || !is_hex(s[i + 2])) {
            free(buf);
            return false;
        }
        buf[len] = (char)(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
        if (buf[len] == '\0') {
            free(buf);
            return false;
        }
        len++;
        i += 2;
    }
    buf[len] = '\0';
    *out = buf;
    return true;
}

/* The host between @s and @end: a bracketed IPv6 address (with an optional
 * "%25zone") or a name of unreserved characters. */
static bool
parse_host(const char *s, const char *end, char **host, char *err, size_t errlen)
{
    size_t n = (size_t)(end - s);

    if (n > 0 && s[0] == '[') {
        const char *zone = NULL;
        bool has_colon = false;
        char *text;

        if (s[n - 1] != ']' || n < 4)
            return fail(err, errlen, "the IPv6 host must be written [address]");
        for (const char *p = s + 1; p < end - 1; p++) {
            if (zone == NULL && p + 2 < end - 1 && strncmp(p, "%25", 3) == 0) {
                zone = p;
                p += 2;
            } else if (zone != NULL ? !is_unreserved(*p)
                                    : !(is_hex(*p) || *p == ':' || *p == '.')) {
                return fail(err, errlen, "the IPv6 host has a character that is not allowed");
            } else if (*p == ':' && zone == NULL) {
                has_colon = true;
            }
        }
        if (!has_colon || (zone != NULL && zone + 3 == end - 1))
            return fail(err, errlen, "the IPv6 host is not an address");
        /* The driver wants the address without brackets, the zone as "%zone". */
        if (!decode(s + 1, n - 2, &text))
            return fail(err, errlen, "the IPv6 host has a bad %%-escape");
        *host = text;
        return true;
    }
    for (const char *p = s; p < end; p++) {
        if (*p == '@')
            return fail(err, errlen, "the host contains '@': write '@' in a user name or "
                                     "password as %%40");
        if (*p == '[' || *p == ']')
            return fail(err, errlen, "an IPv6 host must be written in brackets, [address]");
        if (!is_unreserved(*p))
            return fail(err, errlen, "the host has a character that is not allowed (a socket "
                                     "path goes in ?socket=)");
    }
    *host = xstrndup(s, n);
    return true;
}

/* Digits between @s and @end into 1..65535; empty means @dflt (RFC 3986 3.2.3). */
static bool
parse_port(const char *s, const char *end, unsigned dflt, unsigned *port, char *err,
           size_t errlen)
{
    unsigned long v = 0;

    if (s == end) {
        *port = dflt;
        return true;
    }
    for (const char *p = s; p < end; p++) {
        if (!is_digit(*p))
            return fail(err, errlen, "the port must be a number from 1 to 65535");
        v = v * 10 + (unsigned long)(*p - '0');
        if (v > URL_MAX_PORT)
            return fail(err, errlen, "the port must be a number from 1 to 65535");
    }
    if (v == 0)
        return fail(err, errlen, "the port must be a number from 1 to 65535");
    *port = (unsigned)v;
    return true;
}

static bool
parse_query(const char *s, struct url *u, char *err, size_t errlen)
{
    while (*s != '\0') {
        size_t n = strcspn(s, "&");
        const char *eq = memchr(s, '=', n);
        char *key = NULL, *value = NULL;

        if (n == 0) {
            s++;  /* "a=1&&b=2" or a trailing '&': nothing there */
            continue;
        }
        if (eq == NULL || eq == s || eq + 1 == s + n)
            return fail(err, errlen, "query parameters must be key=value with both non-empty");
        if (!decode(s, (size_t)(eq - s), &key) ||
            !decode(eq + 1, (size_t)(s + n - eq - 1), &value)) {
            free(key);
            return fail(err, errlen, "a query parameter has a bad %%-escape");
        }
        if (url_param(u, key) != NULL) {
            free(key);
            free(value);
            return fail(err, errlen, "a query parameter is given twice");
        }
        u->params = xrealloc(u->params, (u->n_params + 1) * sizeof(*u->params));
        u->params[u->n_params].key = key;
        u->params[u->n_params].value = value;
        u->n_params++;
        s += n;
    }
    return true;
}

static bool
parse(const char *text, unsigned default_port, struct url *u, char *err, size_t errlen)
{
    const char *p = text, *auth, *auth_end, *at, *host_end, *colon;

    for (const unsigned char *c = (const unsigned char *)text; *c != '\0'; c++) {
        if (*c <= 0x20 || *c == 0x7f)
            return fail(err, errlen, "the URL contains a space or a control character");
        if (*c == '#')
            return fail(err, errlen, "the URL has a fragment ('#'); write '#' in a password "
                                     "as %%23");
    }
    if (!is_alpha(*p))
        return fail(err, errlen, "the URL must start with a scheme, like mysql://");
    while (is_alpha(*p) || is_digit(*p) || *p == '+' || *p == '-' || *p == '.')
        p++;
    if (strncmp(p, "://", 3) != 0)
        return fail(err, errlen, "the scheme must be followed by ://");
    u->scheme = xstrndup(text, (size_t)(p - text));
    for (char *s = u->scheme; *s != '\0'; s++) {
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s - 'A' + 'a');
    }

    auth = p + 3;
    auth_end = auth + strcspn(auth, "/?");
    at = memchr(auth, '@', (size_t)(auth_end - auth));
    if (at != NULL) {
        const char *sep = memchr(auth, ':', (size_t)(at - auth));
        const char *user_end = sep != NULL ? sep : at;

        if (user_end == auth)
            return fail(err, errlen, "the user name is empty");
        if (!decode(auth, (size_t)(user_end - auth), &u->user))
            return fail(err, errlen, "the user name has a bad %%-escape");
        if (sep != NULL && !decode(sep + 1, (size_t)(at - sep - 1), &u->password))
            return fail(err, errlen, "the password has a bad %%-escape");
        auth = at + 1;
    }

    /* host[:port]; the ':' of an IPv6 address sits inside the brackets. */
    host_end = auth;
    if (*auth == '[') {
        const char *close = memchr(auth, ']', (size_t)(auth_end - auth));

        if (close == NULL)
            return fail(err, errlen, "the IPv6 host has no closing ']'");
        host_end = close + 1;
        if (host_end != auth_end && *host_end != ':')
            return fail(err, errlen, "only :port may follow an IPv6 host");
    } else {
        colon = memchr(auth, ':', (size_t)(auth_end - auth));
        host_end = colon != NULL ? colon : auth_end;
    }
    if (!parse_host(auth, host_end, &u->host, err, errlen))
        return false;
    u->has_port = host_end != auth_end && host_end + 1 != auth_end;
    if (host_end == auth_end)
        u->port = default_port;
    else if (!parse_port(host_end + 1, auth_end, default_port, &u->port, err, errlen))
        return false;

    p = auth_end;
    if (*p == '/') {
        size_t n = strcspn(p + 1, "?");

        if (n > 0 && !decode(p + 1, n, &u->path))
            return fail(err, errlen, "the path has a bad %%-escape");
        p += 1 + n;
    }
    if (*p == '?')
        return parse_query(p + 1, u, err, errlen);
    return true;
}

bool
url_parse(const char *text, unsigned default_port, struct url *out, char *err,
          size_t errlen)
{
    struct url u;

    memset(&u, 0, sizeof(u));
    memset(out, 0, sizeof(*out));
    if (!parse(text, default_port, &u, err, errlen)) {
        url_finish(&u);
        return false;
    }
    *out = u;
    return true;
}

void
url_finish(struct url *u)
{
    if (u == NULL)
        return;
    free(u->scheme);
    free(u->user);
    free(u->password);
    free(u->host);
    free(u->path);
    for (size_t i = 0; i < u->n_params; i++) {
        free(u->params[i].key);
        free(u->params[i].value);
    }
    free(u->params);
    memset(u, 0, sizeof(*u));
}

const char *
url_param(const struct url *u, const char *key)
{
    for (size_t i = 0; i < u->n_params; i++) {
        if (strcmp(u->params[i].key, key) == 0)
            return u->params[i].value;
    }
    return NULL;
}
