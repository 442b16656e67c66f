/* SPDX-License-Identifier: MIT
 * auth.c - see auth.h. A request first hashes its token and asks the
 * cache (no lock shared by all requests); only a miss takes a reference to
 * the current key set, verifies with it and fills the cache. A reload
 * builds the new set outside any lock, then swaps the pointer and clears
 * the cache under the lock; the old set is freed when its last verifier
 * drops it. */
#include "auth/auth.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/cache.h"
#include "base/log.h"
#include "base/util.h"

struct keyset {
    struct jwks *jwks;
    atomic_int refs;          /* the auth's own reference plus one per verifier */
};

struct auth {
    char *jwks_file, *issuer, *audience;
    struct jwt_policy policy;            /* borrows issuer and audience */
    struct token_cache *cache;
    pthread_mutex_t mu;
    struct keyset *current;              /* protected by mu; never NULL */
};

static void
keyset_unref(struct keyset *ks)
{
    if (ks != NULL && atomic_fetch_sub(&ks->refs, 1) == 1) {
        jwks_destroy(ks->jwks);
        free(ks);
    }
}

static struct keyset *
keyset_new(struct jwks *jwks)
{
    struct keyset *ks = xcalloc(1, sizeof(*ks));

    ks->jwks = jwks;
    atomic_init(&ks->refs, 1);
    return ks;
}

enum usv_err
auth_create(const struct auth_options *opts, struct auth **out, char *why, size_t why_size)
{
    struct jwks *jwks = NULL;
    struct auth *a;
    enum usv_err rc;

    rc = jwks_load_file(opts->jwks_file, &jwks, why, why_size);
    if (rc != USV_OK)
        return rc;
    a = xcalloc(1, sizeof(*a));
    a->jwks_file = xstrdup(opts->jwks_file);
    a->issuer = xstrdup(opts->issuer != NULL ? opts->issuer : "");
    a->audience = xstrdup(opts->audience != NULL ? opts->audience : "");
    a->policy.issuer = a->issuer;
    a->policy.audience = a->audience;
    a->policy.leeway_s = opts->leeway_s;
    a->cache = cache_create(opts->cache_capacity != 0 ? opts->cache_capacity
                                                      : AUTH_CACHE_DEFAULT);
    pthread_mutex_init(&a->mu, NULL);
    a->current = keyset_new(jwks);
    log_info("auth", "bearer tokens required; %zu key(s) from %s", jwks_count(jwks),
             a->jwks_file);
    *out = a;
    return USV_OK;
}

void
auth_destroy(struct auth *auth)
{
    if (auth == NULL)
        return;
    keyset_unref(auth->current);
    cache_destroy(auth->cache);
    pthread_mutex_destroy(&auth->mu);
    free(auth->jwks_file);
    free(auth->issuer);
    free(auth->audience);
    free(auth);
}

enum usv_err
auth_reload(struct auth *auth)
{
    struct jwks *jwks = NULL;
    struct keyset *old;
    char why[512];
    enum usv_err rc;

    if (auth == NULL)
        return USV_OK;
    rc = jwks_load_file(auth->jwks_file, &jwks, why, sizeof(why));
    if (rc != USV_OK) {
        log_error("auth", "key set reload failed; keeping the previous keys: %s", why);
        return rc;
    }
    xlock(&auth->mu);
    old = auth->current;
    auth->current = keyset_new(jwks);
    /* Tokens verified with the old keys must be verified again. */
    cache_clear(auth->cache);
    xunlock(&auth->mu);
    keyset_unref(old);
    log_info("auth", "key set reloaded: %zu key(s) from %s", jwks_count(jwks), auth->jwks_file);
    return USV_OK;
}

/* The token of "Bearer <token>" (RFC 6750 2.1; the scheme is case-
 * insensitive), or NULL for another scheme or no header. */
static const char *
bearer_token(const char *authorization, size_t *len)
{
    const char *p;

    if (authorization == NULL || strncasecmp(authorization, "Bearer", 6) != 0 ||
        (authorization[6] != ' ' && authorization[6] != '\0'))
        return NULL;
    p = authorization + 6;
    while (*p == ' ')
        p++;
    *len = strlen(p);
    return p;
}

static enum auth_result
grant(const struct jwt_claims *claims, unsigned needed, char *subject)
{
    memcpy(subject, claims->subject, sizeof(claims->subject));
    return (claims->scopes & needed) == needed ? AUTH_OK : AUTH_NO_SCOPE;
}

enum auth_result
auth_check(struct auth *auth, const char *authorization, unsigned needed, int64_t now,
           char *subject)
{
    unsigned char key[CACHE_KEY_LEN];
    struct jwt_claims claims;
    struct keyset *ks;
    uint64_t generation;
    enum jwt_status st;
    const char *token;
    size_t len = 0;

    subject[0] = '\0';
    token = bearer_token(authorization, &len);
    if (token == NULL)
        return AUTH_NO_TOKEN;
    if (len == 0 || len > JWT_MAX_TOKEN) {
        log_debug("auth", "token refused: %s", len == 0 ? "empty" : "too large");
        return AUTH_INVALID;
    }
    if (!cache_key(token, len, key))
        return AUTH_INVALID;
    if (cache_get(auth->cache, key, now, auth->policy.leeway_s, &claims))
        return grant(&claims, needed, subject);
    xlock(&auth->mu);
    ks = auth->current;
    atomic_fetch_add(&ks->refs, 1);
    generation = cache_generation(auth->cache);
    xunlock(&auth->mu);
    st = jwt_verify(ks->jwks, &auth->policy, token, len, now, &claims);
    if (st == JWT_OK)
        cache_put(auth->cache, generation, key, &claims);
    keyset_unref(ks);
    if (st != JWT_OK) {
        log_debug("auth", "token refused: %s", jwt_status_text(st));
        return AUTH_INVALID;
    }
    return grant(&claims, needed, subject);
}

const char *
auth_scope_name(unsigned scope)
{
    switch (scope) {
    case JWT_SCOPE_USERS_READ:
        return "users:read";
    case JWT_SCOPE_USERS_WRITE:
        return "users:write";
    case JWT_SCOPE_METRICS_READ:
        return "metrics:read";
    default:
        return "";
    }
}
