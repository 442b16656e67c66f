/* SPDX-License-Identifier: MIT
 * util.c - see util.h. */
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void
oom(size_t n)
{
    fprintf(stderr, "usersvc: out of memory allocating %zu bytes\n", n);
    abort();
}

void *
xmalloc(size_t n)
{
    void *p = malloc(n != 0 ? n : 1);

    if (p == NULL)
        oom(n);
    return p;
}

void *
xcalloc(size_t nmemb, size_t size)
{
    void *p = calloc(nmemb != 0 ? nmemb : 1, size != 0 ? size : 1);

    if (p == NULL)
        oom(nmemb * size);
    return p;
}

void *
xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n != 0 ? n : 1);

    if (q == NULL)
        oom(n);
    return q;
}

char *
xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);

    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

bool
parse_id(const char *s, size_t len, int64_t *out)
{
    uint64_t v = 0;

    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned d;

        if (s[i] < '0' || s[i] > '9')
            return false;
        d = (unsigned)(s[i] - '0');
        if (v > ((uint64_t)INT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (v == 0)
        return false;
    *out = (int64_t)v;
    return true;
}

bool
parse_long(const char *s, long min, long max, long *out)
{
    char *end = NULL;
    long v;

    if (s == NULL || *s == '\0' || (min >= 0 && (*s == '-' || *s == '+')))
        return false;
    if (isspace((unsigned char)*s))
        return false;   /* strtol would skip it; the whole string must be the number */
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

void
utc_stamp(char *buf, size_t size)
{
    struct timespec ts;
    struct tm tm;
    char base[32];

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, size, "%s.%06ldZ", base, ts.tv_nsec / 1000);
}

uint64_t
monotonic_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t
monotonic_ms(void)
{
    return monotonic_us() / 1000u;
}

struct timespec
monotonic_deadline(unsigned ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

void
xlock(pthread_mutex_t *mu)
{
    if (pthread_mutex_lock(mu) != 0)
        abort();
}

void
xunlock(pthread_mutex_t *mu)
{
    if (pthread_mutex_unlock(mu) != 0)
        abort();
}

int
json_nesting_depth(const char *text, size_t len)
{
    int depth = 0, max = 0;
    bool in_string = false;

    for (size_t i = 0; i < len; i++) {
        char c = text[i];

        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > max)
                max = depth;
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    return max;
}
