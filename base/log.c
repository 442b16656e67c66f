/* SPDX-License-Identifier: MIT
 * log.c - see log.h. A line is built in a stack buffer and written with one
 * write(2), so lines from many threads never interleave; a line longer than
 * the buffer is cut, never split. Lines written while a thread serves a
 * request end with its request_id (a thread-local set by the HTTP layer). */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define LINE_MAX_BYTES 4096

static atomic_int threshold = LOG_INFO;
static atomic_bool is_json_format;

/* The request the calling thread serves (log_set_request_id()); "" = none.
 * MHD runs one request at a time per thread, so a thread-local is exact. */
static _Thread_local char request_id[LOG_REQUEST_ID_MAX + 1];

/* Fields a line carries at most when the request id is added to them. */
#define LOG_MAX_FIELDS 24

static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
static const char *const level_json[] = {"error", "warn", "info", "debug"};

void
log_setup(enum log_level level, bool is_json)
{
    atomic_store(&threshold, (int)level);
    atomic_store(&is_json_format, is_json);
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

struct line {
    char buf[LINE_MAX_BYTES];
    size_t len;
};

static void
put(struct line *l, const char *s, size_t n)
{
    /* Keep room for the closing "}" and "\n". */
    if (n > sizeof(l->buf) - 8 - l->len)
        n = sizeof(l->buf) - 8 - l->len;
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

static void
puts_raw(struct line *l, const char *s)
{
    put(l, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at @s, or 0 if invalid. */
static size_t
utf8_len(const unsigned char *s)
{
    size_t n;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xC2 && s[0] <= 0xDF)
        n = 2;
    else if (s[0] >= 0xE0 && s[0] <= 0xEF)
        n = 3;
    else if (s[0] >= 0xF0 && s[0] <= 0xF4)
        n = 4;
    else
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    }
    return n;
}

/* Append @s with '"' and '\\' escaped: JSON string content, or the inside
 * of a quoted text value (control bytes and invalid UTF-8 as \xNN). */
static void
put_escaped_quoted(struct line *l, const char *s, bool is_json)
{
    const unsigned char *p = (const unsigned char *)s;
    char esc[8];

    while (*p != '\0') {
        size_t n = utf8_len(p);

        if (n == 0) {
            snprintf(esc, sizeof(esc), is_json ? "\\ufffd" : "\\x%02x", *p);
            puts_raw(l, esc);
            p++;
        } else if (*p == '"' || *p == '\\') {
            snprintf(esc, sizeof(esc), "\\%c", *p);
            puts_raw(l, esc);
            p++;
        } else if (*p < 0x20 || *p == 0x7F) {
            snprintf(esc, sizeof(esc), is_json ? "\\u%04x" : "\\x%02x", *p);
            puts_raw(l, esc);
            p++;
        } else {
            put(l, (const char *)p, n);
            p += n;
        }
    }
}

/* Append @s escaped: JSON string content (quotes escaped), or unquoted text
 * (a message, a plain word) with \xNN escapes. */
static void
put_escaped(struct line *l, const char *s, bool is_json)
{
    const unsigned char *p = (const unsigned char *)s;
    char esc[8];

    if (is_json) {
        put_escaped_quoted(l, s, true);
        return;
    }
    while (*p != '\0') {
        size_t n = utf8_len(p);

        if (n == 0 || *p < 0x20 || *p == 0x7F) {
            snprintf(esc, sizeof(esc), "\\x%02x", *p);
            puts_raw(l, esc);
            p++;
        } else {
            put(l, (const char *)p, n);
            p += n;
        }
    }
}

/* A text field's value: as it is when it is one plain word, else quoted
 * with '"' and '\\' escaped, so that no value (a client's path, say) can
 * end its field early and inject "status=200" or "request_id=..." after it. */
static void
put_text_value(struct line *l, const char *s)
{
    if (s[0] != '\0' && strpbrk(s, " \"=\\") == NULL) {
        put_escaped(l, s, false);
        return;
    }
    puts_raw(l, "\"");
    put_escaped_quoted(l, s, false);
    puts_raw(l, "\"");
}

static void
emit(enum log_level level, const char *component, const char *msg,
     const struct log_field *fields, size_t n)
{
    bool is_json = atomic_load(&is_json_format);
    char stamp[UTC_STAMP_LEN + 1];
    char num[40];
    struct line l;

    l.len = 0;
    utc_stamp(stamp, sizeof(stamp));
    if (is_json) {
        puts_raw(&l, "{\"ts\":\"");
        puts_raw(&l, stamp);
        puts_raw(&l, "\",\"level\":\"");
        puts_raw(&l, level_json[level]);
        puts_raw(&l, "\",\"component\":\"");
        put_escaped(&l, component, true);
        puts_raw(&l, "\",\"msg\":\"");
        put_escaped(&l, msg, true);
        puts_raw(&l, "\"");
    } else {
        puts_raw(&l, stamp);
        puts_raw(&l, " ");
        puts_raw(&l, level_names[level]);
        puts_raw(&l, " ");
        puts_raw(&l, component);
        puts_raw(&l, " ");
        put_escaped(&l, msg, false);
    }
    for (size_t i = 0; i < n; i++) {
        if (fields[i].s == NULL)
            snprintf(num, sizeof(num), "%.15g", fields[i].num);
        if (is_json) {
            puts_raw(&l, ",\"");
            puts_raw(&l, fields[i].key);
            puts_raw(&l, "\":");
            if (fields[i].s != NULL) {
                puts_raw(&l, "\"");
                put_escaped(&l, fields[i].s, true);
                puts_raw(&l, "\"");
            } else {
                puts_raw(&l, num);
            }
        } else {
            puts_raw(&l, " ");
            puts_raw(&l, fields[i].key);
            puts_raw(&l, "=");
            if (fields[i].s != NULL)
                put_text_value(&l, fields[i].s);
            else
                puts_raw(&l, num);
        }
    }
    if (is_json)
        l.buf[l.len++] = '}';
    l.buf[l.len++] = '\n';
    /* One write: a short write to stderr is not worth retrying. */
    if (write(STDERR_FILENO, l.buf, l.len) < 0)
        return;
}

void
log_set_request_id(const char *rid)
{
    size_t n = rid != NULL ? strnlen(rid, LOG_REQUEST_ID_MAX) : 0;

    memcpy(request_id, rid != NULL ? rid : "", n);
    request_id[n] = '\0';
}

const char *
log_request_id(void)
{
    return request_id;
}

void
log_write(enum log_level level, const char *component, const char *fmt, ...)
{
    char msg[LINE_MAX_BYTES];
    struct log_field rid = {.key = "request_id", .s = request_id};
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    emit(level, component, msg, &rid, request_id[0] != '\0' ? 1 : 0);
}

void
log_fields(enum log_level level, const char *component, const char *msg,
           const struct log_field *fields, size_t n)
{
    struct log_field all[LOG_MAX_FIELDS];
    bool has_rid = request_id[0] == '\0' || n >= LOG_MAX_FIELDS;

    if (!log_enabled(level))
        return;
    for (size_t i = 0; i < n && !has_rid; i++)
        has_rid = strcmp(fields[i].key, "request_id") == 0;
    if (has_rid) {
        emit(level, component, msg, fields, n);
        return;
    }
    memcpy(all, fields, n * sizeof(*fields));
    all[n].key = "request_id";
    all[n].s = request_id;
    emit(level, component, msg, all, n + 1);
}

bool
log_every(_Atomic uint64_t *last, unsigned every_ms, _Atomic uint64_t *suppressed)
{
    uint64_t now = monotonic_ms(), seen = atomic_load(last);

    if ((seen == 0 || now - seen >= every_ms) &&
        atomic_compare_exchange_strong(last, &seen, now))
        return true;
    atomic_fetch_add(suppressed, 1);
    return false;
}
