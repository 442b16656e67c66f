/* SPDX-License-Identifier: MIT
 * etag.h - entity tags and RFC 9110 conditional request evaluation.
 *
 * A resource's ETag is a strong validator derived from its JSON
 * representation, so it changes exactly when the representation does. The
 * representation is the compact JSON text (JSON_COMPACT) that http.c sends:
 * a handler that has the bytes of a response takes the tag over them
 * (etag_of_text), one that only has the entity (a precondition checked
 * before anything is sent) serializes it the same way (etag_of).
 * Thread-safety: pure functions. */
#ifndef USERSVC_SERVICE_ETAG_H
#define USERSVC_SERVICE_ETAG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define ETAG_SIZE 19   /* "\"" + 16 hex digits + "\"" + NUL */

/* Write the strong ETag of the representation @text (@len bytes, the
 * compact JSON as sent) into @out, quotes included. */
void etag_of_text(const char *text, size_t len, char out[ETAG_SIZE]);

/* Write the strong ETag of @entity into @out: etag_of_text() of its compact
 * JSON text, so equal to the tag of the response body @entity becomes. */
void etag_of(const json_t *entity, char out[ETAG_SIZE]);

/* If-Match (RFC 9110 13.1.1): does @header ("*" or a list of entity tags)
 * match the current @etag under strong comparison? "*" matches any
 * existing resource. A malformed list matches nothing. */
bool etag_if_match(const char *header, const char *etag);

/* If-None-Match (RFC 9110 13.1.2): does @header match @etag under weak
 * comparison (W/ prefixes ignored)? "*" matches. */
bool etag_if_none_match(const char *header, const char *etag);

#endif
