/* SPDX-License-Identifier: MIT
 * test_config.c - service/config.c: defaults, environment variables, flags
 * in both spellings, "the flag wins", rejected values and flags; the
 * authentication options and the protected-by-default rule
 * (cfg_check_exposure()). (Redacting DATABASE_URL for logs is orm/url.c's
 * url_redact(): test_url.c.)
 *
 * Every test starts from an environment without any usersvc variable (the
 * fixture unsets them) and restores nothing else. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "service/config.h"

static const char *const env_names[] = {
    "DATABASE_URL", "HOST", "PORT", "DB_POOL_SIZE", "DB_POOL_TIMEOUT_MS", "DB_STATEMENT_TIMEOUT_MS",
    "DB_IDLE_CHECK_MS", "MAX_BODY_BYTES", "MAX_CONNECTIONS", "MAX_CONNECTIONS_PER_IP",
    "CONNECTION_TIMEOUT_S", "MAX_HEADER_BYTES", "THREAD_STACK_KB", "SHUTDOWN_TIMEOUT_MS",
    "LOG_LEVEL", "LOG_FORMAT", "AUTH_JWKS_FILE", "AUTH_ISSUER", "AUTH_AUDIENCE",
    "AUTH_LEEWAY_S", "ALLOW_UNAUTHENTICATED", "TLS_CLIENT_CA_FILE",
};

static int
clean_env(void **state)
{
    for (size_t i = 0; i < sizeof(env_names) / sizeof(env_names[0]); i++)
        unsetenv(env_names[i]);
    return 0;
}

struct loaded {
    enum usv_err rc;
    struct cfg cfg;
    const char *pos[4];
    int n_pos;
};

/* cfg_load() over a NULL-terminated list of arguments (copied, since
 * cfg_load takes char **). @max_pos positionals are allowed. */
static void
load(struct loaded *l, bool allow_migrate, int max_pos, const char *const *args)
{
    char *argv[16];
    int argc = 0;

    while (args != NULL && args[argc] != NULL) {
        assert_true(argc < 16);
        argv[argc] = (char *)(uintptr_t)args[argc];
        argc++;
    }
    memset(l, 0, sizeof(*l));
    l->rc = cfg_load(&l->cfg, argc, argv, allow_migrate, l->pos, max_pos, &l->n_pos);
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

static void
test_config_defaults_match_the_api(void **state)
{
    struct loaded l;

    load(&l, true, 0, NULL);
    assert_int_equal(USV_OK, l.rc);
    assert_string_equal("sqlite:usersvc.db", l.cfg.database_url);
    assert_string_equal("127.0.0.1", l.cfg.host);
    assert_int_equal(8080, l.cfg.port);
    assert_int_equal(0, l.cfg.pool_size);   /* 0: the backend's documented default */
    assert_int_equal(2000, l.cfg.pool_timeout_ms);
    assert_int_equal(5000, l.cfg.statement_timeout_ms);
    assert_int_equal(10000, l.cfg.shutdown_timeout_ms);
    assert_int_equal(65536, l.cfg.max_body_bytes);
    assert_string_equal("info", l.cfg.log_level);
    assert_false(l.cfg.migrate);
    assert_int_equal(0, l.n_pos);
    cfg_finish(&l.cfg);
}

static void
test_config_environment_overrides_defaults(void **state)
{
    struct loaded l;

    setenv("DATABASE_URL", "sqlite:/tmp/env.db", 1);
    setenv("HOST", "0.0.0.0", 1);
    setenv("PORT", "7000", 1);
    setenv("DB_POOL_SIZE", "3", 1);
    setenv("DB_POOL_TIMEOUT_MS", "250", 1);
    setenv("DB_STATEMENT_TIMEOUT_MS", "1500", 1);
    setenv("MAX_BODY_BYTES", "1024", 1);
    load(&l, false, 0, NULL);
    assert_int_equal(USV_OK, l.rc);
    assert_string_equal("sqlite:/tmp/env.db", l.cfg.database_url);
    assert_string_equal("0.0.0.0", l.cfg.host);
    assert_int_equal(7000, l.cfg.port);
    assert_int_equal(3, l.cfg.pool_size);
    assert_int_equal(250, l.cfg.pool_timeout_ms);
    assert_int_equal(1500, l.cfg.statement_timeout_ms);
    assert_int_equal(1024, l.cfg.max_body_bytes);
    cfg_finish(&l.cfg);
}

static void
test_config_flag_with_separate_value(void **state)
{
    struct loaded l;

    load(&l, false, 0, ARGS("--port", "9090", "--database", "sqlite:/tmp/f.db"));
    assert_int_equal(USV_OK, l.rc);
    assert_int_equal(9090, l.cfg.port);
    assert_string_equal("sqlite:/tmp/f.db", l.cfg.database_url);
    cfg_finish(&l.cfg);
}

static void
test_config_flag_with_equals_value(void **state)
{
    struct loaded l;

    load(&l, false, 0, ARGS("--port=9090", "--host=::1", "--pool-size=4",
                            "--pool-timeout-ms=10", "--max-body-bytes=100",
                            "--statement-timeout-ms=750"));
    assert_int_equal(USV_OK, l.rc);
    assert_int_equal(9090, l.cfg.port);
    assert_string_equal("::1", l.cfg.host);
    assert_int_equal(4, l.cfg.pool_size);
    assert_int_equal(10, l.cfg.pool_timeout_ms);
    assert_int_equal(750, l.cfg.statement_timeout_ms);
    assert_int_equal(100, l.cfg.max_body_bytes);
    cfg_finish(&l.cfg);
}

static void
test_config_equals_value_keeps_later_equals_signs(void **state)
{
    struct loaded l;

    load(&l, false, 0, ARGS("--database=postgres://u:p@h/db?sslmode=require&x=y"));
    assert_int_equal(USV_OK, l.rc);
    assert_string_equal("postgres://u:p@h/db?sslmode=require&x=y", l.cfg.database_url);
    cfg_finish(&l.cfg);
}

static void
test_config_flag_beats_environment(void **state)
{
    struct loaded l;

    setenv("PORT", "7000", 1);
    setenv("DATABASE_URL", "sqlite:/tmp/env.db", 1);
    load(&l, false, 0, ARGS("--port", "9090", "--database=sqlite:/tmp/flag.db"));
    assert_int_equal(USV_OK, l.rc);
    assert_int_equal(9090, l.cfg.port);
    assert_string_equal("sqlite:/tmp/flag.db", l.cfg.database_url);
    cfg_finish(&l.cfg);
}

static void
test_config_last_flag_wins(void **state)
{
    struct loaded l;

    load(&l, false, 0, ARGS("--port=1", "--port", "2"));
    assert_int_equal(USV_OK, l.rc);
    assert_int_equal(2, l.cfg.port);
    cfg_finish(&l.cfg);
}

static void
expect_rejected_args(const char *const *args)
{
    struct loaded l;

    load(&l, false, 0, args);
    assert_int_equal(USV_BAD_REQUEST, l.rc);
    cfg_finish(&l.cfg);
}

static void
test_config_bad_flag_value_is_rejected(void **state)
{
    expect_rejected_args(ARGS("--port", "abc"));
    expect_rejected_args(ARGS("--port=abc"));
    expect_rejected_args(ARGS("--port=65536"));
    expect_rejected_args(ARGS("--port=-1"));
    expect_rejected_args(ARGS("--port=+80"));
    expect_rejected_args(ARGS("--port="));
    expect_rejected_args(ARGS("--port=80x"));
    expect_rejected_args(ARGS("--port= 80"));
    expect_rejected_args(ARGS("--max-body-bytes=0"));
    expect_rejected_args(ARGS("--pool-size=99999999999999999999"));
    expect_rejected_args(ARGS("--log-level=loud"));
}

static void
test_config_flag_without_value_is_rejected(void **state)
{
    expect_rejected_args(ARGS("--port"));
    expect_rejected_args(ARGS("--database"));
}

static void
test_config_bad_environment_value_is_rejected(void **state)
{
    struct loaded l;

    setenv("PORT", "eighty", 1);
    load(&l, false, 0, NULL);
    assert_int_equal(USV_BAD_REQUEST, l.rc);
    cfg_finish(&l.cfg);

    setenv("PORT", "70000", 1);
    load(&l, false, 0, NULL);
    assert_int_equal(USV_BAD_REQUEST, l.rc);
    cfg_finish(&l.cfg);

    setenv("PORT", "", 1);
    load(&l, false, 0, NULL);
    assert_int_equal(USV_BAD_REQUEST, l.rc);
    cfg_finish(&l.cfg);
}

static void
test_config_unknown_flag_is_rejected(void **state)
{
    expect_rejected_args(ARGS("--prot", "9090"));
    expect_rejected_args(ARGS("--prot=9090"));
    expect_rejected_args(ARGS("--"));
    expect_rejected_args(ARGS("--PORT=9090"));
    expect_rejected_args(ARGS("--port-9090"));
}

static void
test_config_migrate_flag_only_where_allowed(void **state)
{
    struct loaded l;

    load(&l, true, 0, ARGS("--migrate"));
    assert_int_equal(USV_OK, l.rc);
    assert_true(l.cfg.migrate);
    cfg_finish(&l.cfg);

    expect_rejected_args(ARGS("--migrate"));
}

static void
test_config_positionals_are_collected_up_to_the_limit(void **state)
{
    struct loaded l;

    load(&l, false, 2, ARGS("down", "--port=1", "3"));
    assert_int_equal(USV_OK, l.rc);
    assert_int_equal(2, l.n_pos);
    assert_string_equal("down", l.pos[0]);
    assert_string_equal("3", l.pos[1]);
    assert_int_equal(1, l.cfg.port);
    cfg_finish(&l.cfg);

    load(&l, false, 2, ARGS("down", "3", "extra"));
    assert_int_equal(USV_BAD_REQUEST, l.rc);
    cfg_finish(&l.cfg);

    load(&l, false, 0, ARGS("serve"));
    assert_int_equal(USV_BAD_REQUEST, l.rc);
    cfg_finish(&l.cfg);
}

static void
test_config_auth_options_and_defaults(void **state)
{
    struct loaded l;

    load(&l, true, 0, NULL);
    assert_int_equal(USV_OK, l.rc);
    assert_string_equal("", l.cfg.auth_jwks);
    assert_string_equal("", l.cfg.auth_issuer);
    assert_string_equal("", l.cfg.auth_audience);
    assert_int_equal(30, l.cfg.auth_leeway_s);
    assert_false(l.cfg.allow_unauthenticated);
    cfg_finish(&l.cfg);
    setenv("AUTH_JWKS_FILE", "/k.json", 1);
    setenv("AUTH_ISSUER", "https://i", 1);
    setenv("AUTH_LEEWAY_S", "5", 1);
    load(&l, true, 0, ARGS("--auth-audience", "svc", "--auth-leeway-s=7"));
    assert_int_equal(USV_OK, l.rc);
    assert_string_equal("/k.json", l.cfg.auth_jwks);
    assert_string_equal("https://i", l.cfg.auth_issuer);
    assert_string_equal("svc", l.cfg.auth_audience);
    assert_int_equal(7, l.cfg.auth_leeway_s);
    cfg_finish(&l.cfg);
    load(&l, true, 0, ARGS("--auth-leeway-s", "-1"));
    assert_int_equal(USV_BAD_REQUEST, l.rc);
    cfg_finish(&l.cfg);
}

static void
test_config_allow_unauthenticated_values(void **state)
{
    static const char *const on[] = {"1", "true", "TRUE", "on", "On"};
    static const char *const off[] = {"0", "false", "off", ""};
    struct loaded l;

    for (size_t i = 0; i < sizeof(on) / sizeof(on[0]); i++) {
        setenv("ALLOW_UNAUTHENTICATED", on[i], 1);
        load(&l, true, 0, NULL);
        assert_int_equal(USV_OK, l.rc);
        assert_true(l.cfg.allow_unauthenticated);
        cfg_finish(&l.cfg);
    }
    for (size_t i = 0; i < sizeof(off) / sizeof(off[0]); i++) {
        setenv("ALLOW_UNAUTHENTICATED", off[i], 1);
        load(&l, true, 0, NULL);
        assert_int_equal(USV_OK, l.rc);
        assert_false(l.cfg.allow_unauthenticated);
        cfg_finish(&l.cfg);
    }
    setenv("ALLOW_UNAUTHENTICATED", "yes please", 1);
    load(&l, true, 0, NULL);
    assert_int_equal(USV_BAD_REQUEST, l.rc);
    cfg_finish(&l.cfg);
    unsetenv("ALLOW_UNAUTHENTICATED");
    /* The flag takes no value: what follows it is the next argument. */
    load(&l, true, 1, ARGS("--allow-unauthenticated", "extra"));
    assert_int_equal(USV_OK, l.rc);
    assert_true(l.cfg.allow_unauthenticated);
    assert_int_equal(1, l.n_pos);
    cfg_finish(&l.cfg);
    load(&l, true, 0, ARGS("--allow-unauthenticated=off"));
    assert_int_equal(USV_OK, l.rc);
    assert_false(l.cfg.allow_unauthenticated);
    cfg_finish(&l.cfg);
}

/* cfg_check_exposure() for HOST @host and flags @args. */
static enum usv_err
exposure(const char *host, const char *const *args)
{
    struct loaded l;
    enum usv_err rc;

    setenv("HOST", host, 1);
    load(&l, true, 0, args);
    assert_int_equal(USV_OK, l.rc);
    rc = cfg_check_exposure(&l.cfg);
    cfg_finish(&l.cfg);
    return rc;
}

static void
test_config_protected_by_default(void **state)
{
    assert_int_equal(USV_OK, exposure("127.0.0.1", NULL));
    assert_int_equal(USV_OK, exposure("127.1.2.3", NULL));
    assert_int_equal(USV_OK, exposure("::1", NULL));
    assert_int_equal(USV_BAD_REQUEST, exposure("0.0.0.0", NULL));
    assert_int_equal(USV_BAD_REQUEST, exposure("::", NULL));
    assert_int_equal(USV_BAD_REQUEST, exposure("10.0.0.1", NULL));
    assert_int_equal(USV_BAD_REQUEST, exposure("no.such.host.invalid", NULL));
    assert_int_equal(USV_OK, exposure("0.0.0.0", ARGS("--auth-jwks", "/k.json")));
    assert_int_equal(USV_OK, exposure("0.0.0.0", ARGS("--tls-client-ca", "/ca.pem")));
    assert_int_equal(USV_OK, exposure("0.0.0.0", ARGS("--allow-unauthenticated")));
    unsetenv("HOST");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_config_defaults_match_the_api, clean_env),
        cmocka_unit_test_setup(test_config_environment_overrides_defaults, clean_env),
        cmocka_unit_test_setup(test_config_flag_with_separate_value, clean_env),
        cmocka_unit_test_setup(test_config_flag_with_equals_value, clean_env),
        cmocka_unit_test_setup(test_config_equals_value_keeps_later_equals_signs, clean_env),
        cmocka_unit_test_setup(test_config_flag_beats_environment, clean_env),
        cmocka_unit_test_setup(test_config_last_flag_wins, clean_env),
        cmocka_unit_test_setup(test_config_bad_flag_value_is_rejected, clean_env),
        cmocka_unit_test_setup(test_config_flag_without_value_is_rejected, clean_env),
        cmocka_unit_test_setup(test_config_bad_environment_value_is_rejected, clean_env),
        cmocka_unit_test_setup(test_config_unknown_flag_is_rejected, clean_env),
        cmocka_unit_test_setup(test_config_migrate_flag_only_where_allowed, clean_env),
        cmocka_unit_test_setup(test_config_positionals_are_collected_up_to_the_limit,
                               clean_env),
        cmocka_unit_test_setup(test_config_auth_options_and_defaults, clean_env),
        cmocka_unit_test_setup(test_config_allow_unauthenticated_values, clean_env),
        cmocka_unit_test_setup(test_config_protected_by_default, clean_env),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
