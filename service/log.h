/* SPDX-License-Identifier: MIT
 * log.h - leveled logging to stderr, one write() per line.
 *
 * Text lines look like "2026-11-21T08:00:00.123456Z INFO http message"; the
 * level is checked before anything is formatted. Never pass passwords, DSNs
 * with credentials, Authorization headers or request bodies to these.
 * Thread-safety: log_setup() once before threads start; the rest any time. */
#ifndef USERSVC_SERVICE_LOG_H
#define USERSVC_SERVICE_LOG_H

#include <stdbool.h>

#include "service/util.h"

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Set the threshold (default LOG_INFO). */
void log_setup(enum log_level level);

/* Parse "error", "warn", "info", "debug"; false if unknown. */
bool log_level_parse(const char *s, enum log_level *out);

bool log_enabled(enum log_level level);

/* Write one line: time, level, @component, formatted message. */
void log_write(enum log_level level, const char *component, const char *fmt, ...)
    PRINTF_LIKE(3, 4);

#define LOG_AT_(lvl, comp, ...)                     \
    do {                                            \
        if (log_enabled(lvl))                       \
            log_write(lvl, comp, __VA_ARGS__);      \
    } while (0)
#define log_error(comp, ...) LOG_AT_(LOG_ERROR, comp, __VA_ARGS__)
#define log_warn(comp, ...)  LOG_AT_(LOG_WARN, comp, __VA_ARGS__)
#define log_info(comp, ...)  LOG_AT_(LOG_INFO, comp, __VA_ARGS__)
#define log_debug(comp, ...) LOG_AT_(LOG_DEBUG, comp, __VA_ARGS__)

#endif
