/* SPDX-License-Identifier: MIT
 * auth_fixtures.h - shared by the auth unit tests: read the keys and
 * tokens tests/auth/with_keys.sh minted with PyJWT (into $AUTH_FIXTURES,
 * for the clock $AUTH_FIXTURES_NOW). Header-only: each test is one file. */
#ifndef USERSVC_TESTS_AUTH_FIXTURES_H
#define USERSVC_TESTS_AUTH_FIXTURES_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/jwks.h"
#include "base/util.h"

/* The fixture file @name (new, NUL-terminated), length in *@len; aborts
 * when missing, since the wrapper always makes them. */
static inline char *
fixture_read(const char *name, size_t *len)
{
    const char *dir = getenv("AUTH_FIXTURES");
    char path[1024];
    char *text = xmalloc(65536);
    FILE *f;
    size_t n;

    if (dir == NULL) {
        fprintf(stderr, "AUTH_FIXTURES is not set: run through tests/auth/with_keys.sh\n");
        exit(1);
    }
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "missing fixture %s\n", path);
        exit(1);
    }
    n = fread(text, 1, 65535, f);
    fclose(f);
    text[n] = '\0';
    if (len != NULL)
        *len = n;
    return text;
}

static inline char *
fixture_path(const char *name)
{
    char path[1024];

    snprintf(path, sizeof(path), "%s/%s", getenv("AUTH_FIXTURES"), name);
    return xstrdup(path);
}

static inline int64_t
fixture_now(void)
{
    long now = 0;

    if (getenv("AUTH_FIXTURES_NOW") == NULL ||
        !parse_long(getenv("AUTH_FIXTURES_NOW"), 0, 4000000000L, &now))
        exit(1);
    return now;
}

#endif
