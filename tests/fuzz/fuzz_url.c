/* SPDX-License-Identifier: MIT
 * fuzz_url.c - libFuzzer harness: DATABASE_URL handling.
 *
 * The input (up to its first NUL) is a DATABASE_URL. Three consumers:
 *
 * url_parse() (orm/url.h, the grammar of every scheme://). Checks:
 *  - on failure: an error message, and an empty struct url;
 *  - on success: the documented shape (lower-case scheme, user NULL or
 *    non-empty, no password without a user, port 1-65535 and the default
 *    when none is named, non-empty distinct query keys and values);
 *  - a round trip: the parts, %-encoded again and put back together, parse
 *    to exactly the same parts (host lists included); url_copy() is deep.
 *
 * url_parse_database() (the one DATABASE_URL parser, called at open): a
 * message or the documented shape, "sqlite:PATH" kept as written.
 *
 * url_redact() (orm/url.h, used for every log line that shows
 * the URL), into a heap buffer of exactly the given size (so ASan sees any
 * access past it), once with main.c's 512 bytes and once with a size
 * derived from the input (truncation at every length). Checks:
 *  - the result is the buffer, NUL-terminated inside it;
 *  - the password invariant. A URL "scheme://AUTHORITY..." whose authority,
 *    read up to the first '/', holds an '@' has the userinfo before the
 *    first '@', and the password P is what follows the userinfo's first
 *    ':'. This is how libpq reads postgres:// URLs (raw '?', '#' and ':'
 *    are password characters there), and every URL orm/url.c accepts reads
 *    the same way. When P is non-empty (and free of control bytes), P must
 *    not occur in the output unless it also occurs in the input somewhere
 *    else than at its own place. Each "***" of the output is first turned
 *    into one \x01 byte, so that text around a redaction cannot combine
 *    with the asterisks into P (P = "*", or user "u" + ":***" for P = "u:*").
 * Run: tests/fuzz/run.sh. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/strbuf.h"
#include "orm/url.h"
#include "base/util.h"
#include "tests/fuzz/fuzz_check.h"

#define DEFAULT_PORT 3306u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool
str_eq(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* ---- url_parse -------------------------------------------------------- */

/* Append @s %-encoding everything but RFC 3986 unreserved characters. */
static void
add_encoded(struct strbuf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";

    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '.' || *p == '_' || *p == '~')
            strbuf_add(b, p, 1);
        else
            strbuf_addf(b, "%%%c%c", hex[*p >> 4], hex[*p & 15]);
    }
}

/* The URL of @u written back, every part %-encoded. */
static char *
compose(const struct url *u)
{
    struct strbuf b;

    strbuf_init(&b);
    strbuf_addf(&b, "%s://", u->scheme);
    if (u->user != NULL) {
        add_encoded(&b, u->user);
        if (u->password != NULL) {
            strbuf_adds(&b, ":");
            add_encoded(&b, u->password);
        }
        strbuf_adds(&b, "@");
    }
    for (size_t i = 0; i < u->n_hosts; i++) {
        const struct url_host *h = &u->hosts[i];

        if (i > 0)
            strbuf_adds(&b, ",");
        if (strchr(h->host, ':') != NULL) {
            /* IPv6: brackets again, and the zone's '%' as "%25". */
            strbuf_adds(&b, "[");
            for (const char *p = h->host; *p != '\0'; p++) {
                if (*p == '%')
                    strbuf_adds(&b, "%25");
                else
                    strbuf_add(&b, p, 1);
            }
            strbuf_adds(&b, "]");
        } else {
            strbuf_adds(&b, h->host);
        }
        if (h->has_port)
            strbuf_addf(&b, ":%u", h->port);
    }
    if (u->path != NULL) {
        strbuf_adds(&b, "/");
        add_encoded(&b, u->path);
    }
    for (size_t i = 0; i < u->n_params; i++) {
        strbuf_adds(&b, i == 0 ? "?" : "&");
        add_encoded(&b, u->params[i].key);
        strbuf_adds(&b, "=");
        add_encoded(&b, u->params[i].value);
    }
    return strbuf_take(&b);
}

static void
check_shape(const struct url *u)
{
    CHECK(u->scheme != NULL && u->scheme[0] != '\0');
    for (const char *p = u->scheme; *p != '\0'; p++)
        CHECK(!(*p >= 'A' && *p <= 'Z'));
    CHECK(u->user == NULL || u->user[0] != '\0');
    CHECK(u->user != NULL || u->password == NULL);
    CHECK(u->host != NULL);
    CHECK(u->port >= 1 && u->port <= 65535);
    CHECK(u->has_port || u->port == DEFAULT_PORT);
    CHECK(u->n_hosts >= 1 && u->hosts != NULL);
    CHECK(strcmp(u->hosts[0].host, u->host) == 0 && u->hosts[0].port == u->port &&
          u->hosts[0].has_port == u->has_port);
    for (size_t i = 0; i < u->n_hosts; i++) {
        CHECK(u->hosts[i].port >= 1 && u->hosts[i].port <= 65535);
        CHECK(u->hosts[i].has_port || u->hosts[i].port == DEFAULT_PORT);
        CHECK(u->n_hosts == 1 || u->hosts[i].host[0] != '\0');
    }
    CHECK(u->path == NULL || u->path[0] != '\0');
    CHECK(u->n_params == 0 || u->params != NULL);
    for (size_t i = 0; i < u->n_params; i++) {
        CHECK(u->params[i].key[0] != '\0' && u->params[i].value[0] != '\0');
        CHECK(url_param(u, u->params[i].key) == u->params[i].value);   /* keys distinct */
    }
}

static void
check_url_parse(const char *text)
{
    struct url u, again;
    char err[128], err2[128];
    char *text2, *text3;

    err[0] = '\0';
    if (!url_parse(text, DEFAULT_PORT, &u, err, sizeof(err))) {
        CHECK(err[0] != '\0');
        CHECK(u.scheme == NULL && u.user == NULL && u.password == NULL && u.host == NULL &&
              u.path == NULL && u.params == NULL && u.n_params == 0);
        url_finish(&u);   /* must accept an empty url */
        return;
    }
    check_shape(&u);
    text2 = compose(&u);
    if (!url_parse(text2, DEFAULT_PORT, &again, err2, sizeof(err2))) {
        fprintf(stderr, "re-composed URL rejected: %s\n", err2);
        CHECK(!"a parsed URL, written back, parses again");
    }
    CHECK(str_eq(u.scheme, again.scheme) && str_eq(u.user, again.user) &&
          str_eq(u.password, again.password) && str_eq(u.host, again.host) &&
          str_eq(u.path, again.path));
    CHECK(u.port == again.port && u.has_port == again.has_port);
    CHECK(u.n_hosts == again.n_hosts);
    for (size_t i = 0; i < u.n_hosts; i++) {
        CHECK(str_eq(u.hosts[i].host, again.hosts[i].host));
        CHECK(u.hosts[i].port == again.hosts[i].port);
    }
    CHECK(u.n_params == again.n_params);
    for (size_t i = 0; i < u.n_params; i++) {
        CHECK(str_eq(u.params[i].key, again.params[i].key));
        CHECK(str_eq(u.params[i].value, again.params[i].value));
    }
    url_finish(&again);
    /* A deep copy is the same URL and lives on alone. */
    url_copy(&again, &u);
    url_finish(&u);
    CHECK(u.scheme == NULL && u.n_params == 0);
    text3 = compose(&again);
    CHECK(strcmp(text3, text2) == 0);
    free(text3);
    url_finish(&again);
    free(text2);
}

/* url_parse_database(): the same grammar for URLs with "//", and
 * "sqlite:PATH" taken as written. */
static void
check_parse_database(const char *text)
{
    struct url u;
    char err[128] = "";

    if (!url_parse_database(text, &u, err, sizeof(err))) {
        CHECK(err[0] != '\0');
        CHECK(u.scheme == NULL && u.params == NULL && u.hosts == NULL);
        return;
    }
    CHECK(u.scheme != NULL);
    if (strcmp(u.scheme, "sqlite") == 0 && strncasecmp(text, "sqlite:", 7) == 0)
        CHECK(u.path != NULL && strcmp(u.path, text + 7) == 0);
    else
        CHECK(u.n_hosts >= 1);
    url_finish(&u);
}

/* ---- url_redact --------------------------------------------------- */

/* The password of @text as described above: its offset and length, or
 * false when there is none (or it is empty). */
static bool
find_password(const char *text, size_t *off, size_t *len)
{
    const char *p = text, *auth, *auth_end, *at, *colon;

    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
        return false;
    while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
           *p == '+' || *p == '-' || *p == '.')
        p++;
    if (strncmp(p, "://", 3) != 0)
        return false;
    auth = p + 3;
    auth_end = auth + strcspn(auth, "/");
    at = memchr(auth, '@', (size_t)(auth_end - auth));
    if (at == NULL)
        return false;
    colon = memchr(auth, ':', (size_t)(at - auth));
    if (colon == NULL || colon + 1 == at)
        return false;
    *off = (size_t)(colon + 1 - text);
    *len = (size_t)(at - colon - 1);
    return true;
}

/* Is @needle (@n bytes) somewhere in @text other than at offset @own? */
static bool
occurs_elsewhere(const char *text, const char *needle, size_t n, size_t own)
{
    size_t len = strlen(text);

    for (size_t i = 0; i + n <= len; i++) {
        if (i != own && memcmp(text + i, needle, n) == 0)
            return true;
    }
    return false;
}

/* A cut output must be a prefix of the whole one (so a cut can only drop
 * text, never undo a redaction); the password check runs on the whole one,
 * where a cut "***" cannot pass for a password of asterisks. */
static void
check_redact(const char *text, size_t size)
{
    size_t whole_size = strlen(text) * 2 + 16;
    char *buf = xmalloc(size);
    char *whole = xmalloc(whole_size);
    const char *out = url_redact(text, buf, size);
    size_t off, len;

    CHECK(out == buf);
    CHECK(memchr(buf, '\0', size) != NULL);
    CHECK(url_redact(text, whole, whole_size) == whole);
    CHECK(strlen(whole) < whole_size - 1);   /* really whole */
    CHECK(strncmp(whole, buf, strlen(buf)) == 0);
    out = whole;
    if (find_password(text, &off, &len)) {
        char *pw = xstrndup(text + off, len);
        struct strbuf marked;
        bool has_ctl = false;

        for (size_t i = 0; i < len; i++)
            has_ctl = has_ctl || (unsigned char)pw[i] < 0x20;
        strbuf_init(&marked);
        for (const char *p = out; *p != '\0';) {
            if (strncmp(p, "***", 3) == 0) {
                strbuf_adds(&marked, "\x01");
                p += 3;
            } else {
                strbuf_add(&marked, p++, 1);
            }
        }
        if (!has_ctl && strstr(strbuf_str(&marked), pw) != NULL &&
            !occurs_elsewhere(text, pw, len, off)) {
            fprintf(stderr, "password shown by url_redact (buffer %zu bytes):\n"
                            "  url: %s\n  out: %s\n", size, text, out);
            CHECK(!"the password does not appear in the redacted URL");
        }
        strbuf_finish(&marked);
        free(pw);
    }
    free(whole);
    free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = xstrndup((const char *)data, strnlen((const char *)data, size));
    size_t len = strlen(text);
    uint32_t h = 2166136261u;   /* FNV-1a: a buffer size that varies with the input */

    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 16777619u;
    check_url_parse(text);
    check_parse_database(text);
    check_redact(text, 512);             /* as service/main.c calls it */
    check_redact(text, 1 + h % (len + 8));
    free(text);
    return 0;
}
