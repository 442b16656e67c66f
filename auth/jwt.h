/* SPDX-License-Identifier: MIT
 * jwt.h - verification of a signed JWT (RFC 7519, JWS compact form, RFC 7515)
 * against a JWK Set, for bearer access tokens (RFC 9068).
 *
 * The checks, in order: size (at most JWT_MAX_TOKEN bytes), exactly three
 * strict base64url segments, a header that is a JSON object without
 * duplicate members, "typ" JWT / at+jwt / absent, no "crit", an "alg" of
 * RS256, ES256 or EdDSA, the key picked by "kid" (no "kid": a one-key set
 * only) and of the type that alg belongs to, the signature (GnuTLS), then
 * the claims: a JSON object without duplicates, "exp" required, "exp",
 * "nbf" and "iat" against the clock with the leeway, "iss" and "aud" when
 * the policy names them. Each failure has its own code for logs and tests;
 * a client only ever learns "invalid_token".
 * Thread-safety: pure functions of their arguments. */
#ifndef USERSVC_AUTH_JWT_H
#define USERSVC_AUTH_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/jwks.h"

#define JWT_MAX_TOKEN 8192
#define JWT_SUBJECT_MAX 255         /* OpenID Connect: "sub" is at most 255 ASCII characters */

/* Scopes this service knows, as bits (RFC 9068 "scope", exact tokens). */
#define JWT_SCOPE_USERS_READ   (1u << 0)
#define JWT_SCOPE_USERS_WRITE  (1u << 1)
#define JWT_SCOPE_METRICS_READ (1u << 2)

#define JWT_STATUS_TABLE(X)                                                 \
    X(OK,          "valid")                                                 \
    X(TOO_LARGE,   "token larger than the limit")                           \
    X(MALFORMED,   "not three base64url segments")                          \
    X(BAD_HEADER,  "header is not a JSON object without duplicates")        \
    X(BAD_TYP,     "typ is not JWT or at+jwt")                              \
    X(CRIT,        "header has crit extensions")                            \
    X(BAD_ALG,     "alg is not RS256, ES256 or EdDSA")                      \
    X(NO_KEY,      "no key for this kid (or no kid with several keys)")     \
    X(ALG_MISMATCH, "alg does not belong to the key's type")                \
    X(BAD_SIGNATURE, "signature does not verify")                           \
    X(BAD_CLAIMS,  "claims are not a JSON object without duplicates")       \
    X(NO_EXP,      "exp missing or not a number")                           \
    X(EXPIRED,     "expired")                                               \
    X(NOT_YET,     "not valid yet (nbf)")                                   \
    X(IAT_FUTURE,  "issued in the future (iat)")                            \
    X(BAD_ISSUER,  "iss does not match")                                    \
    X(BAD_AUDIENCE, "aud does not match")                                   \
    X(BAD_CLAIM_TYPE, "sub, scope, nbf or iat of the wrong type")           \
    X(LONG_SUBJECT, "sub longer than 255 bytes, or with a NUL")

enum jwt_status {
#define X(name, text) JWT_##name,
    JWT_STATUS_TABLE(X)
#undef X
};

/* What the verifier checks beyond the signature. Strings borrowed. */
struct jwt_policy {
    const char *issuer;        /* NULL or "": iss not checked */
    const char *audience;      /* NULL or "": aud not checked */
    int64_t leeway_s;
};

/* What a valid token grants. */
struct jwt_claims {
    int64_t exp;                        /* seconds since the epoch */
    unsigned scopes;                    /* JWT_SCOPE_* bits */
    char subject[JWT_SUBJECT_MAX + 1];  /* "sub" whole (a longer one is refused); "" if none */
};

/* Verify @token (@len bytes, not NUL-terminated) with @keys at @now
 * (seconds since the epoch). @claims is written only on JWT_OK. */
enum jwt_status jwt_verify(const struct jwks *keys, const struct jwt_policy *policy,
                           const char *token, size_t len, int64_t now,
                           struct jwt_claims *claims);

/* A static English description of @status, for logs. */
const char *jwt_status_text(enum jwt_status status);

/* Is @exp still good at @now with @leeway_s? The one rule both the
 * verifier and the cache apply. */
bool jwt_exp_ok(int64_t exp, int64_t now, int64_t leeway_s);

/* The JWT_SCOPE_* bits of a space-separated "scope" string (@len bytes). */
unsigned jwt_parse_scopes(const char *scope, size_t len);

#endif
