/* SPDX-License-Identifier: MIT
 * test_auth.c - auth/auth.c and auth/cache.c: the Authorization header's
 * four answers, the cache (a hit never outlives the token, a reload empties
 * it, a verification from before a reload is not cached), and reloads that
 * swap the key set or, failing, keep it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "auth/auth.h"
#include "auth/cache.h"

#include "auth_fixtures.h"

static int64_t now;

static void
write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* An auth over a private copy of jwks.json (*@copy, new), so tests may
 * rewrite it and reload. */
static struct auth *
make_auth(char **copy)
{
    struct auth_options o = {.leeway_s = 30};
    struct auth *a = NULL;
    char why[512];
    char *jwks = fixture_read("jwks.json", NULL);

    *copy = fixture_path("copy.json");
    write_file(*copy, jwks);
    free(jwks);
    o.jwks_file = *copy;
    assert_int_equal(auth_create(&o, &a, why, sizeof(why)), USV_OK);
    return a;
}

/* "Bearer <case token>" (new). */
static char *
bearer(const char *name)
{
    char file[128];
    char *token, *header;
    size_t len;

    snprintf(file, sizeof(file), "cases/%s.jwt", name);
    token = fixture_read(file, &len);
    header = xmalloc(len + 8);
    snprintf(header, len + 8, "Bearer %s", token);
    free(token);
    return header;
}

static enum auth_result
check(struct auth *a, const char *name, unsigned needed, int64_t at, char *subject)
{
    char *h = bearer(name);
    enum auth_result r = auth_check(a, h, needed, at, subject);

    free(h);
    return r;
}

static void
test_auth_answers_no_token_invalid_no_scope_ok(void **state)
{
    char *copy;
    struct auth *a = make_auth(&copy);
    char sub[JWT_SUBJECT_MAX + 1];

    assert_int_equal(auth_check(a, NULL, JWT_SCOPE_USERS_READ, now, sub), AUTH_NO_TOKEN);
    assert_int_equal(auth_check(a, "Basic YTpi", JWT_SCOPE_USERS_READ, now, sub),
                     AUTH_NO_TOKEN);
    assert_int_equal(auth_check(a, "Bearerx", JWT_SCOPE_USERS_READ, now, sub), AUTH_NO_TOKEN);
    assert_int_equal(auth_check(a, "Bearer ", JWT_SCOPE_USERS_READ, now, sub), AUTH_INVALID);
    assert_int_equal(auth_check(a, "Bearer a.b.c", JWT_SCOPE_USERS_READ, now, sub),
                     AUTH_INVALID);
    assert_string_equal(sub, "");
    assert_int_equal(check(a, "rs256", JWT_SCOPE_USERS_READ, now, sub), AUTH_OK);
    assert_string_equal(sub, "alice");
    assert_int_equal(check(a, "es256", JWT_SCOPE_METRICS_READ, now, sub), AUTH_OK);
    assert_int_equal(check(a, "scope_prefix", JWT_SCOPE_USERS_READ, now, sub), AUTH_NO_SCOPE);
    assert_string_equal(sub, "alice");
    assert_int_equal(check(a, "scope_prefix", 0, now, sub), AUTH_OK);
    assert_int_equal(check(a, "hs256_public_key", 0, now, sub), AUTH_INVALID);
    assert_int_equal(check(a, "huge", 0, now, sub), AUTH_INVALID);
    auth_destroy(a);
    free(copy);
}

static void
test_auth_scheme_is_case_insensitive(void **state)
{
    char *copy;
    struct auth *a = make_auth(&copy);
    char sub[JWT_SUBJECT_MAX + 1];
    char *h = bearer("eddsa");

    memcpy(h, "bEARER", 6);
    assert_int_equal(auth_check(a, h, JWT_SCOPE_USERS_WRITE, now, sub), AUTH_OK);
    free(h);
    auth_destroy(a);
    free(copy);
}

static void
test_auth_cached_token_still_expires(void **state)
{
    char *copy;
    struct auth *a = make_auth(&copy);
    char sub[JWT_SUBJECT_MAX + 1];

    assert_int_equal(check(a, "rs256", 0, now, sub), AUTH_OK);
    assert_int_equal(check(a, "rs256", 0, now + 600 + 29, sub), AUTH_OK);
    assert_int_equal(check(a, "rs256", 0, now + 600 + 30, sub), AUTH_INVALID);
    assert_int_equal(check(a, "rs256", 0, now, sub), AUTH_OK);
    auth_destroy(a);
    free(copy);
}

static void
test_auth_reload_swaps_keys_and_clears_the_cache(void **state)
{
    char *copy;
    struct auth *a = make_auth(&copy);
    char sub[JWT_SUBJECT_MAX + 1];
    char *ec = fixture_read("ec.json", NULL);
    char *all = fixture_read("jwks.json", NULL);

    assert_int_equal(check(a, "rs256", 0, now, sub), AUTH_OK);      /* now cached */
    write_file(copy, "{\"keys\": [");                               /* broken */
    assert_int_not_equal(auth_reload(a), USV_OK);
    assert_int_equal(check(a, "rs256", 0, now, sub), AUTH_OK);      /* old set kept */
    assert_int_equal(check(a, "eddsa", 0, now, sub), AUTH_OK);
    write_file(copy, ec);
    assert_int_equal(auth_reload(a), USV_OK);
    assert_int_equal(check(a, "rs256", 0, now, sub), AUTH_INVALID); /* cache emptied */
    assert_int_equal(check(a, "no_kid", 0, now, sub), AUTH_INVALID);
    write_file(copy, all);
    assert_int_equal(auth_reload(a), USV_OK);
    assert_int_equal(check(a, "rs256", 0, now, sub), AUTH_OK);
    assert_int_equal(auth_reload(NULL), USV_OK);
    free(ec);
    free(all);
    auth_destroy(a);
    free(copy);
}

static void
test_cache_hits_expire_and_generations(void **state)
{
    struct token_cache *c = cache_create(8);
    struct jwt_claims in = {.exp = 1000, .scopes = 3, .subject = "bob"}, out;
    unsigned char k1[CACHE_KEY_LEN], k2[CACHE_KEY_LEN];
    uint64_t gen = cache_generation(c);

    assert_true(cache_key("token-1", 7, k1));
    assert_true(cache_key("token-2", 7, k2));
    assert_false(cache_get(c, k1, 900, 0, &out));
    cache_put(c, gen, k1, &in);
    assert_true(cache_get(c, k1, 999, 0, &out));
    assert_string_equal(out.subject, "bob");
    assert_int_equal(out.scopes, 3);
    assert_false(cache_get(c, k2, 999, 0, &out));
    assert_false(cache_get(c, k1, 1000, 0, &out));   /* expired: dropped */
    assert_int_equal(cache_size(c), 0);
    cache_put(c, gen, k1, &in);
    cache_clear(c);
    assert_int_equal(cache_size(c), 0);
    cache_put(c, gen, k2, &in);                      /* from before the clear */
    assert_int_equal(cache_size(c), 0);
    cache_put(c, cache_generation(c), k2, &in);
    assert_int_equal(cache_size(c), 1);
    cache_destroy(c);
    cache_destroy(NULL);
}

static void
test_cache_is_bounded(void **state)
{
    struct token_cache *c = cache_create(64);
    struct jwt_claims in = {.exp = 1000};
    unsigned char k[CACHE_KEY_LEN];
    char token[32];

    for (int i = 0; i < 10000; i++) {
        snprintf(token, sizeof(token), "token-%d", i);
        assert_true(cache_key(token, strlen(token), k));
        cache_put(c, cache_generation(c), k, &in);
    }
    assert_true(cache_size(c) <= 64);
    assert_true(cache_size(c) >= 32);
    cache_destroy(c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auth_answers_no_token_invalid_no_scope_ok),
        cmocka_unit_test(test_auth_scheme_is_case_insensitive),
        cmocka_unit_test(test_auth_cached_token_still_expires),
        cmocka_unit_test(test_auth_reload_swaps_keys_and_clears_the_cache),
        cmocka_unit_test(test_cache_hits_expire_and_generations),
        cmocka_unit_test(test_cache_is_bounded),
    };

    int failed;

    now = fixture_now();
    fixtures_setup();
    failed = cmocka_run_group_tests(tests, NULL, NULL);
    fixtures_teardown();
    return failed;
}
