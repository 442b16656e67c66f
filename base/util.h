/* SPDX-License-Identifier: MIT
 * util.h - allocation and locking that cannot fail, checked number parsing,
 * time stamps and deadlines, and how deep a JSON text nests.
 *
 * xmalloc() and friends abort on out-of-memory (as Redis and Kore do): a
 * service that cannot allocate a few bytes cannot answer sensibly anyway.
 * Thread-safety: every function is thread-safe. */
#ifndef USERSVC_SERVICE_UTIL_H
#define USERSVC_SERVICE_UTIL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#if defined(__GNUC__)
#define PRINTF_LIKE(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define PRINTF_LIKE(fmt, args)
/* The deepest nesting of JSON arrays and objects in @text (@len bytes),
 * strings skipped; for refusing input nested deeper than a parser's stack
 * should go (jansson recurses once per level). Not a validator: any bytes. */
int json_nesting_depth(const char *text, size_t len);

#endif

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/* Parse @s (the whole string, @len bytes) as an unsigned decimal integer made
 * only of digits 0-9 (leading zeros allowed, no sign, no spaces) into
 * @out in [1, INT64_MAX]. Returns false for anything else; @out is written
 * only on success. */
bool parse_id(const char *s, size_t len, int64_t *out);

/* Parse a whole NUL-terminated decimal string into [min, max]; no sign
 * unless min < 0, no trailing garbage. @out is written only on success. */
bool parse_long(const char *s, long min, long max, long *out);

/* Current UTC time as RFC 3339 with microseconds, "2026-11-21T08:00:00.123456Z",
 * into @buf (at least UTC_STAMP_LEN + 1 bytes). */
#define UTC_STAMP_LEN 27
void utc_stamp(char *buf, size_t size);

/* Monotonic milliseconds, for deadlines and durations. */
uint64_t monotonic_ms(void);
uint64_t monotonic_us(void);

/* CLOCK_MONOTONIC @ms from now, for timed waits on that clock: wall-clock
 * jumps cannot stretch them. */
struct timespec monotonic_deadline(unsigned ms);

/* Lock and unlock that abort on failure: a mutex error is a bug (a
 * corrupted or uninitialised mutex), never a condition to handle. */
void xlock(pthread_mutex_t *mu);
void xunlock(pthread_mutex_t *mu);

/* The deepest nesting of JSON arrays and objects in @text (@len bytes),
 * strings skipped; for refusing input nested deeper than a parser's stack
 * should go (jansson recurses once per level). Not a validator: any bytes. */
int json_nesting_depth(const char *text, size_t len);

#endif
