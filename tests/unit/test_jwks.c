/* SPDX-License-Identifier: MIT
 * test_jwks.c - auth/jwks.c: the key sets mint.py generates load; a weak
 * RSA key, other key types and curves, private members and inconsistent
 * sets are refused with a message that names the file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "auth/jwks.h"

#include "auth_fixtures.h"

static void
test_jwks_loads_rsa_p256_and_ed25519(void **state)
{
    struct jwks *set = NULL;
    char why[512];
    char *path = fixture_path("jwks.json");

    assert_int_equal(jwks_load_file(path, &set, why, sizeof(why)), USV_OK);
    assert_int_equal(jwks_count(set), 3);
    assert_int_equal(jwks_find(set, "rsa-1", 5)->type, JWK_RSA);
    assert_int_equal(jwks_find(set, "ec-1", 4)->type, JWK_P256);
    assert_int_equal(jwks_find(set, "ed-1", 4)->type, JWK_ED25519);
    assert_null(jwks_find(set, "ed-", 3));
    assert_null(jwks_find(set, NULL, 0));       /* no kid: only with one key */
    jwks_destroy(set);
    free(path);
}

static void
test_jwks_refuses_rsa_below_2048_bits(void **state)
{
    struct jwks *set = NULL;
    char why[512];
    char *path = fixture_path("rsa1024.json");

    assert_int_equal(jwks_load_file(path, &set, why, sizeof(why)), USV_BAD_REQUEST);
    assert_null(set);
    assert_non_null(strstr(why, path));
    assert_non_null(strstr(why, "1024 bits"));
    free(path);
}

static void
test_jwks_names_a_missing_file(void **state)
{
    struct jwks *set = NULL;
    char why[512];

    assert_int_equal(jwks_load_file("/nonexistent/keys.json", &set, why, sizeof(why)),
                     USV_BAD_REQUEST);
    assert_non_null(strstr(why, "/nonexistent/keys.json"));
}

/* Load @text; expect a refusal whose message contains @words. */
static void
refused(const char *text, const char *words)
{
    struct jwks *set = NULL;
    char why[512];

    assert_int_equal(jwks_load_text(text, strlen(text), "keys.json", &set, why, sizeof(why)),
                     USV_BAD_REQUEST);
    assert_null(set);
    if (strstr(why, words) == NULL || strstr(why, "keys.json") == NULL)
        fail_msg("message '%s' lacks '%s'", why, words);
}

static void
test_jwks_refuses_what_it_cannot_use(void **state)
{
    static const char ed[] = "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"";
    char text[512];

    refused("not json", "not valid JSON");
    refused("{\"keys\":[]}", "non-empty \"keys\"");
    refused("{\"keys\":{}}", "non-empty \"keys\"");
    refused("{\"keys\":[{\"kty\":\"oct\"}]}", "unsupported \"kty\" \"oct\"");
    refused("{\"keys\":[{\"crv\":\"P-256\"}]}", "(missing)");
    refused("{\"keys\":[{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"}]}", "symmetric");
    refused("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"AA\",\"y\":\"AA\"}]}",
            "P-256");
    refused("{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"AA\"}]}", "Ed25519");
    refused("{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"AAAA\"}]}", "32-byte");
    refused("{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB=\",\"e\":\"AQAB\"}]}", "\"n\" and \"e\"");
    refused("{\"keys\":[{\"kty\":\"RSA\",\"e\":\"AQAB\"}]}", "\"n\" and \"e\"");
    snprintf(text, sizeof(text), "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",%s,"
             "\"d\":\"AA\"}]}", ed);
    refused(text, "private");
    snprintf(text, sizeof(text), "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",%s,"
             "\"use\":\"enc\"}]}", ed);
    refused(text, "\"use\"");
    snprintf(text, sizeof(text), "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",%s,"
             "\"alg\":\"HS256\"}]}", ed);
    refused(text, "does not fit");
    snprintf(text, sizeof(text), "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",%s,"
             "\"kid\":\"a\"},{\"kty\":\"OKP\",\"crv\":\"Ed25519\",%s,\"kid\":\"a\"}]}", ed, ed);
    refused(text, "appears twice");
    snprintf(text, sizeof(text), "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",%s,"
             "\"kid\":\"a\",\"kid\":\"b\"}]}", ed);
    refused(text, "not valid JSON");
}

static void
test_jwks_accepts_a_matching_alg_and_use(void **state)
{
    static const char text[] =
        "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"use\":\"sig\",\"alg\":\"EdDSA\","
        "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}]}";
    struct jwks *set = NULL;
    char why[512];

    assert_int_equal(jwks_load_text(text, strlen(text), "k", &set, why, sizeof(why)), USV_OK);
    assert_non_null(jwks_find(set, NULL, 0));
    jwks_destroy(set);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jwks_loads_rsa_p256_and_ed25519),
        cmocka_unit_test(test_jwks_refuses_rsa_below_2048_bits),
        cmocka_unit_test(test_jwks_names_a_missing_file),
        cmocka_unit_test(test_jwks_refuses_what_it_cannot_use),
        cmocka_unit_test(test_jwks_accepts_a_matching_alg_and_use),
    };

    int failed;

    fixtures_setup();
    failed = cmocka_run_group_tests(tests, NULL, NULL);
    fixtures_teardown();
    return failed;
}
