/* SPDX-License-Identifier: MIT
 * etag.c - see etag.h. The tag is FNV-1a 64 over the compact JSON text:
 * not a security hash, just a stable fingerprint of the representation. */
#include "http/etag.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t
fnv1a(const char *s, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL;

    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

void
etag_of_text(const char *text, size_t len, char out[ETAG_SIZE])
{
    static const char hex[] = "0123456789abcdef";
    uint64_t h = fnv1a(text, len);

    /* "%016llx" by hand: snprintf costs more than hashing the whole body. */
    out[0] = '"';
    for (int i = 16; i > 0; i--) {
        out[i] = hex[h & 0xF];
        h >>= 4;
    }
    out[17] = '"';
    out[18] = '\0';
}

void
etag_of(const json_t *entity, char out[ETAG_SIZE])
{
    char *text = json_dumps(entity, JSON_COMPACT);

    /* jansson fails only without memory; the tag of the empty text then
     * equals no representation's, so only "*" matches it. */
    etag_of_text(text != NULL ? text : "", text != NULL ? strlen(text) : 0, out);
    free(text);
}

/* Walk the comma-separated entity-tag list in @header; true if one tag
 * equals @etag (strong: neither may be weak; weak: W/ ignored). The whole
 * list is checked first: a malformed list matches nothing, whatever it holds
 * before the fault. */
static bool
list_matches(const char *header, const char *etag, bool is_weak_ok)
{
    const char *p = header;
    size_t etag_len = strlen(etag);
    bool is_match = false;

    while (*p == ' ' || *p == '\t')
        p++;
    if (strcmp(p, "*") == 0)
        return true;
    for (;;) {
        bool is_weak = false;
        const char *end;

        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == '\0')
            break;
        if (strncmp(p, "W/", 2) == 0) {
            is_weak = true;
            p += 2;
        }
        if (*p != '"')
            return false;   /* malformed */
        end = strchr(p + 1, '"');
        if (end == NULL)
            return false;
        if ((!is_weak || is_weak_ok) && (size_t)(end + 1 - p) == etag_len &&
            strncmp(p, etag, etag_len) == 0)
            is_match = true;
        p = end + 1;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p != ',' && *p != '\0')
            return false;
    }
    return is_match;
}

bool
etag_if_match(const char *header, const char *etag)
{
    return list_matches(header, etag, false);
}

bool
etag_if_none_match(const char *header, const char *etag)
{
    return list_matches(header, etag, true);
}
