/* SPDX-License-Identifier: MIT
 * openapi.c - see openapi.h.
 *
 * Each request parses the embedded text into a fresh json_t. A document
 * parsed once and shared would save ~0.1 ms per request on an endpoint that
 * clients fetch once, but http.c serializes and decrefs the value it gets,
 * and sharing one json_t between threads would lean on jansson internals
 * (refcounts, dump-time loop checks) being thread-safe. The text itself was
 * checked at build time (embed_file.py --json), so parsing cannot fail
 * short of running out of memory. */
#include "handlers/openapi.h"

#include <stddef.h>

#include "base/log.h"

/* Generated from openapi.json (handlers/meson.build). */
extern const char openapi_json[];
extern const size_t openapi_json_len;

enum usv_err
openapi_get(struct http_req *req, json_t **out)
{
    json_error_t err;
    json_t *doc;

    doc = json_loadb(openapi_json, openapi_json_len, JSON_REJECT_DUPLICATES, &err);
    if (doc == NULL) {
        log_error("openapi", "embedded openapi.json does not parse: %s (line %d)", err.text,
                  err.line);
        return USV_INTERNAL;
    }
    *out = doc;
    return USV_OK;
}
