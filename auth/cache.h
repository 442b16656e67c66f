/* SPDX-License-Identifier: MIT
 * cache.h - a bounded cache of verified tokens, so that a client reusing its
 * token pays a hash and a lookup, not a signature verification.
 *
 * Keyed by the SHA-256 of the whole token (the token itself is never
 * stored); an entry holds what the verifier granted (exp, scopes, subject)
 * and is good no longer than the token: every hit re-checks "exp" against
 * the clock with the same rule as the verifier, so the cache can never
 * accept a token the verifier would refuse now. The policy and the keys
 * are fixed between two cache_clear() calls (the key set's reload clears it).
 * Set-associative: a hash picks a set of CACHE_WAYS entries; a full set
 * evicts the entry closest to expiry. Sets are guarded by striped mutexes.
 * Thread-safety: every function is thread-safe. */
#ifndef USERSVC_AUTH_CACHE_H
#define USERSVC_AUTH_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/jwt.h"

#define CACHE_KEY_LEN 32           /* SHA-256 */

struct token_cache;

/* A cache for about @capacity tokens (rounded up to a power of two sets). */
struct token_cache *cache_create(size_t capacity);
void cache_destroy(struct token_cache *cache);

/* SHA-256 of @token into @key (GnuTLS). False if GnuTLS fails. */
bool cache_key(const char *token, size_t len, unsigned char key[CACHE_KEY_LEN]);

/* The claims stored for @key, if present and still valid at @now with
 * @leeway_s (an expired entry is dropped). */
bool cache_get(struct token_cache *cache, const unsigned char key[CACHE_KEY_LEN], int64_t now,
               int64_t leeway_s, struct jwt_claims *out);

/* The generation: cache_clear() starts a new one. Read it together with
 * the keys a verification uses (under the lock that guards them). */
uint64_t cache_generation(struct token_cache *cache);

/* Remember what the verifier granted for @key (copied), unless the cache
 * was cleared since @generation: a verification that used keys replaced
 * meanwhile must not outlive the reload. */
void cache_put(struct token_cache *cache, uint64_t generation,
               const unsigned char key[CACHE_KEY_LEN], const struct jwt_claims *claims);

/* Forget every entry and start a new generation. */
void cache_clear(struct token_cache *cache);

/* Entries held now (for tests). */
size_t cache_size(struct token_cache *cache);

#endif
