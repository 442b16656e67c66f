/* SPDX-License-Identifier: MIT
 * test_jwt.c - auth/jwt.c and auth/b64url.c against tokens minted by an
 * independent implementation (PyJWT, tests/auth/mint.py, keys generated
 * for this run): RS256, ES256 and EdDSA accepted; every attack and
 * mistake of issue 15 refused with its own status. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "auth/b64url.h"
#include "auth/jwt.h"

#include "auth_fixtures.h"

static struct jwks *keys;
static int64_t now;

static int
setup(void **state)
{
    char why[512];
    char *path = fixture_path("jwks.json");

    now = fixture_now();
    if (jwks_load_file(path, &keys, why, sizeof(why)) != USV_OK) {
        fprintf(stderr, "%s\n", why);
        free(path);
        return -1;
    }
    free(path);
    return 0;
}

static int
teardown(void **state)
{
    jwks_destroy(keys);
    return 0;
}

/* Verify the case @name with @policy at @at; the claims in @claims. */
static enum jwt_status
verify_at(const char *name, const struct jwt_policy *policy, int64_t at,
          struct jwt_claims *claims)
{
    char file[128];
    size_t len;
    char *token;
    enum jwt_status st;

    snprintf(file, sizeof(file), "cases/%s.jwt", name);
    token = fixture_read(file, &len);
    st = jwt_verify(keys, policy, token, len, at, claims);
    free(token);
    return st;
}

static enum jwt_status
verify(const char *name, struct jwt_claims *claims)
{
    struct jwt_policy policy = {NULL, NULL, 30};

    return verify_at(name, &policy, now, claims);
}

#define EXPECT(name, status)                                \
    do {                                                    \
        struct jwt_claims c_;                               \
        assert_int_equal(verify(name, &c_), status);        \
    } while (0)

static void
test_jwt_accepts_the_three_algorithms(void **state)
{
    static const char *const names[] = {"rs256", "es256", "eddsa"};

    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        struct jwt_claims c;

        assert_int_equal(verify(names[i], &c), JWT_OK);
        assert_string_equal(c.subject, "alice");
        assert_int_equal(c.exp, now + 600);
        assert_int_equal(c.scopes, JWT_SCOPE_USERS_READ | JWT_SCOPE_USERS_WRITE |
                                       JWT_SCOPE_METRICS_READ);
    }
}

static void
test_jwt_typ_may_be_jwt_at_jwt_or_absent(void **state)
{
    EXPECT("typ_absent", JWT_OK);
    EXPECT("typ_at_jwt", JWT_OK);
    EXPECT("typ_other", JWT_BAD_TYP);
}

static void
test_jwt_times_are_checked_with_leeway(void **state)
{
    EXPECT("expired", JWT_EXPIRED);
    EXPECT("expired_within_leeway", JWT_OK);
    EXPECT("not_yet_valid", JWT_NOT_YET);
    EXPECT("iat_future", JWT_IAT_FUTURE);
    EXPECT("no_exp", JWT_NO_EXP);
}

static void
test_jwt_expiry_is_exact_without_leeway(void **state)
{
    struct jwt_policy policy = {NULL, NULL, 0};
    struct jwt_claims c;

    assert_int_equal(verify_at("rs256", &policy, now + 599, &c), JWT_OK);
    assert_int_equal(verify_at("rs256", &policy, now + 600, &c), JWT_EXPIRED);
}

static void
test_jwt_issuer_and_audience_when_configured(void **state)
{
    struct jwt_policy iss = {"https://issuer.test", NULL, 30};
    struct jwt_policy aud = {NULL, "usersvc", 30};
    struct jwt_claims c;

    assert_int_equal(verify_at("issuer_ok", &iss, now, &c), JWT_OK);
    assert_int_equal(verify_at("wrong_issuer", &iss, now, &c), JWT_BAD_ISSUER);
    assert_int_equal(verify_at("rs256", &iss, now, &c), JWT_BAD_ISSUER);
    assert_int_equal(verify_at("audience_ok", &aud, now, &c), JWT_OK);
    assert_int_equal(verify_at("audience_array_ok", &aud, now, &c), JWT_OK);
    assert_int_equal(verify_at("wrong_audience", &aud, now, &c), JWT_BAD_AUDIENCE);
    assert_int_equal(verify_at("eddsa", &aud, now, &c), JWT_BAD_AUDIENCE);
    /* Not configured: not checked. */
    EXPECT("wrong_issuer", JWT_OK);
    EXPECT("wrong_audience", JWT_OK);
}

static void
test_jwt_key_selection(void **state)
{
    EXPECT("wrong_key", JWT_BAD_SIGNATURE);
    EXPECT("unknown_kid", JWT_NO_KEY);
    EXPECT("no_kid", JWT_NO_KEY);              /* three keys in the set */
    EXPECT("kid_of_other_type", JWT_ALG_MISMATCH);
}

static void
test_jwt_no_kid_with_a_one_key_set(void **state)
{
    struct jwt_policy policy = {NULL, NULL, 30};
    struct jwks *one = NULL;
    struct jwt_claims c;
    char why[512];
    char *path = fixture_path("rsa.json");
    char *token;
    size_t len;

    assert_int_equal(jwks_load_file(path, &one, why, sizeof(why)), USV_OK);
    token = fixture_read("cases/no_kid.jwt", &len);
    assert_int_equal(jwt_verify(one, &policy, token, len, now, &c), JWT_OK);
    free(token);
    token = fixture_read("cases/rs256.jwt", &len);   /* a kid the set does not name */
    assert_int_equal(jwt_verify(one, &policy, token, len, now, &c), JWT_NO_KEY);
    free(token);
    jwks_destroy(one);
    free(path);
}

static void
test_jwt_algorithm_confusion_fails(void **state)
{
    EXPECT("alg_none", JWT_MALFORMED);         /* empty signature segment */
    EXPECT("hs256_public_key", JWT_BAD_ALG);
    EXPECT("ps256", JWT_BAD_ALG);
    EXPECT("crit", JWT_CRIT);
}

static void
test_jwt_alg_none_with_a_signature_is_refused(void **state)
{
    struct jwt_policy policy = {NULL, NULL, 30};
    struct jwt_claims c;
    size_t len;
    char *token = fixture_read("cases/alg_none.jwt", &len);
    char *with_sig = xmalloc(len + 5);

    memcpy(with_sig, token, len);
    memcpy(with_sig + len, "AAAA", 5);
    assert_int_equal(jwt_verify(keys, &policy, with_sig, len + 4, now, &c), JWT_BAD_ALG);
    free(with_sig);
    free(token);
}

static void
test_jwt_damaged_tokens_fail(void **state)
{
    EXPECT("tampered", JWT_BAD_SIGNATURE);
    EXPECT("truncated_signature", JWT_BAD_SIGNATURE);
    EXPECT("extra_segment", JWT_MALFORMED);
    EXPECT("padded_segment", JWT_MALFORMED);
    EXPECT("huge", JWT_TOO_LARGE);
    EXPECT("duplicate_claims", JWT_BAD_CLAIMS);
    EXPECT("duplicate_header", JWT_BAD_HEADER);
    EXPECT("deep_header", JWT_BAD_HEADER);       /* 2000 levels: refused unparsed */
}

static void
test_jwt_every_truncation_fails(void **state)
{
    struct jwt_policy policy = {NULL, NULL, 30};
    struct jwt_claims c;
    size_t len;
    char *token = fixture_read("cases/es256.jwt", &len);

    for (size_t n = 0; n < len; n++)
        assert_int_not_equal(jwt_verify(keys, &policy, token, n, now, &c), JWT_OK);
    free(token);
}

static void
test_jwt_scopes_are_exact_tokens(void **state)
{
    struct jwt_claims c;

    assert_int_equal(verify("scope_prefix", &c), JWT_OK);
    assert_int_equal(c.scopes, 0);
    assert_int_equal(verify("no_scope", &c), JWT_OK);
    assert_int_equal(c.scopes, 0);
    assert_int_equal(jwt_parse_scopes("users:read", 10), JWT_SCOPE_USERS_READ);
    assert_int_equal(jwt_parse_scopes("  metrics:read  users:write ", 28),
                     JWT_SCOPE_METRICS_READ | JWT_SCOPE_USERS_WRITE);
    assert_int_equal(jwt_parse_scopes("users:read", 9), 0);   /* "users:rea" */
    assert_int_equal(jwt_parse_scopes("Users:Read", 10), 0);
}

static void
test_jwt_subject_is_whole_or_refused(void **state)
{
    struct jwt_claims c;

    /* OpenID Connect's longest "sub" is kept whole (it scopes
     * idempotency keys: two subjects must never become one)... */
    assert_int_equal(verify("max_subject", &c), JWT_OK);
    assert_int_equal(strlen(c.subject), 255);
    /* ...and a longer one is refused, never cut. */
    assert_int_equal(verify("long_subject", &c), JWT_LONG_SUBJECT);
}

static void
test_b64url_is_strict(void **state)
{
    unsigned char out[16];
    size_t n = 0;

    assert_true(b64url_decode("aGk", 3, out, sizeof(out), &n));
    assert_int_equal(n, 2);
    assert_memory_equal(out, "hi", 2);
    assert_true(b64url_decode("", 0, out, sizeof(out), &n));
    assert_int_equal(n, 0);
    assert_true(b64url_decode("-_8", 3, out, sizeof(out), &n));
    assert_false(b64url_decode("aGk=", 4, out, sizeof(out), &n));   /* padding */
    assert_false(b64url_decode("aGl", 3, out, sizeof(out), &n));    /* stray bits */
    assert_false(b64url_decode("a+/A", 4, out, sizeof(out), &n));   /* base64, not url */
    assert_false(b64url_decode("aGk h", 5, out, sizeof(out), &n));
    assert_false(b64url_decode("aGkha", 5, out, sizeof(out), &n));  /* len % 4 == 1 */
    assert_false(b64url_decode("aGVsbG8", 7, out, 4, &n));          /* no room */
    assert_false(b64url_decode("a\0Gk", 4, out, sizeof(out), &n));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jwt_accepts_the_three_algorithms),
        cmocka_unit_test(test_jwt_typ_may_be_jwt_at_jwt_or_absent),
        cmocka_unit_test(test_jwt_times_are_checked_with_leeway),
        cmocka_unit_test(test_jwt_expiry_is_exact_without_leeway),
        cmocka_unit_test(test_jwt_issuer_and_audience_when_configured),
        cmocka_unit_test(test_jwt_key_selection),
        cmocka_unit_test(test_jwt_no_kid_with_a_one_key_set),
        cmocka_unit_test(test_jwt_algorithm_confusion_fails),
        cmocka_unit_test(test_jwt_alg_none_with_a_signature_is_refused),
        cmocka_unit_test(test_jwt_damaged_tokens_fail),
        cmocka_unit_test(test_jwt_every_truncation_fails),
        cmocka_unit_test(test_jwt_scopes_are_exact_tokens),
        cmocka_unit_test(test_jwt_subject_is_whole_or_refused),
        cmocka_unit_test(test_b64url_is_strict),
    };

    int failed;

    fixtures_setup();
    failed = cmocka_run_group_tests(tests, setup, teardown);
    fixtures_teardown();
    return failed;
}
