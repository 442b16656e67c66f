/* SPDX-License-Identifier: MIT
 * jwt.c - see jwt.h. The token is split and decoded into stack buffers
 * (it is at most JWT_MAX_TOKEN bytes), the header and claims parsed by
 * jansson with duplicates refused, and the signature checked by GnuTLS
 * with the algorithm the key's type dictates: the token's "alg" only has
 * to agree with it, it never chooses. No cryptography is done here. */
#include "auth/jwt.h"

#include <jansson.h>
#include <math.h>
#include <string.h>
#include <strings.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "auth/b64url.h"
#include "base/util.h"

#define JWT_MAX_JSON_DEPTH 8

/* JWS algorithm names, indexed by enum jwk_type. */
static const char *const alg_of_type[] = {
    [JWK_RSA] = "RS256", [JWK_P256] = "ES256", [JWK_ED25519] = "EdDSA"};

static const char *const status_text[] = {
#define X(name, text) [JWT_##name] = text,
    JWT_STATUS_TABLE(X)
#undef X
};

const char *
jwt_status_text(enum jwt_status status)
{
    return status_text[status];
}

bool
jwt_exp_ok(int64_t exp, int64_t now, int64_t leeway_s)
{
    return now < exp + leeway_s;
}

unsigned
jwt_parse_scopes(const char *scope, size_t len)
{
    static const struct {
        const char *name;
        unsigned bit;
    } known[] = {
        {"users:read", JWT_SCOPE_USERS_READ},
        {"users:write", JWT_SCOPE_USERS_WRITE},
        {"metrics:read", JWT_SCOPE_METRICS_READ},
    };
    unsigned bits = 0;
    size_t i = 0;

    while (i < len) {
        size_t start, n;

        while (i < len && scope[i] == ' ')
            i++;
        start = i;
        while (i < len && scope[i] != ' ')
            i++;
        n = i - start;
        for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++) {
            if (n == strlen(known[k].name) && memcmp(scope + start, known[k].name, n) == 0)
                bits |= known[k].bit;
        }
    }
    return bits;
}

/* A NumericDate (RFC 7519 section 2) as whole seconds, or false. Bounded so
 * that adding a leeway can never overflow. */
static bool
numeric_date(json_t *v, int64_t *out)
{
    const double limit = 4611686018427387904.0;   /* 2^62 */
    double d;

    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);

        if (i < -(json_int_t)4611686018427387904LL || i > (json_int_t)4611686018427387904LL)
            return false;
        *out = (int64_t)i;
        return true;
    }
    if (!json_is_real(v))
        return false;
    d = json_real_value(v);
    if (!isfinite(d) || d < -limit || d > limit)
        return false;
    *out = (int64_t)d;            /* toward zero; then down, as floor() */
    if ((double)*out > d)
        (*out)--;
    return true;
}

/* Parse one decoded segment as a JSON object, duplicates refused. The
 * header is parsed before the signature is checked: jansson recurses once
 * per level, so nesting deeper than any JOSE header or claim set needs is
 * refused before it reaches the parser (a small connection-thread stack). */
static json_t *
load_object(const unsigned char *text, size_t len)
{
    json_error_t err;
    json_t *v;

    if (json_nesting_depth((const char *)text, len) > JWT_MAX_JSON_DEPTH)
        return NULL;
    v = json_loadb((const char *)text, len, JSON_REJECT_DUPLICATES, &err);

    if (v != NULL && !json_is_object(v)) {
        json_decref(v);
        return NULL;
    }
    return v;
}

static bool
typ_ok(json_t *typ)
{
    const char *t;

    if (typ == NULL)
        return true;
    if (!json_is_string(typ))
        return false;
    t = json_string_value(typ);
    /* RFC 7515 4.1.9: media types compare case-insensitively and the
     * "application/" prefix may be left out. */
    if (strncasecmp(t, "application/", 12) == 0)
        t += 12;
    return strcasecmp(t, "JWT") == 0 || strcasecmp(t, "at+jwt") == 0;
}

static enum jwt_status
check_signature(const struct jwk *key, const char *signed_part, size_t signed_len,
                const unsigned char *sig, size_t sig_len)
{
    gnutls_datum_t data = {(unsigned char *)(uintptr_t)signed_part, (unsigned)signed_len};
    gnutls_datum_t signature = {(unsigned char *)(uintptr_t)sig, (unsigned)sig_len};
    gnutls_datum_t der = {NULL, 0};
    gnutls_sign_algorithm_t algo;
    int rc;

    switch (key->type) {
    case JWK_RSA:
        algo = GNUTLS_SIGN_RSA_SHA256;
        break;
    case JWK_P256: {
        /* JOSE carries r || s (RFC 7518 3.4); GnuTLS wants DER. */
        gnutls_datum_t r = {(unsigned char *)(uintptr_t)sig, 32};
        gnutls_datum_t s = {(unsigned char *)(uintptr_t)sig + 32, 32};

        if (sig_len != 64 || gnutls_encode_rs_value(&der, &r, &s) < 0)
            return JWT_BAD_SIGNATURE;
        signature = der;
        algo = GNUTLS_SIGN_ECDSA_SHA256;
        break;
    }
    case JWK_ED25519:
        if (sig_len != 64)
            return JWT_BAD_SIGNATURE;
        algo = GNUTLS_SIGN_EDDSA_ED25519;
        break;
    default:
        return JWT_BAD_SIGNATURE;
    }
    rc = gnutls_pubkey_verify_data2(key->pubkey, algo, 0, &data, &signature);
    gnutls_free(der.data);
    return rc >= 0 ? JWT_OK : JWT_BAD_SIGNATURE;
}

static bool
audience_ok(json_t *aud, const char *want)
{
    size_t i;
    json_t *v;

    if (json_is_string(aud))
        return strcmp(json_string_value(aud), want) == 0;
    if (!json_is_array(aud))
        return false;
    json_array_foreach(aud, i, v) {
        if (json_is_string(v) && strcmp(json_string_value(v), want) == 0)
            return true;
    }
    return false;
}

static enum jwt_status
check_claims(json_t *claims, const struct jwt_policy *policy, int64_t now,
             struct jwt_claims *out)
{
    json_t *sub = json_object_get(claims, "sub");
    json_t *scope = json_object_get(claims, "scope");
    json_t *iss = json_object_get(claims, "iss");
    json_t *nbf_v = json_object_get(claims, "nbf");
    json_t *iat_v = json_object_get(claims, "iat");
    int64_t exp = 0, nbf = 0, iat = 0;
    size_t n;

    if (!numeric_date(json_object_get(claims, "exp"), &exp))
        return JWT_NO_EXP;
    if ((nbf_v != NULL && !numeric_date(nbf_v, &nbf)) ||
        (iat_v != NULL && !numeric_date(iat_v, &iat)) ||
        (sub != NULL && !json_is_string(sub)) || (scope != NULL && !json_is_string(scope)))
        return JWT_BAD_CLAIM_TYPE;
    if (!jwt_exp_ok(exp, now, policy->leeway_s))
        return JWT_EXPIRED;
    if (nbf_v != NULL && nbf > now + policy->leeway_s)
        return JWT_NOT_YET;
    if (iat_v != NULL && iat > now + policy->leeway_s)
        return JWT_IAT_FUTURE;
    if (policy->issuer != NULL && policy->issuer[0] != '\0' &&
        (!json_is_string(iss) || strcmp(json_string_value(iss), policy->issuer) != 0))
        return JWT_BAD_ISSUER;
    if (policy->audience != NULL && policy->audience[0] != '\0' &&
        !audience_ok(json_object_get(claims, "aud"), policy->audience))
        return JWT_BAD_AUDIENCE;
    out->exp = exp;
    out->scopes = scope != NULL
                      ? jwt_parse_scopes(json_string_value(scope), json_string_length(scope))
                      : 0;
    /* Whole, never cut: the subject scopes idempotency keys, and two
     * subjects cut to one string would share them. */
    n = sub != NULL ? json_string_length(sub) : 0;
    if (n > JWT_SUBJECT_MAX || (n > 0 && memchr(json_string_value(sub), '\0', n) != NULL))
        return JWT_LONG_SUBJECT;
    if (n > 0)
        memcpy(out->subject, json_string_value(sub), n);
    out->subject[n] = '\0';
    return JWT_OK;
}

enum jwt_status
jwt_verify(const struct jwks *keys, const struct jwt_policy *policy, const char *token,
           size_t len, int64_t now, struct jwt_claims *claims)
{
    unsigned char buf[B64URL_DECODED_MAX(JWT_MAX_TOKEN)];
    const char *dot1, *dot2, *payload, *sig;
    size_t head_len, payload_len, sig_len, n_head, n_payload, n_sig;
    unsigned char *head_bytes, *payload_bytes, *sig_bytes;
    json_t *header = NULL, *body = NULL, *kid, *alg;
    const struct jwk *key;
    enum jwt_status st;
    struct jwt_claims c;

    if (len > JWT_MAX_TOKEN)
        return JWT_TOO_LARGE;
    dot1 = memchr(token, '.', len);
    if (dot1 == NULL)
        return JWT_MALFORMED;
    payload = dot1 + 1;
    dot2 = memchr(payload, '.', len - (size_t)(payload - token));
    if (dot2 == NULL)
        return JWT_MALFORMED;
    sig = dot2 + 1;
    head_len = (size_t)(dot1 - token);
    payload_len = (size_t)(dot2 - payload);
    sig_len = len - (size_t)(sig - token);
    /* A fourth segment shows up as a '.' in the signature: not base64url. */
    head_bytes = buf;
    if (head_len == 0 || payload_len == 0 || sig_len == 0 ||
        !b64url_decode(token, head_len, head_bytes, sizeof(buf), &n_head))
        return JWT_MALFORMED;
    payload_bytes = head_bytes + n_head;
    if (!b64url_decode(payload, payload_len, payload_bytes, sizeof(buf) - n_head, &n_payload))
        return JWT_MALFORMED;
    sig_bytes = payload_bytes + n_payload;
    if (!b64url_decode(sig, sig_len, sig_bytes, sizeof(buf) - n_head - n_payload, &n_sig))
        return JWT_MALFORMED;

    header = load_object(head_bytes, n_head);
    if (header == NULL) {
        st = JWT_BAD_HEADER;
        goto out;
    }
    if (!typ_ok(json_object_get(header, "typ"))) {
        st = JWT_BAD_TYP;
        goto out;
    }
    if (json_object_get(header, "crit") != NULL) {
        st = JWT_CRIT;   /* RFC 7515 4.1.11: we understand no extension */
        goto out;
    }
    alg = json_object_get(header, "alg");
    if (!json_is_string(alg) ||
        (strcmp(json_string_value(alg), "RS256") != 0 &&
         strcmp(json_string_value(alg), "ES256") != 0 &&
         strcmp(json_string_value(alg), "EdDSA") != 0)) {
        st = JWT_BAD_ALG;
        goto out;
    }
    kid = json_object_get(header, "kid");
    if (kid != NULL && !json_is_string(kid)) {
        st = JWT_NO_KEY;
        goto out;
    }
    key = jwks_find(keys, kid != NULL ? json_string_value(kid) : NULL,
                    kid != NULL ? json_string_length(kid) : 0);
    if (key == NULL) {
        st = JWT_NO_KEY;
        goto out;
    }
    if (strcmp(json_string_value(alg), alg_of_type[key->type]) != 0) {
        st = JWT_ALG_MISMATCH;
        goto out;
    }
    st = check_signature(key, token, head_len + 1 + payload_len, sig_bytes, n_sig);
    if (st != JWT_OK)
        goto out;
    body = load_object(payload_bytes, n_payload);
    if (body == NULL) {
        st = JWT_BAD_CLAIMS;
        goto out;
    }
    st = check_claims(body, policy, now, &c);
out:
    json_decref(header);
    json_decref(body);
    if (st == JWT_OK)
        *claims = c;
    return st;
}
