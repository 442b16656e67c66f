/* SPDX-License-Identifier: MIT
 * log.h - leveled logging to stderr, one write() per line, text or JSON.
 *
 * Text lines: "2026-11-21T08:00:00.123456Z INFO http message key=value…".
 * JSON lines: {"ts":…,"level":"info","component":"http","msg":…,key:value…}.
 * The level is checked before anything is formatted. Control characters and
 * invalid UTF-8 (a client's path, say) are escaped, so a line can never be
 * forged or broken. Never pass passwords, DSNs with credentials,
 * Authorization headers or request bodies to these.
 * Thread-safety: log_setup() once before threads start; the rest any time. */
#ifndef USERSVC_SERVICE_LOG_H
#define USERSVC_SERVICE_LOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/util.h"

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Set the threshold (default LOG_INFO) and the format (default text). */
void log_setup(enum log_level level, bool is_json);

/* Parse "error", "warn", "info", "debug"; false if unknown. */
bool log_level_parse(const char *s, enum log_level *out);

bool log_enabled(enum log_level level);

/* Rate limiting for messages that may repeat per request (timeouts): true
 * at most once per @every_ms per @last (a caller's static, starts at 0),
 * adding to *@suppressed each time it says false. Any thread. */
bool log_every(_Atomic uint64_t *last, unsigned every_ms, _Atomic uint64_t *suppressed);

/* Write one line: time, level, @component, formatted message. */
void log_write(enum log_level level, const char *component, const char *fmt, ...)
    PRINTF_LIKE(3, 4);

/* The request id every line written by this thread carries, as the field
 * request_id, until the next call: the HTTP layer sets it where a request
 * starts, so the ORM's lines (and everyone's) can be matched to the access
 * line of the request they served. NULL or "" = none. Copied (at most
 * LOG_REQUEST_ID_MAX bytes). Thread-local: affects the calling thread only. */
#define LOG_REQUEST_ID_MAX 40
void log_set_request_id(const char *rid);

/* The calling thread's request id ("" when none); valid until the next
 * log_set_request_id() on this thread. */
const char *log_request_id(void);

/* A structured field: exactly one of @s (string) or @num is used. */
struct log_field {
    const char *key;
    const char *s;       /* NULL: use num */
    double num;
};

/* Write one line with a fixed message and @n fields (strings borrowed); the
 * request id is added unless a field already is "request_id". */
void log_fields(enum log_level level, const char *component, const char *msg,
                const struct log_field *fields, size_t n);

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
