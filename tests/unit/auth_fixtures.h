/* SPDX-License-Identifier: MIT
 * auth_fixtures.h - shared by the auth unit tests: keys, JWK Sets and
 * tokens minted for this run by PyJWT (tests/auth/mint.py) into a temporary
 * directory, for the fixed clock FIXTURES_NOW. The test binary runs the
 * minting itself (a child process), so that valgrind and the sanitizers
 * look at the test and nothing else. Header-only: each test is one file. */
#ifndef USERSVC_TESTS_AUTH_FIXTURES_H
#define USERSVC_TESTS_AUTH_FIXTURES_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "auth/jwks.h"
#include "base/util.h"

#define FIXTURES_NOW 1800000000

static char fixtures_dir[256];

/* Mint the fixtures (python3 with PyJWT from tests/auth/python.sh) into a
 * new temporary directory. Exits 77 (meson's SKIP) without PyJWT. */
static inline void
fixtures_setup(void)
{
    char cmd[1024];
    int status;

    snprintf(fixtures_dir, sizeof(fixtures_dir), "%s/usersvc-keys.XXXXXX",
             getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(fixtures_dir) == NULL) {
        perror("mkdtemp");
        exit(1);
    }
    snprintf(cmd, sizeof(cmd),
             "cd '%s' && { . ./python.sh || exit 77; } && \"$JWT_PYTHON\" mint.py keys '%s' && "
             "\"$JWT_PYTHON\" mint.py cases '%s' %d",
             AUTH_TESTS_DIR, fixtures_dir, fixtures_dir, FIXTURES_NOW);
    status = system(cmd);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fixtures_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", fixtures_dir);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
            fprintf(stderr, "no python3 with PyJWT (python3-jwt): skipped\n");
            exit(77);
        }
        fprintf(stderr, "tests/auth/mint.py failed\n");
        exit(1);
    }
    setenv("AUTH_FIXTURES", fixtures_dir, 1);
}

static inline void
fixtures_teardown(void)
{
    char cmd[512];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fixtures_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", fixtures_dir);
}

/* The fixture file @name (new, NUL-terminated), length in *@len; aborts
 * when missing, since fixtures_setup() made them all. */
static inline char *
fixture_read(const char *name, size_t *len)
{
    const char *dir = getenv("AUTH_FIXTURES");
    char path[1024];
    char *text = xmalloc(65536);
    FILE *f;
    size_t n;

    if (dir == NULL) {
        fprintf(stderr, "AUTH_FIXTURES is not set: call fixtures_setup() first\n");
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
    return FIXTURES_NOW;
}

#endif
