/* SPDX-License-Identifier: MIT
 * log.c - see log.h. A line is formatted into a stack buffer and written
 * with one write(2), so lines from many threads never interleave. */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static atomic_int threshold = LOG_INFO;

static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

void
log_setup(enum log_level level)
{
    atomic_store(&threshold, (int)level);
}

bool
log_level_parse(const char *s, enum log_level *out)
{
    for (size_t i = 0; i < ARRAY_SIZE(level_names); i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return true;
        }
    }
    if (strcasecmp(s, "warning") == 0) {
        *out = LOG_WARN;
        return true;
    }
    return false;
}

bool
log_enabled(enum log_level level)
{
    return (int)level <= atomic_load_explicit(&threshold, memory_order_relaxed);
}

void
log_write(enum log_level level, const char *component, const char *fmt, ...)
{
    char line[2048];
    char stamp[UTC_STAMP_LEN + 1];
    va_list ap;
    int n, m;

    utc_stamp(stamp, sizeof(stamp));
    n = snprintf(line, sizeof(line), "%s %s %s ", stamp, level_names[level], component);
    if (n < 0 || (size_t)n >= sizeof(line))
        return;
    va_start(ap, fmt);
    m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        return;
    n += m;
    if ((size_t)n > sizeof(line) - 2)
        n = (int)sizeof(line) - 2;  /* truncated: keep the line whole */
    line[n++] = '\n';
    /* One write: a short write to stderr is not worth retrying. */
    if (write(STDERR_FILENO, line, (size_t)n) < 0)
        return;
}
