/* SPDX-License-Identifier: MIT
 * auth.h - bearer-token authentication and scope authorization (RFC 6750).
 *
 * struct auth holds the key set loaded from AUTH_JWKS_FILE, the claim
 * policy (issuer, audience, leeway) and the cache of verified tokens. The
 * HTTP layer hands it the Authorization header and the scope a route needs
 * and gets one of four answers; it never sees keys or claims. auth_reload()
 * (SIGHUP) loads the file again and swaps the set in whole, or keeps the
 * old one and logs why.
 * Thread-safety: auth_check() and auth_reload() from any thread, any time;
 * create and destroy while no other thread uses it. */
#ifndef USERSVC_AUTH_AUTH_H
#define USERSVC_AUTH_AUTH_H

#include <stdint.h>

#include "auth/jwt.h"
#include "base/err.h"

struct auth;

struct auth_options {
    const char *jwks_file;     /* required */
    const char *issuer;        /* NULL or "": not checked */
    const char *audience;      /* NULL or "": not checked */
    long leeway_s;
    size_t cache_capacity;     /* 0: AUTH_CACHE_DEFAULT */
};

#define AUTH_CACHE_DEFAULT 16384

enum auth_result {
    AUTH_OK,            /* the token is valid and has the scope */
    AUTH_NO_TOKEN,      /* no bearer token: 401 without an error code */
    AUTH_INVALID,       /* a token that fails a check: 401 invalid_token */
    AUTH_NO_SCOPE,      /* valid, but without the scope: 403 insufficient_scope */
};

/* Load the key set and build the cache. On USV_OK *@out is new
 * (auth_destroy()); otherwise @why names the file and the problem. The
 * option strings are copied. */
enum usv_err auth_create(const struct auth_options *opts, struct auth **out, char *why,
                         size_t why_size);
void auth_destroy(struct auth *auth);

/* Load the key set file again. On success the new set replaces the old one
 * at once and the cache is emptied; on failure the old set stays and the
 * reason is logged. Accepts NULL (no authentication configured). */
enum usv_err auth_reload(struct auth *auth);

/* Check the value of an Authorization header (@authorization, NULL when
 * absent) for a token granting every scope bit of @needed (0: any valid
 * token). @subject (JWT_SUBJECT_MAX + 1 bytes) receives the token's "sub"
 * whenever the token is valid (AUTH_OK or AUTH_NO_SCOPE), "" otherwise.
 * @now is seconds since the epoch. */
enum auth_result auth_check(struct auth *auth, const char *authorization, unsigned needed,
                            int64_t now, char *subject);

/* The scope names of @scopes bits, space-separated, for WWW-Authenticate. */
const char *auth_scope_name(unsigned scope);

#endif
