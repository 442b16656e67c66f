/* SPDX-License-Identifier: MIT
 * jsonw.h - JSON text written straight into a strbuf, byte for byte as
 * jansson 2.x renders the same values with JSON_COMPACT (the flags every
 * response body is dumped with: http/reply.c).
 *
 * Why: a row read for GET /users/{id} used to become a jansson object of
 * six values, then text; building and freeing the object was most of the
 * request's remaining user-space work (bench/README.md, profile). Writing
 * the text directly skips both, and the promise that nothing else changes
 * is kept by tests: tests/unit/test_jsonw.c compares the two renderings
 * over a generated corpus, tests/fuzz/fuzz_jsonw.c over fuzzed input.
 *
 * What jansson does, and so what this does:
 * - strings must be valid UTF-8 (no overlong forms, no surrogates, nothing
 *   above U+10FFFF); json_stringn() refuses anything else, and so does
 *   jsonw_string(): it returns false and leaves @b as it was;
 * - inside the quotes, '"' and '\\' and the control characters U+0000 to
 *   U+001F are escaped (\b \f \n \r \t, otherwise \u00XX, upper-case hex);
 *   everything else, '/' and U+007F and every non-ASCII character
 *   included, is copied as it is (no JSON_ENSURE_ASCII, no
 *   JSON_ESCAPE_SLASH);
 * - integers are decimal ("%lld"), objects {"k":v,"k2":v2} with no blanks.
 * Thread-safety: none needed (no state). */
#ifndef USERSVC_BASE_JSONW_H
#define USERSVC_BASE_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/strbuf.h"

/* Append @s (@len bytes, NUL bytes allowed) as a JSON string. False, with
 * nothing appended, when @s is not valid UTF-8. */
bool jsonw_string(struct strbuf *b, const char *s, size_t len);

/* Append @n as a JSON integer. */
void jsonw_int64(struct strbuf *b, int64_t n);

/* Append an object member's separator and key: ',' unless @is_first, then
 * the key (a NUL-terminated UTF-8 name) as a string and ':'. False, with
 * nothing appended, when @key is not valid UTF-8. */
bool jsonw_key(struct strbuf *b, const char *key, bool is_first);

#endif
