/* SPDX-License-Identifier: MIT
 * fuzz_jwt.c - libFuzzer harness: the bearer-token parser and verifier
 * (auth/jwt.c) and the strict base64url decoder (auth/b64url.c).
 *
 * At start-up the harness makes an Ed25519 and a P-256 key with GnuTLS and
 * loads their public halves as a JWK Set (kids "ed" and "ec"). The first
 * input byte picks a mode:
 *
 * even: the rest is a token, verified as it is. Checks: jwt_verify() never
 *   says JWT_OK (the fuzzer cannot know a key made this run, so a valid
 *   verdict would be a forgery), and b64url_decode() of the same bytes,
 *   when it succeeds, re-encodes to exactly them (one encoding per byte
 *   string: strictness).
 * odd: the rest is "HEADER\nCLAIMS" (JSON texts, or anything); the harness
 *   encodes and signs them with the key the mode byte picks, so the fuzzer
 *   reaches the header and claims checks behind a valid signature. Checks:
 *   a JWT_OK verdict has a subject of at most 255 bytes (JWT_SUBJECT_MAX) and an exp that is
 *   still good at the clock used; the same token with its last signature
 *   character changed is never JWT_OK.
 * Run: tests/fuzz/run.sh. */
#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "auth/b64url.h"
#include "auth/jwks.h"
#include "auth/jwt.h"

#define NOW 1800000000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static struct jwks *keys;
static gnutls_privkey_t ed_key, ec_key;

/* Unpadded base64url of @n bytes into @out (room for 4 * n / 3 + 4). */
static size_t
encode(const unsigned char *in, size_t n, char *out)
{
    size_t o = 0, i = 0;

    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

        out[o++] = b64_alphabet[v >> 18];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = b64_alphabet[(v >> 6) & 63];
        out[o++] = b64_alphabet[v & 63];
    }
    if (n - i == 1) {
        out[o++] = b64_alphabet[in[i] >> 2];
        out[o++] = b64_alphabet[(in[i] & 3) << 4];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 8 | in[i + 1];

        out[o++] = b64_alphabet[v >> 10];
        out[o++] = b64_alphabet[(v >> 4) & 63];
        out[o++] = b64_alphabet[(v << 2) & 63];
    }
    out[o] = '\0';
    return o;
}

/* @d as exactly 32 big-endian bytes, base64url, into @out. */
static void
encode32(const gnutls_datum_t *d, char *out)
{
    unsigned char b[32] = {0};
    size_t n = d->size > 32 ? 32 : d->size;

    memcpy(b + 32 - n, d->data + d->size - n, n);
    encode(b, 32, out);
}

static void
setup(void)
{
    gnutls_datum_t x = {NULL, 0}, y = {NULL, 0};
    gnutls_ecc_curve_t curve;
    char ed_x[64], ec_x[64], ec_y[64], text[512], why[512];

    if (gnutls_privkey_init(&ed_key) < 0 || gnutls_privkey_init(&ec_key) < 0 ||
        gnutls_privkey_generate(ed_key, GNUTLS_PK_EDDSA_ED25519, 256, 0) < 0 ||
        gnutls_privkey_generate(ec_key, GNUTLS_PK_ECDSA,
                                GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) < 0)
        abort();
    if (gnutls_privkey_export_ecc_raw2(ed_key, &curve, &x, NULL, NULL, 0) < 0)
        abort();
    encode32(&x, ed_x);
    gnutls_free(x.data);
    if (gnutls_privkey_export_ecc_raw2(ec_key, &curve, &x, &y, NULL,
                                       GNUTLS_EXPORT_FLAG_NO_LZ) < 0)
        abort();
    encode32(&x, ec_x);
    encode32(&y, ec_y);
    gnutls_free(x.data);
    gnutls_free(y.data);
    snprintf(text, sizeof(text),
             "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"ed\",\"x\":\"%s\"},"
             "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"ec\",\"x\":\"%s\",\"y\":\"%s\"}]}",
             ed_x, ec_x, ec_y);
    if (jwks_load_text(text, strlen(text), "fuzz", &keys, why, sizeof(why)) != USV_OK) {
        fprintf(stderr, "%s\n", why);
        abort();
    }
}

/* JOSE signature (Ed25519: as is; ES256: r || s) of @in into @sig (64 bytes). */
static bool
sign(bool is_ec, const char *in, size_t n, unsigned char sig[64])
{
    gnutls_datum_t data = {(unsigned char *)(uintptr_t)in, (unsigned)n};
    gnutls_datum_t s = {NULL, 0}, r = {NULL, 0}, ss = {NULL, 0};
    bool ok = false;

    if (is_ec) {
        if (gnutls_privkey_sign_data2(ec_key, GNUTLS_SIGN_ECDSA_SHA256, 0, &data, &s) >= 0 &&
            gnutls_decode_rs_value(&s, &r, &ss) >= 0) {
            unsigned char buf[64] = {0};
            gnutls_datum_t *parts[2] = {&r, &ss};

            ok = true;
            for (int i = 0; i < 2; i++) {
                gnutls_datum_t *p = parts[i];
                size_t len = p->size, skip = 0;

                while (len - skip > 32 && p->data[skip] == 0)
                    skip++;
                if (len - skip > 32)
                    ok = false;
                else
                    memcpy(buf + 32 * i + 32 - (len - skip), p->data + skip, len - skip);
            }
            memcpy(sig, buf, 64);
        }
    } else if (gnutls_privkey_sign_data2(ed_key, GNUTLS_SIGN_EDDSA_ED25519, 0, &data, &s) >=
                   0 &&
               s.size == 64) {
        memcpy(sig, s.data, 64);
        ok = true;
    }
    gnutls_free(s.data);
    gnutls_free(r.data);
    gnutls_free(ss.data);
    return ok;
}

static void
fuzz_raw(const uint8_t *data, size_t size)
{
    const struct jwt_policy policy = {"iss", "aud", 30};
    unsigned char *dec = malloc(B64URL_DECODED_MAX(size) + 1);
    char *enc = malloc(size * 2 + 8);
    struct jwt_claims c;
    size_t n = 0;

    assert(jwt_verify(keys, &policy, (const char *)data, size, NOW, &c) != JWT_OK);
    if (b64url_decode((const char *)data, size, dec, B64URL_DECODED_MAX(size), &n)) {
        size_t m = encode(dec, n, enc);

        assert(m == size && memcmp(enc, data, size) == 0);
    }
    free(dec);
    free(enc);
}

static void
fuzz_signed(bool is_ec, const uint8_t *data, size_t size)
{
    const struct jwt_policy policy = {NULL, NULL, 30};
    const uint8_t *nl = memchr(data, '\n', size);
    size_t head_len = nl != NULL ? (size_t)(nl - data) : size;
    size_t claims_len = nl != NULL ? size - head_len - 1 : 0;
    char *token = malloc(size * 2 + 128);
    unsigned char sig[64];
    struct jwt_claims c;
    enum jwt_status st;
    size_t len;

    len = encode(data, head_len, token);
    token[len++] = '.';
    len += encode(nl != NULL ? nl + 1 : data, claims_len, token + len);
    if (!sign(is_ec, token, len, sig)) {
        free(token);
        return;
    }
    token[len++] = '.';
    len += encode(sig, sizeof(sig), token + len);
    st = jwt_verify(keys, &policy, token, len, NOW, &c);
    if (st == JWT_OK) {
        assert(strlen(c.subject) <= JWT_SUBJECT_MAX);
        assert(jwt_exp_ok(c.exp, NOW, 30));
        /* One signature bit changed: never valid. */
        token[len - 2] = token[len - 2] == 'A' ? 'B' : 'A';
        assert(jwt_verify(keys, &policy, token, len, NOW, &c) != JWT_OK);
    }
    free(token);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (keys == NULL)
        setup();
    if (size == 0 || size > 3 * JWT_MAX_TOKEN)
        return 0;
    if ((data[0] & 1) == 0)
        fuzz_raw(data + 1, size - 1);
    else
        fuzz_signed((data[0] & 2) != 0, data + 1, size - 1);
    return 0;
}
