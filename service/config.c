/* SPDX-License-Identifier: MIT
 * config.c - see config.h. One table describes each option once: its
 * variable, flag, default, bounds and help line. */
#include "service/config.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/log.h"
#include "base/util.h"

enum opt_kind { OPT_STRING, OPT_LONG, OPT_BOOL };   /* a bool flag takes no value */

struct opt {
    const char *env, *flag;
    enum opt_kind kind;
    size_t offset;             /* into struct cfg */
    const char *def;
    long min, max;
    const char *help;
};

#define STR(field, env, flag, def, help) \
    {env, flag, OPT_STRING, offsetof(struct cfg, field), def, 0, 0, help}
#define BOOL(field, env, flag, help) \
    {env, flag, OPT_BOOL, offsetof(struct cfg, field), "off", 0, 0, help}
#define NUM(field, env, flag, def, min, max, help) \
    {env, flag, OPT_LONG, offsetof(struct cfg, field), def, min, max, help}

static const struct opt opts[] = {
    STR(database_url, "DATABASE_URL", "--database", "sqlite:usersvc.db",
        "sqlite:PATH, postgres://user:pass@host:port/db or mysql://user:pass@host:port/db"),
    STR(database_read_url, "DATABASE_READ_URL", "--database-read", "",
        "optional read replica(s) for GET /users/{id}, same kind as DATABASE_URL"),
    STR(host, "HOST", "--host", "127.0.0.1", "address to listen on"),
    NUM(port, "PORT", "--port", "8080", 0, 65535, "TCP port (0 picks a free one)"),
    NUM(pool_size, "DB_POOL_SIZE", "--pool-size", "0", 0, 1024,
        "database connections (0 = backend default: sqlite 8, postgres 16, mysql 16)"),
    NUM(pool_timeout_ms, "DB_POOL_TIMEOUT_MS", "--pool-timeout-ms", "2000", 0, 600000,
        "longest wait for a pooled connection or a batch before answering 503"),
    NUM(statement_timeout_ms, "DB_STATEMENT_TIMEOUT_MS", "--statement-timeout-ms", "5000", 1,
        600000, "longest a request's database work may take once sent (503 beyond);"
        " enforced by the database and by usersvc; migrations are not bound by it"),
    NUM(idle_check_ms, "DB_IDLE_CHECK_MS", "--idle-check-ms", "5000", 0, 86400000,
        "ping a connection idle this long before reusing it (0 = never)"),
    NUM(pool_min_idle, "DB_POOL_MIN_IDLE", "--pool-min-idle", "1", 0, 1024,
        "idle connections kept open however long they idle"),
    NUM(pool_idle_timeout_ms, "DB_POOL_IDLE_TIMEOUT_MS", "--pool-idle-timeout-ms", "30000", 0,
        86400000, "close idle connections beyond DB_POOL_MIN_IDLE after this (0 = never),"
        " giving the database's slots back"),
    NUM(migration_lock_timeout_ms, "DB_MIGRATION_LOCK_TIMEOUT_MS",
        "--migration-lock-timeout-ms", "1000", 1, 600000,
        "longest a migration's DDL waits for a table lock before it gives up and"
        " retries later, so live requests never queue behind it for longer"
        " (MariaDB: whole seconds, at least 1)"),
    NUM(migration_retries, "DB_MIGRATION_RETRIES", "--migration-retries", "10", 0, 1000,
        "further tries, with doubling backoff (0.25 s up to 8 s), of a migration"
        " whose DDL gave up waiting for a lock"),
    NUM(db_batches, "DB_BATCHES", "--db-batches", "2", 0, 1024,
        "most batches of one-statement requests in flight at once"
        " (0 = no batching: a connection per request)"),
    STR(db_prepared_statements, "DB_PREPARED_STATEMENTS", "--db-prepared-statements", "on",
        "on: prepare each statement once per connection; off: unnamed statements only,"
        " for PgBouncer in transaction mode (PostgreSQL; no effect on sqlite and mysql)"),
    NUM(idempotency_ttl_s, "IDEMPOTENCY_TTL_S", "--idempotency-ttl-s", "86400", 1, 31536000,
        "keep the response of a POST with an Idempotency-Key this long; a retry with the"
        " key gets it again (expired keys are purged in the background)"),
    NUM(max_body_bytes, "MAX_BODY_BYTES", "--max-body-bytes", "65536", 1, 1073741824,
        "largest request body accepted (413 beyond)"),
    NUM(max_connections, "MAX_CONNECTIONS", "--max-connections", "512", 1, 100000,
        "concurrent HTTP connections; more are refused"),
    NUM(max_connections_per_ip, "MAX_CONNECTIONS_PER_IP", "--max-connections-per-ip", "0",
        0, 100000, "concurrent connections from one client address (0 = no limit)"),
    NUM(connection_timeout_s, "CONNECTION_TIMEOUT_S", "--connection-timeout-s", "30", 1,
        86400, "close a connection idle this long (slowloris defence)"),
    NUM(max_header_bytes, "MAX_HEADER_BYTES", "--max-header-bytes", "16384", 1024, 1048576,
        "memory for a request's line and headers (431/413 beyond)"),
    NUM(thread_stack_kb, "THREAD_STACK_KB", "--thread-stack-kb", "256", 64, 65536,
        "stack size of each connection thread"),
    NUM(shutdown_timeout_ms, "SHUTDOWN_TIMEOUT_MS", "--shutdown-timeout-ms", "10000", 0,
        600000, "longest a SIGTERM may take to end the process, whatever the database does"),
    NUM(drain_ms, "DRAIN_MS", "--drain-ms", "0", 0, 600000,
        "on SIGTERM, keep serving this long with /readyz at 503 so a load balancer"
        " drains the instance before it stops accepting"),
    STR(tls_cert, "TLS_CERT_FILE", "--tls-cert", "",
        "PEM certificate (chain) file: serve HTTPS only (TLS 1.2/1.3); empty = plain HTTP"),
    STR(tls_key, "TLS_KEY_FILE", "--tls-key", "", "PEM private key file of the certificate"),
    STR(tls_client_ca, "TLS_CLIENT_CA_FILE", "--tls-client-ca", "",
        "PEM CA file: require client certificates chaining to it (mutual TLS)"),
    STR(auth_jwks, "AUTH_JWKS_FILE", "--auth-jwks", "",
        "JWK Set file (RSA >= 2048, P-256, Ed25519): every request but /healthz, /readyz"
        " and /openapi.json needs a bearer JWT signed by one of its keys; empty = no checks"
        " (SIGHUP reloads it)"),
    STR(auth_issuer, "AUTH_ISSUER", "--auth-issuer", "",
        "required \"iss\" of tokens (empty = not checked)"),
    STR(auth_audience, "AUTH_AUDIENCE", "--auth-audience", "",
        "\"aud\" tokens must contain (empty = not checked)"),
    NUM(auth_leeway_s, "AUTH_LEEWAY_S", "--auth-leeway-s", "30", 0, 3600,
        "clock skew allowed when checking exp, nbf and iat"),
    BOOL(allow_unauthenticated, "ALLOW_UNAUTHENTICATED", "--allow-unauthenticated",
         "serve on a non-loopback HOST without AUTH_JWKS_FILE or TLS_CLIENT_CA_FILE"
         " (1/true/on; the flag takes no value)"),
    STR(log_level, "LOG_LEVEL", "--log-level", "info", "error, warn, info or debug"),
    STR(log_format, "LOG_FORMAT", "--log-format", "text", "text or json (one object per line)"),
};

static enum usv_err
set_opt(struct cfg *cfg, const struct opt *o, const char *value, const char *source)
{
    char *base = (char *)cfg;

    if (o->kind == OPT_BOOL) {
        bool *slot = (bool *)(void *)(base + o->offset);

        if (strcmp(value, "1") == 0 || strcasecmp(value, "true") == 0 ||
            strcasecmp(value, "on") == 0) {
            *slot = true;
        } else if (value[0] == '\0' || strcmp(value, "0") == 0 ||
                   strcasecmp(value, "false") == 0 || strcasecmp(value, "off") == 0) {
            *slot = false;
        } else {
            fprintf(stderr, "usersvc: %s must be 1, true or on (or 0, false, off)\n", source);
            return USV_BAD_REQUEST;
        }
        return USV_OK;
    }
    if (o->kind == OPT_STRING) {
        char **slot = (char **)(void *)(base + o->offset);

        free(*slot);
        *slot = xstrdup(value);
        return USV_OK;
    }
    long v;
    if (!parse_long(value, o->min, o->max, &v)) {
        fprintf(stderr, "usersvc: %s must be an integer from %ld to %ld\n", source, o->min,
                o->max);
        return USV_BAD_REQUEST;
    }
    *(long *)(void *)(base + o->offset) = v;
    return USV_OK;
}

static const struct opt *
find_flag(const char *name, size_t len)
{
    for (size_t i = 0; i < ARRAY_SIZE(opts); i++) {
        if (strlen(opts[i].flag) == len && strncmp(opts[i].flag, name, len) == 0)
            return &opts[i];
    }
    return NULL;
}

enum usv_err
cfg_load(struct cfg *cfg, int argc, char **argv, bool allow_migrate_flag,
         const char **positional, int max_positional, int *n_positional)
{
    enum log_level level;

    memset(cfg, 0, sizeof(*cfg));
    *n_positional = 0;
    for (size_t i = 0; i < ARRAY_SIZE(opts); i++) {
        const char *env = getenv(opts[i].env);

        set_opt(cfg, &opts[i], opts[i].def, opts[i].flag);
        if (env != NULL && set_opt(cfg, &opts[i], env, opts[i].env) != USV_OK)
            return USV_BAD_REQUEST;
    }
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        const char *eq = strchr(arg, '=');
        const struct opt *o;

        if (strncmp(arg, "--", 2) != 0) {
            if (*n_positional >= max_positional) {
                fprintf(stderr, "usersvc: unexpected argument '%s' (see --help)\n", arg);
                return USV_BAD_REQUEST;
            }
            positional[(*n_positional)++] = arg;
            continue;
        }
        if (allow_migrate_flag && strcmp(arg, "--migrate") == 0) {
            cfg->migrate = true;
            continue;
        }
        o = find_flag(arg, eq != NULL ? (size_t)(eq - arg) : strlen(arg));
        if (o == NULL) {
            fprintf(stderr, "usersvc: unknown option '%.*s' (see --help)\n",
                    (int)(eq != NULL ? (size_t)(eq - arg) : strlen(arg)), arg);
            return USV_BAD_REQUEST;
        }
        if (o->kind == OPT_BOOL && eq == NULL) {
            set_opt(cfg, o, "on", o->flag);
            continue;
        }
        if (eq == NULL && i + 1 >= argc) {
            fprintf(stderr, "usersvc: option %s needs a value\n", o->flag);
            return USV_BAD_REQUEST;
        }
        if (set_opt(cfg, o, eq != NULL ? eq + 1 : argv[++i], o->flag) != USV_OK)
            return USV_BAD_REQUEST;
    }
    if (!log_level_parse(cfg->log_level, &level)) {
        fprintf(stderr, "usersvc: log level must be error, warn, info or debug\n");
        return USV_BAD_REQUEST;
    }
    if (strcmp(cfg->log_format, "text") != 0 && strcmp(cfg->log_format, "json") != 0) {
        fprintf(stderr, "usersvc: log format must be text or json\n");
        return USV_BAD_REQUEST;
    }
    if (strcmp(cfg->db_prepared_statements, "on") != 0 &&
        strcmp(cfg->db_prepared_statements, "off") != 0) {
        fprintf(stderr, "usersvc: DB_PREPARED_STATEMENTS (--db-prepared-statements) must be "
                "on or off\n");
        return USV_BAD_REQUEST;
    }
    log_setup(level, strcmp(cfg->log_format, "json") == 0);
    return USV_OK;
}

void
cfg_finish(struct cfg *cfg)
{
    free(cfg->database_url);
    free(cfg->database_read_url);
    free(cfg->host);
    free(cfg->tls_cert);
    free(cfg->tls_key);
    free(cfg->tls_client_ca);
    free(cfg->auth_jwks);
    free(cfg->auth_issuer);
    free(cfg->auth_audience);
    free(cfg->log_level);
    free(cfg->log_format);
    free(cfg->db_prepared_statements);
    memset(cfg, 0, sizeof(*cfg));
}

/* Does @host name only loopback addresses? "localhost" is resolved; an
 * unresolvable name counts as exposed (the listener fails later anyway). */
static bool
is_loopback_host(const char *host)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE};
    struct addrinfo *ai = NULL;
    bool is_loopback = true;

    if (getaddrinfo(host, NULL, &hints, &ai) != 0)
        return false;
    for (struct addrinfo *a = ai; a != NULL; a = a->ai_next) {
        if (a->ai_family == AF_INET) {
            const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)a->ai_addr;

            if ((ntohl(in->sin_addr.s_addr) >> 24) != 127)
                is_loopback = false;
        } else if (a->ai_family == AF_INET6) {
            const struct sockaddr_in6 *in6 =
                (const struct sockaddr_in6 *)(const void *)a->ai_addr;

            if (!IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
                is_loopback = false;
        } else {
            is_loopback = false;
        }
    }
    freeaddrinfo(ai);
    return is_loopback;
}

enum usv_err
cfg_check_exposure(const struct cfg *cfg)
{
    if (cfg->allow_unauthenticated || cfg->auth_jwks[0] != '\0' ||
        cfg->tls_client_ca[0] != '\0' || is_loopback_host(cfg->host))
        return USV_OK;
    fprintf(stderr,
            "usersvc: refusing to serve on %s without authentication: anyone who can reach it"
            " could read and change every user. Set AUTH_JWKS_FILE (--auth-jwks) for bearer"
            " tokens or TLS_CLIENT_CA_FILE (--tls-client-ca) for client certificates, or set"
            " ALLOW_UNAUTHENTICATED=1 (--allow-unauthenticated) if something in front of"
            " usersvc authenticates its callers\n", cfg->host);
    return USV_BAD_REQUEST;
}

void
cfg_print_options(FILE *out, bool with_migrate_flag)
{
    fprintf(out, "Options (flag, environment variable, default):\n");
    if (with_migrate_flag)
        fprintf(out, "  %-26s apply pending migrations before serving\n", "--migrate");
    for (size_t i = 0; i < ARRAY_SIZE(opts); i++) {
        fprintf(out, "  %-26s %s\n  %-26s   %s (default: %s)\n", opts[i].flag, opts[i].help, "",
                opts[i].env, opts[i].def);
    }
}
