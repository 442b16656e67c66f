/* SPDX-License-Identifier: MIT
 * cache.c - see cache.h. The first bytes of the SHA-256 key pick the set;
 * the key is compared whole. A set's lock is held only for a 32-byte
 * compare or copy, never during hashing or verification. */
#include "auth/cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "base/util.h"

#define CACHE_WAYS 4
#define CACHE_STRIPES 64

struct entry {
    bool is_used;
    unsigned char key[CACHE_KEY_LEN];
    struct jwt_claims claims;
};

struct token_cache {
    size_t n_sets;                          /* a power of two */
    struct entry *entries;                  /* n_sets * CACHE_WAYS; set i guarded by
                                               stripes[i % CACHE_STRIPES] */
    pthread_mutex_t stripes[CACHE_STRIPES];
    atomic_uint_fast64_t generation;        /* bumped by cache_clear() before it clears */
};

uint64_t
cache_generation(struct token_cache *cache)
{
    return atomic_load(&cache->generation);
}

struct token_cache *
cache_create(size_t capacity)
{
    struct token_cache *c = xcalloc(1, sizeof(*c));

    c->n_sets = 1;
    while (c->n_sets * CACHE_WAYS < capacity)
        c->n_sets *= 2;
    c->entries = xcalloc(c->n_sets * CACHE_WAYS, sizeof(*c->entries));
    for (size_t i = 0; i < CACHE_STRIPES; i++)
        pthread_mutex_init(&c->stripes[i], NULL);
    return c;
}

void
cache_destroy(struct token_cache *cache)
{
    if (cache == NULL)
        return;
    for (size_t i = 0; i < CACHE_STRIPES; i++)
        pthread_mutex_destroy(&cache->stripes[i]);
    free(cache->entries);
    free(cache);
}

bool
cache_key(const char *token, size_t len, unsigned char key[CACHE_KEY_LEN])
{
    return gnutls_hash_fast(GNUTLS_DIG_SHA256, token, len, key) >= 0;
}

static size_t
set_of(const struct token_cache *cache, const unsigned char key[CACHE_KEY_LEN])
{
    size_t h;

    memcpy(&h, key, sizeof(h));
    return h & (cache->n_sets - 1);
}

bool
cache_get(struct token_cache *cache, const unsigned char key[CACHE_KEY_LEN], int64_t now,
          int64_t leeway_s, struct jwt_claims *out)
{
    size_t set = set_of(cache, key);
    struct entry *e = &cache->entries[set * CACHE_WAYS];
    pthread_mutex_t *mu = &cache->stripes[set % CACHE_STRIPES];
    bool found = false;

    xlock(mu);
    for (size_t i = 0; i < CACHE_WAYS; i++) {
        if (!e[i].is_used || memcmp(e[i].key, key, CACHE_KEY_LEN) != 0)
            continue;
        if (jwt_exp_ok(e[i].claims.exp, now, leeway_s)) {
            *out = e[i].claims;
            found = true;
        } else {
            e[i].is_used = false;
        }
        break;
    }
    xunlock(mu);
    return found;
}

void
cache_put(struct token_cache *cache, uint64_t generation,
          const unsigned char key[CACHE_KEY_LEN], const struct jwt_claims *claims)
{
    size_t set = set_of(cache, key);
    struct entry *e = &cache->entries[set * CACHE_WAYS];
    pthread_mutex_t *mu = &cache->stripes[set % CACHE_STRIPES];
    struct entry *victim = &e[0];

    xlock(mu);
    /* Checked under the set's lock: a clear that began after this check
     * reaches this set later and removes the entry. */
    if (atomic_load(&cache->generation) != generation) {
        xunlock(mu);
        return;
    }
    for (size_t i = 0; i < CACHE_WAYS; i++) {
        if (e[i].is_used && memcmp(e[i].key, key, CACHE_KEY_LEN) == 0) {
            victim = &e[i];
            break;
        }
        if (!e[i].is_used) {
            victim = &e[i];
        } else if (victim->is_used && e[i].claims.exp < victim->claims.exp) {
            victim = &e[i];
        }
    }
    victim->is_used = true;
    memcpy(victim->key, key, CACHE_KEY_LEN);
    victim->claims = *claims;
    xunlock(mu);
}

void
cache_clear(struct token_cache *cache)
{
    atomic_fetch_add(&cache->generation, 1);
    for (size_t set = 0; set < cache->n_sets; set++) {
        pthread_mutex_t *mu = &cache->stripes[set % CACHE_STRIPES];

        xlock(mu);
        for (size_t i = 0; i < CACHE_WAYS; i++)
            cache->entries[set * CACHE_WAYS + i].is_used = false;
        xunlock(mu);
    }
}

size_t
cache_size(struct token_cache *cache)
{
    size_t n = 0;

    for (size_t set = 0; set < cache->n_sets; set++) {
        pthread_mutex_t *mu = &cache->stripes[set % CACHE_STRIPES];

        xlock(mu);
        for (size_t i = 0; i < CACHE_WAYS; i++)
            n += cache->entries[set * CACHE_WAYS + i].is_used;
        xunlock(mu);
    }
    return n;
}
