/* SPDX-License-Identifier: MIT
 * b64url.h - strict base64url decoding (RFC 4648 section 5, as JOSE uses it).
 *
 * Strict means: the URL-safe alphabet only, no padding, no whitespace, no
 * length that cannot come from an encoder (len % 4 == 1) and no stray bits
 * in the last character, so every byte string has exactly one accepted
 * encoding and a token cannot be altered without changing its meaning.
 * Thread-safety: pure function. */
#ifndef USERSVC_AUTH_B64URL_H
#define USERSVC_AUTH_B64URL_H

#include <stdbool.h>
#include <stddef.h>

/* The most bytes @len characters can decode to. */
#define B64URL_DECODED_MAX(len) (((len) / 4) * 3 + 2)

/* Decode @in (@len characters, not NUL-terminated) into @out (room for
 * @cap bytes). On success *@out_len is the decoded length; false for any
 * character outside the alphabet, an impossible length, non-zero padding
 * bits, or too little room. @out may then hold garbage. */
bool b64url_decode(const char *in, size_t len, unsigned char *out, size_t cap,
                   size_t *out_len);

#endif
