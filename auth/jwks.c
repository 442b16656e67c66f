/* SPDX-License-Identifier: MIT
 * jwks.c - see jwks.h. Each JWK's base64url members are decoded with our
 * strict decoder and handed to GnuTLS's raw import functions; GnuTLS owns
 * all the arithmetic. The file is read whole (at most JWKS_MAX_FILE bytes)
 * and parsed with duplicate members refused, like tokens. */
#include "auth/jwks.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/b64url.h"
#include "base/util.h"

#define JWKS_MAX_FILE (1024 * 1024)
#define JWK_MAX_MEMBER 1024          /* bytes of a decoded n, e, x or y (8192-bit RSA) */

struct jwks {
    struct jwk keys[JWKS_MAX_KEYS];
    size_t n_keys;
};

void
jwks_destroy(struct jwks *set)
{
    if (set == NULL)
        return;
    for (size_t i = 0; i < set->n_keys; i++) {
        free(set->keys[i].kid);
        gnutls_pubkey_deinit(set->keys[i].pubkey);
    }
    free(set);
}

size_t
jwks_count(const struct jwks *set)
{
    return set->n_keys;
}

const struct jwk *
jwks_find(const struct jwks *set, const char *kid, size_t kid_len)
{
    if (kid == NULL)
        return set->n_keys == 1 ? &set->keys[0] : NULL;
    for (size_t i = 0; i < set->n_keys; i++) {
        const char *k = set->keys[i].kid;

        if (k != NULL && strlen(k) == kid_len && memcmp(k, kid, kid_len) == 0)
            return &set->keys[i];
    }
    return NULL;
}

/* Decode the base64url string member @name of @jwk into @buf. */
static bool
get_b64(json_t *jwk, const char *name, unsigned char *buf, size_t cap, gnutls_datum_t *out)
{
    json_t *v = json_object_get(jwk, name);
    size_t n = 0;

    if (!json_is_string(v) ||
        !b64url_decode(json_string_value(v), json_string_length(v), buf, cap, &n) || n == 0)
        return false;
    out->data = buf;
    out->size = (unsigned)n;
    return true;
}

static bool
member_is(json_t *jwk, const char *name, const char *value)
{
    json_t *v = json_object_get(jwk, name);

    return json_is_string(v) && strcmp(json_string_value(v), value) == 0;
}

/* Import one JWK into @key (initialised); on failure @err says why. */
static bool
import_key(json_t *jwk, struct jwk *key, char *err, size_t err_size)
{
    static const char *const private_members[] = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"};
    unsigned char a[JWK_MAX_MEMBER], b[JWK_MAX_MEMBER];
    gnutls_datum_t da, db;
    json_t *kty = json_object_get(jwk, "kty");
    json_t *use = json_object_get(jwk, "use");
    const char *alg = NULL;
    unsigned bits = 0;
    int rc;

    if (!json_is_object(jwk)) {
        snprintf(err, err_size, "not a JSON object");
        return false;
    }
    for (size_t i = 0; i < ARRAY_SIZE(private_members); i++) {
        if (json_object_get(jwk, private_members[i]) != NULL) {
            snprintf(err, err_size, "has private or symmetric key material (\"%s\"); "
                     "a key set holds public keys only", private_members[i]);
            return false;
        }
    }
    if (use != NULL && !member_is(jwk, "use", "sig")) {
        snprintf(err, err_size, "\"use\" must be \"sig\"");
        return false;
    }
    if (json_object_get(jwk, "kid") != NULL && !json_is_string(json_object_get(jwk, "kid"))) {
        snprintf(err, err_size, "\"kid\" must be a string");
        return false;
    }
    if (json_object_get(jwk, "alg") != NULL) {
        if (!json_is_string(json_object_get(jwk, "alg"))) {
            snprintf(err, err_size, "\"alg\" must be a string");
            return false;
        }
        alg = json_string_value(json_object_get(jwk, "alg"));
    }
    if (member_is(jwk, "kty", "RSA")) {
        key->type = JWK_RSA;
        if (!get_b64(jwk, "n", a, sizeof(a), &da) || !get_b64(jwk, "e", b, sizeof(b), &db)) {
            snprintf(err, err_size, "RSA key needs base64url \"n\" and \"e\"");
            return false;
        }
        rc = gnutls_pubkey_import_rsa_raw(key->pubkey, &da, &db);
        if (rc >= 0 && gnutls_pubkey_get_pk_algorithm(key->pubkey, &bits) != GNUTLS_PK_RSA)
            rc = GNUTLS_E_INVALID_REQUEST;
        if (rc >= 0 && bits < JWKS_MIN_RSA_BITS) {
            snprintf(err, err_size, "RSA key of %u bits; at least %d are required", bits,
                     JWKS_MIN_RSA_BITS);
            return false;
        }
    } else if (member_is(jwk, "kty", "EC")) {
        key->type = JWK_P256;
        if (!member_is(jwk, "crv", "P-256")) {
            snprintf(err, err_size, "EC key: only \"crv\": \"P-256\" is supported");
            return false;
        }
        if (!get_b64(jwk, "x", a, sizeof(a), &da) || !get_b64(jwk, "y", b, sizeof(b), &db) ||
            da.size != 32 || db.size != 32) {
            snprintf(err, err_size, "P-256 key needs 32-byte base64url \"x\" and \"y\"");
            return false;
        }
        rc = gnutls_pubkey_import_ecc_raw(key->pubkey, GNUTLS_ECC_CURVE_SECP256R1, &da, &db);
    } else if (member_is(jwk, "kty", "OKP")) {
        key->type = JWK_ED25519;
        if (!member_is(jwk, "crv", "Ed25519")) {
            snprintf(err, err_size, "OKP key: only \"crv\": \"Ed25519\" is supported");
            return false;
        }
        if (!get_b64(jwk, "x", a, sizeof(a), &da) || da.size != 32) {
            snprintf(err, err_size, "Ed25519 key needs a 32-byte base64url \"x\"");
            return false;
        }
        rc = gnutls_pubkey_import_ecc_raw(key->pubkey, GNUTLS_ECC_CURVE_ED25519, &da, NULL);
    } else {
        snprintf(err, err_size, "unsupported \"kty\" %s%s%s (RSA, EC P-256 and OKP Ed25519 "
                 "are)", json_is_string(kty) ? "\"" : "",
                 json_is_string(kty) ? json_string_value(kty) : "(missing)",
                 json_is_string(kty) ? "\"" : "");
        return false;
    }
    if (rc < 0) {
        snprintf(err, err_size, "GnuTLS refused the key: %s", gnutls_strerror(rc));
        return false;
    }
    if (alg != NULL && strcmp(alg, key->type == JWK_RSA    ? "RS256"
                                   : key->type == JWK_P256 ? "ES256"
                                                           : "EdDSA") != 0) {
        snprintf(err, err_size, "\"alg\" \"%.32s\" does not fit the key (only %s)", alg,
                 key->type == JWK_RSA ? "RS256" : key->type == JWK_P256 ? "ES256" : "EdDSA");
        return false;
    }
    return true;
}

enum usv_err
jwks_load_text(const char *text, size_t len, const char *name, struct jwks **out, char *why,
               size_t why_size)
{
    struct jwks *set = NULL;
    json_error_t jerr;
    json_t *root = NULL, *keys;
    enum usv_err rc = USV_BAD_REQUEST;
    char err[256];
    size_t i;

    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        snprintf(why, why_size, "%s: not valid JSON: %s (line %d)", name, jerr.text, jerr.line);
        goto out;
    }
    keys = json_object_get(root, "keys");
    if (!json_is_array(keys) || json_array_size(keys) == 0) {
        snprintf(why, why_size, "%s: not a JWK Set: needs a non-empty \"keys\" array", name);
        goto out;
    }
    if (json_array_size(keys) > JWKS_MAX_KEYS) {
        snprintf(why, why_size, "%s: more than %d keys", name, JWKS_MAX_KEYS);
        goto out;
    }
    set = xcalloc(1, sizeof(*set));
    for (i = 0; i < json_array_size(keys); i++) {
        json_t *jwk = json_array_get(keys, i);
        struct jwk *key = &set->keys[set->n_keys];
        json_t *kid = json_object_get(jwk, "kid");

        if (gnutls_pubkey_init(&key->pubkey) < 0) {
            snprintf(why, why_size, "%s: out of memory", name);
            rc = USV_NOMEM;
            goto out;
        }
        set->n_keys++;
        if (!import_key(jwk, key, err, sizeof(err))) {
            snprintf(why, why_size, "%s: key %zu%s%.64s%s: %s", name, i,
                     json_is_string(kid) ? " (kid \"" : "",
                     json_is_string(kid) ? json_string_value(kid) : "",
                     json_is_string(kid) ? "\")" : "", err);
            goto out;
        }
        if (json_is_string(kid)) {
            if (jwks_find(set, json_string_value(kid), json_string_length(kid)) != NULL) {
                snprintf(why, why_size, "%s: key %zu: \"kid\" \"%.64s\" appears twice", name, i,
                         json_string_value(kid));
                goto out;
            }
            key->kid = xstrdup(json_string_value(kid));
        }
    }
    rc = USV_OK;
out:
    json_decref(root);
    if (rc == USV_OK) {
        *out = set;
    } else {
        jwks_destroy(set);
    }
    return rc;
}

enum usv_err
jwks_load_file(const char *path, struct jwks **out, char *why, size_t why_size)
{
    FILE *f = fopen(path, "rb");
    char *text = NULL;
    size_t len = 0;
    enum usv_err rc;
    char ebuf[128];

    if (f == NULL) {
        int e = errno;

        if (strerror_r(e, ebuf, sizeof(ebuf)) != 0)
            snprintf(ebuf, sizeof(ebuf), "errno %d", e);
        snprintf(why, why_size, "%s: cannot open the key set: %s", path, ebuf);
        return USV_BAD_REQUEST;
    }
    text = xmalloc(JWKS_MAX_FILE + 1);
    len = fread(text, 1, JWKS_MAX_FILE + 1, f);
    if (ferror(f)) {
        snprintf(why, why_size, "%s: cannot read the key set", path);
        rc = USV_BAD_REQUEST;
    } else if (len > JWKS_MAX_FILE) {
        snprintf(why, why_size, "%s: larger than %d bytes", path, JWKS_MAX_FILE);
        rc = USV_BAD_REQUEST;
    } else {
        rc = jwks_load_text(text, len, path, out, why, why_size);
    }
    fclose(f);
    free(text);
    return rc;
}
