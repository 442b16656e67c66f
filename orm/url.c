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
#include <strings.h>

#include "base/strbuf.h"
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
    const char *p = text, *auth, *auth_end, *at;

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

    /* host[:port], or a list of them separated by ',' (libpq's multi-host
     * form; a backend that takes one host says so at configure time). */
    for (const char *entry = auth;;) {
        const char *entry_end = entry, *host_end;
        struct url_host h = {0};

        while (entry_end < auth_end && *entry_end != ',') {
            if (*entry_end == '[') {
                const char *close = memchr(entry_end, ']', (size_t)(auth_end - entry_end));

                if (close == NULL)
                    return fail(err, errlen, "the IPv6 host has no closing ']'");
                entry_end = close;
            }
            entry_end++;
        }
        /* The ':' of an IPv6 address sits inside the brackets. */
        if (*entry == '[') {
            host_end = (const char *)memchr(entry, ']', (size_t)(entry_end - entry)) + 1;
            if (host_end != entry_end && *host_end != ':')
                return fail(err, errlen, "only :port may follow an IPv6 host");
        } else {
            host_end = memchr(entry, ':', (size_t)(entry_end - entry));
            if (host_end == NULL)
                host_end = entry_end;
        }
        if (host_end == entry && (entry_end != auth_end || entry != auth))
            return fail(err, errlen, "the host list has an empty entry");
        if (!parse_host(entry, host_end, &h.host, err, errlen))
            return false;
        h.has_port = host_end != entry_end && host_end + 1 != entry_end;
        if (host_end == entry_end) {
            h.port = default_port;
        } else if (!parse_port(host_end + 1, entry_end, default_port, &h.port, err, errlen)) {
            free(h.host);
            return false;
        }
        u->hosts = xrealloc(u->hosts, (u->n_hosts + 1) * sizeof(*u->hosts));
        u->hosts[u->n_hosts++] = h;
        if (entry_end == auth_end)
            break;
        entry = entry_end + 1;
        if (entry == auth_end || *entry == ',')
            return fail(err, errlen, "the host list has an empty entry");
    }
    u->host = xstrdup(u->hosts[0].host);
    u->port = u->hosts[0].port;
    u->has_port = u->hosts[0].has_port;

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
    for (size_t i = 0; i < u->n_hosts; i++)
        free(u->hosts[i].host);
    free(u->hosts);
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

/* ---- DATABASE_URL: parsed once, redacted everywhere ---------------------- */

/* The port a scheme's server listens on by default (0: none). */
static unsigned
default_port_of(const char *text)
{
    static const struct {
        const char *scheme;
        unsigned port;
    } ports[] = {
        {"postgres://", 5432}, {"postgresql://", 5432}, {"mysql://", 3306}, {"mariadb://", 3306},
    };

    for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
        if (strncasecmp(text, ports[i].scheme, strlen(ports[i].scheme)) == 0)
            return ports[i].port;
    }
    return 0;
}

bool
url_parse_database(const char *text, struct url *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (strncasecmp(text, "sqlite:", 7) == 0) {
        /* SQLite's URL is a scheme and a file path, taken as written. */
        if (text[7] == '\0')
            return fail(err, errlen, "sqlite: needs a file path (sqlite:PATH or "
                                     "sqlite::memory:)");
        out->scheme = xstrdup("sqlite");
        out->host = xstrdup("");
        out->path = xstrdup(text + 7);
        return true;
    }
    return url_parse(text, default_port_of(text), out, err, errlen);
}

void
url_copy(struct url *dst, const struct url *src)
{
    memset(dst, 0, sizeof(*dst));
    dst->scheme = src->scheme != NULL ? xstrdup(src->scheme) : NULL;
    dst->user = src->user != NULL ? xstrdup(src->user) : NULL;
    dst->password = src->password != NULL ? xstrdup(src->password) : NULL;
    dst->host = src->host != NULL ? xstrdup(src->host) : NULL;
    dst->port = src->port;
    dst->has_port = src->has_port;
    dst->path = src->path != NULL ? xstrdup(src->path) : NULL;
    if (src->n_hosts > 0) {
        dst->hosts = xcalloc(src->n_hosts, sizeof(*dst->hosts));
        for (size_t i = 0; i < src->n_hosts; i++) {
            dst->hosts[i] = src->hosts[i];
            dst->hosts[i].host = xstrdup(src->hosts[i].host);
        }
        dst->n_hosts = src->n_hosts;
    }
    if (src->n_params > 0) {
        dst->params = xcalloc(src->n_params, sizeof(*dst->params));
        for (size_t i = 0; i < src->n_params; i++) {
            dst->params[i].key = xstrdup(src->params[i].key);
            dst->params[i].value = xstrdup(src->params[i].value);
        }
        dst->n_params = src->n_params;
    }
}

bool
url_key_is_secret(const char *key)
{
    static const char *const words[] = {"pass", "pwd", "secret", "token"};
    char low[64];
    size_t n = 0;

    for (; key[n] != '\0' && n + 1 < sizeof(low); n++)
        low[n] = (char)((key[n] >= 'A' && key[n] <= 'Z') ? key[n] - 'A' + 'a' : key[n]);
    low[n] = '\0';
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (strstr(low, words[i]) != NULL)
            return true;
    }
    return false;
}

/* Is the key of @n bytes at @s, percent-decoded as far as it decodes, one
 * whose value is secret ("password", "sslpassword", "passw%6Frd")? */
static bool
raw_key_is_secret(const char *s, size_t n)
{
    char key[64];
    size_t k = 0;

    for (size_t i = 0; i < n && k + 1 < sizeof(key); i++) {
        if (s[i] == '%' && i + 2 < n && is_hex(s[i + 1]) && is_hex(s[i + 2])) {
            key[k++] = (char)(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
            i += 2;
        } else {
            key[k++] = s[i];
        }
    }
    key[k] = '\0';
    return url_key_is_secret(key);
}

const char *
url_redact(const char *text, char *buf, size_t size)
{
    const char *scheme_end = strstr(text, "://");
    const char *p = text;
    struct strbuf b;

    strbuf_init(&b);
    if (scheme_end != NULL) {
        /* The password runs from the first ':' of the userinfo to its end.
         * Where that end is cannot be trusted in a malformed URL (a raw '@',
         * '/', '?' or '#' in the password), so it is taken as the last '@'
         * of the whole text: that hides too much rather than too little. */
        const char *auth = scheme_end + 3;
        const char *at = strrchr(auth, '@');
        const char *colon = at != NULL ? memchr(auth, ':', (size_t)(at - auth)) : NULL;

        if (colon != NULL) {
            strbuf_add(&b, text, (size_t)(colon + 1 - text));
            strbuf_adds(&b, "***");
            p = at;
        }
    }
    /* Query parameters (and keyword=value words) whose key names a secret:
     * libpq takes password= and sslpassword=, and a key may be %-encoded. */
    while (*p != '\0') {
        bool at_key = p == text || p[-1] == '?' || p[-1] == '&' || p[-1] == ' ' ||
                      p[-1] == ';';
        size_t key_len = at_key ? strcspn(p, "=&?; /") : 0;

        if (at_key && key_len > 0 && p[key_len] == '=' && raw_key_is_secret(p, key_len)) {
            strbuf_add(&b, p, key_len + 1);
            strbuf_adds(&b, "***");
            p += key_len + 1;
            p += strcspn(p, "&; ");
            continue;
        }
        strbuf_add(&b, p++, 1);
    }
    /* Built whole first, then cut to @size: a cut can never expose a password. */
    snprintf(buf, size, "%s", strbuf_str(&b));
    strbuf_finish(&b);
    return buf;
}

/* Replace every occurrence of @secret in @b's text with "***". */
static void
scrub_one(struct strbuf *b, const char *secret)
{
    struct strbuf out;
    const char *from = strbuf_str(b), *hit;

    if (secret == NULL || secret[0] == '\0' || strstr(from, secret) == NULL)
        return;
    strbuf_init(&out);
    while ((hit = strstr(from, secret)) != NULL) {
        strbuf_add(&out, from, (size_t)(hit - from));
        strbuf_adds(&out, "***");
        from = hit + strlen(secret);
    }
    strbuf_adds(&out, from);
    strbuf_reset(b);
    strbuf_adds(b, strbuf_str(&out));
    strbuf_finish(&out);
}

void
url_scrub(char *msg, size_t size, const struct url *u)
{
    struct strbuf b;

    strbuf_init(&b);
    strbuf_adds(&b, msg);
    scrub_one(&b, u->password);
    for (size_t i = 0; i < u->n_params; i++) {
        if (url_key_is_secret(u->params[i].key))
            scrub_one(&b, u->params[i].value);
    }
    snprintf(msg, size, "%s", strbuf_str(&b));
    strbuf_finish(&b);
}
