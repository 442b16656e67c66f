/* SPDX-License-Identifier: MIT
 * test_router.c - http/router.c against the real route table
 * (handlers/routes.h): exact paths, the {id} segment, 404 for unknown paths
 * (a trailing slash included), 405 with the Allow list, HEAD served as GET. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "handlers/health.h"
#include "handlers/routes.h"
#include "handlers/users.h"
#include "base/strbuf.h"
#include "http/router.h"

struct found {
    enum usv_err rc;
    const struct route *route;
    const char *param;
    size_t param_len;
    char allow[128];
};

/* Look up (@method, @path) in app_routes; *@out gets everything the router said. */
static void
find(const char *method, const char *path, struct found *out)
{
    struct strbuf allow;

    memset(out, 0, sizeof(*out));
    strbuf_init(&allow);
    out->rc = router_find(app_routes, app_n_routes, method, path, &out->route, &out->param,
                          &out->param_len, &allow);
    snprintf(out->allow, sizeof(out->allow), "%s", strbuf_str(&allow));
    strbuf_finish(&allow);
}

static void
expect_route(const char *method, const char *path, const char *route_method,
             const char *pattern)
{
    struct found f;

    find(method, path, &f);
    assert_int_equal(USV_OK, f.rc);
    assert_non_null(f.route);
    assert_string_equal(route_method, f.route->method);
    assert_string_equal(pattern, f.route->pattern);
}

static void
expect_not_found(const char *method, const char *path)
{
    struct found f;

    find(method, path, &f);
    assert_int_equal(USV_NOT_FOUND, f.rc);
    assert_null(f.route);
    assert_string_equal("", f.allow);
}

/* Is @method one entry of the ", "-separated list @allow? */
static bool
allow_has(const char *allow, const char *method)
{
    size_t n = strlen(method);

    for (const char *p = allow; *p != '\0';) {
        size_t len = strcspn(p, ",");

        if (len == n && strncmp(p, method, n) == 0)
            return true;
        p += len;
        if (*p == ',') {
            if (p[1] != ' ')
                return false;   /* the separator is exactly ", " */
            p += 2;
        }
    }
    return false;
}

static size_t
allow_count(const char *allow)
{
    size_t n = *allow != '\0' ? 1 : 0;

    for (const char *p = allow; *p != '\0'; p++)
        n += *p == ',';
    return n;
}

/* Expect 405 whose Allow list is exactly the methods in @want (any order,
 * each once), NULL-terminated. */
static void
expect_bad_method_set(const char *method, const char *path, const char *const *want)
{
    struct found f;
    size_t n = 0;

    find(method, path, &f);
    assert_int_equal(USV_BAD_METHOD, f.rc);
    assert_null(f.route);
    for (; want[n] != NULL; n++) {
        if (!allow_has(f.allow, want[n]))
            fail_msg("%s %s: Allow \"%s\" lacks %s", method, path, f.allow, want[n]);
    }
    if (allow_count(f.allow) != n)
        fail_msg("%s %s: Allow \"%s\" is not exactly %zu methods", method, path, f.allow, n);
}

#define METHODS(...) ((const char *const[]){__VA_ARGS__, NULL})

static void
test_router_table_has_the_api_routes(void **state)
{
    /* The table the router is tested against: every endpoint of API.md. */
    expect_route("GET", "/healthz", "GET", "/healthz");
    expect_route("GET", "/readyz", "GET", "/readyz");
    expect_route("POST", "/users", "POST", "/users");
    expect_route("GET", "/users/7", "GET", "/users/{id}");
}

static void
test_router_exact_path_selects_its_handler(void **state)
{
    struct found f;

    find("GET", "/healthz", &f);
    assert_int_equal(USV_OK, f.rc);
    assert_ptr_equal(health_live, f.route->handler);
    find("GET", "/readyz", &f);
    assert_int_equal(USV_OK, f.rc);
    assert_ptr_equal(health_ready, f.route->handler);
    find("POST", "/users", &f);
    assert_int_equal(USV_OK, f.rc);
    assert_ptr_equal(users_create, f.route->handler);
    find("GET", "/users/1", &f);
    assert_int_equal(USV_OK, f.rc);
    assert_ptr_equal(users_get, f.route->handler);
}

static void
test_router_id_segment_is_returned_pointing_into_the_path(void **state)
{
    const char *path = "/users/007";
    struct found f;

    find("GET", path, &f);
    assert_int_equal(USV_OK, f.rc);
    assert_ptr_equal(path + 7, f.param);
    assert_int_equal(3, f.param_len);
}

static void
test_router_id_segment_is_not_validated_by_the_router(void **state)
{
    struct found f;

    /* Any non-empty segment matches; the handler turns a bad id into 404. */
    find("GET", "/users/abc", &f);
    assert_int_equal(USV_OK, f.rc);
    assert_int_equal(3, f.param_len);
    assert_memory_equal("abc", f.param, 3);
    find("GET", "/users/-1", &f);
    assert_int_equal(USV_OK, f.rc);
    assert_int_equal(2, f.param_len);
}

static void
test_router_trailing_slash_does_not_match(void **state)
{
    expect_not_found("GET", "/users/7/");
    expect_not_found("GET", "/healthz/");
    expect_not_found("GET", "/readyz/");
    expect_not_found("POST", "/users/");
    expect_not_found("GET", "/users/");
}

static void
test_router_unknown_paths_are_not_found(void **state)
{
    expect_not_found("GET", "/");
    expect_not_found("GET", "");
    expect_not_found("GET", "/health");
    expect_not_found("GET", "/healthzz");
    expect_not_found("GET", "/Healthz");
    expect_not_found("GET", "/USERS/7");
    expect_not_found("GET", "/users//7");
    expect_not_found("GET", "/users/7/x");
    expect_not_found("GET", "//users/7");
    expect_not_found("DELETE", "/nope");
}

static void
test_router_wrong_method_is_405_with_allow_list(void **state)
{
    /* Whatever else the table serves, each Allow list names every method of
     * that path, GET paths also HEAD, and nothing else. */
    for (size_t i = 0; i < app_n_routes; i++) {
        const char *pattern = app_routes[i].pattern;
        const char *path = strcmp(pattern, "/users/{id}") == 0 ? "/users/7" : pattern;
        const char *want[16];
        size_t n = 0;
        bool has_get = false;

        for (size_t j = 0; j < app_n_routes; j++) {
            if (strcmp(app_routes[j].pattern, pattern) != 0)
                continue;
            assert_true(n < 14);
            want[n++] = app_routes[j].method;
            has_get = has_get || strcmp(app_routes[j].method, "GET") == 0;
        }
        if (has_get)
            want[n++] = "HEAD";
        want[n] = NULL;
        expect_bad_method_set("BREW", path, want);
    }
    /* The first-stage contract, spelled out. */
    {
        struct found f;

        find("PUT", "/users", &f);
        assert_int_equal(USV_BAD_METHOD, f.rc);
        assert_true(allow_has(f.allow, "POST"));
        find("POST", "/users/7", &f);
        assert_int_equal(USV_BAD_METHOD, f.rc);
        assert_true(allow_has(f.allow, "GET"));
        assert_true(allow_has(f.allow, "HEAD"));
        assert_false(allow_has(f.allow, "POST"));
    }
    expect_bad_method_set("POST", "/healthz", METHODS("GET", "HEAD"));
    expect_bad_method_set("DELETE", "/readyz", METHODS("GET", "HEAD"));
}

static void
test_router_methods_are_case_sensitive(void **state)
{
    /* RFC 9110: method names are case-sensitive; "get" is not GET. */
    expect_bad_method_set("get", "/healthz", METHODS("GET", "HEAD"));
}

static void
test_router_head_is_served_as_get(void **state)
{
    struct found f;

    expect_route("HEAD", "/healthz", "GET", "/healthz");
    expect_route("HEAD", "/readyz", "GET", "/readyz");
    find("HEAD", "/users/42", &f);
    assert_int_equal(USV_OK, f.rc);
    assert_ptr_equal(users_get, f.route->handler);
    assert_int_equal(2, f.param_len);
    expect_not_found("HEAD", "/nope");
    expect_not_found("HEAD", "/users/42/");
}

/* A table of our own, for the mechanics independent of the application. */
static enum usv_err
nop_handler(struct http_req *req, json_t **out)
{
    return USV_OK;
}

static const struct route local_routes[] = {
    {.method = "POST", .pattern = "/items", .handler = nop_handler},
    {.method = "GET", .pattern = "/items/{id}", .handler = nop_handler},
    {.method = "PUT", .pattern = "/items/{id}", .handler = nop_handler},
    {.method = "DELETE", .pattern = "/items/{id}", .handler = nop_handler},
    {.method = "GET", .pattern = "/items/{id}/parts/{part}", .handler = nop_handler},
};

static void
test_router_allow_list_is_table_order_with_head_after_get(void **state)
{
    struct strbuf allow;
    const struct route *route = NULL;
    const char *param = NULL;
    size_t len = 0;

    strbuf_init(&allow);
    assert_int_equal(USV_BAD_METHOD,
                     router_find(local_routes, 5, "PATCH", "/items/3", &route, &param, &len,
                                 &allow));
    assert_string_equal("GET, HEAD, PUT, DELETE", strbuf_str(&allow));
    strbuf_reset(&allow);
    assert_int_equal(USV_BAD_METHOD,
                     router_find(local_routes, 5, "GET", "/items", &route, &param, &len,
                                 &allow));
    assert_string_equal("POST", strbuf_str(&allow));
    strbuf_reset(&allow);
    /* HEAD where only POST exists is a 405 like GET, not a match. */
    assert_int_equal(USV_BAD_METHOD,
                     router_find(local_routes, 5, "HEAD", "/items", &route, &param, &len,
                                 &allow));
    assert_string_equal("POST", strbuf_str(&allow));
    strbuf_finish(&allow);
}

static void
test_router_match_on_a_later_row_binds_the_segment(void **state)
{
    struct strbuf allow;
    const struct route *route = NULL;
    const char *param = NULL;
    size_t len = 0;

    strbuf_init(&allow);
    assert_int_equal(USV_OK, router_find(local_routes, 5, "DELETE", "/items/xyz", &route,
                                         &param, &len, &allow));
    assert_ptr_equal(&local_routes[3], route);
    assert_int_equal(3, len);
    assert_memory_equal("xyz", param, 3);
    strbuf_finish(&allow);
}

static void
test_router_match_binds_only_whole_segments(void **state)
{
    const char *param = NULL;
    size_t len = 0;

    assert_true(router_match("/a/{x}/b", "/a/123/b", &param, &len));
    assert_int_equal(3, len);
    assert_memory_equal("123", param, 3);
    assert_false(router_match("/a/{x}/b", "/a/123/c", &param, &len));
    assert_false(router_match("/a/{x}/b", "/a//b", &param, &len));
    assert_false(router_match("/a/{x}", "/a", &param, &len));
    assert_false(router_match("/a/{x}", "/a/", &param, &len));
    assert_false(router_match("/a/{x}", "/a/1/", &param, &len));
    assert_true(router_match("/a", "/a", &param, &len));
    assert_false(router_match("/a", "/ab", &param, &len));
    assert_false(router_match("/ab", "/a", &param, &len));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_router_table_has_the_api_routes),
        cmocka_unit_test(test_router_exact_path_selects_its_handler),
        cmocka_unit_test(test_router_id_segment_is_returned_pointing_into_the_path),
        cmocka_unit_test(test_router_id_segment_is_not_validated_by_the_router),
        cmocka_unit_test(test_router_trailing_slash_does_not_match),
        cmocka_unit_test(test_router_unknown_paths_are_not_found),
        cmocka_unit_test(test_router_wrong_method_is_405_with_allow_list),
        cmocka_unit_test(test_router_methods_are_case_sensitive),
        cmocka_unit_test(test_router_head_is_served_as_get),
        cmocka_unit_test(test_router_allow_list_is_table_order_with_head_after_get),
        cmocka_unit_test(test_router_match_on_a_later_row_binds_the_segment),
        cmocka_unit_test(test_router_match_binds_only_whole_segments),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
