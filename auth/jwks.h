/* SPDX-License-Identifier: MIT
 * jwks.h - a JWK Set (RFC 7517) of public signature keys, loaded from a file.
 *
 * Accepted keys: RSA of at least 2048 bits (n, e), EC P-256 (x, y) and OKP
 * Ed25519 (x), each imported into a GnuTLS public key once, at load. Anything
 * else (other types and curves, private key members, a "use" other than
 * "sig", an "alg" that does not fit the key, duplicate "kid"s) makes the
 * whole file fail with a message naming it: a key set is all or nothing.
 * Thread-safety: a loaded set is immutable; any thread may read it. */
#ifndef USERSVC_AUTH_JWKS_H
#define USERSVC_AUTH_JWKS_H

#include <stdbool.h>
#include <stddef.h>

#include <gnutls/abstract.h>

#include "base/err.h"

#define JWKS_MAX_KEYS 64
#define JWKS_MIN_RSA_BITS 2048

/* The key types, each bound to exactly one JWS algorithm. */
enum jwk_type { JWK_RSA, JWK_P256, JWK_ED25519 };

struct jwk {
    char *kid;                 /* NULL: the key has no "kid" */
    enum jwk_type type;
    gnutls_pubkey_t pubkey;
};

struct jwks;

/* Load the JWK Set in @path. On USV_OK *@out is new (jwks_destroy()). On
 * USV_BAD_REQUEST @why (@why_size bytes) says what is wrong, naming @path. */
enum usv_err jwks_load_file(const char *path, struct jwks **out, char *why, size_t why_size);

/* The same from JSON text in memory (@name stands for the file in @why). */
enum usv_err jwks_load_text(const char *text, size_t len, const char *name, struct jwks **out,
                            char *why, size_t why_size);

void jwks_destroy(struct jwks *set);

size_t jwks_count(const struct jwks *set);

/* The key with "kid" @kid (@kid_len bytes), or with @kid NULL the only key
 * of a one-key set; NULL when there is none. Borrowed from @set. */
const struct jwk *jwks_find(const struct jwks *set, const char *kid, size_t kid_len);

#endif
