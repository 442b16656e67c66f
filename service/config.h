/* SPDX-License-Identifier: MIT
 * config.h - the service's settings, from environment and command line.
 *
 * Every option has an environment variable and a flag (the flag wins), both
 * described by one table in config.c that also produces --help. struct cfg
 * is a plain value: filled once by cfg_load() before any thread starts and
 * read-only afterwards.
 * Thread-safety: read-only after cfg_load(). */
#ifndef USERSVC_SERVICE_CONFIG_H
#define USERSVC_SERVICE_CONFIG_H

#include <stdbool.h>
#include <stdio.h>

#include "base/err.h"

struct cfg {
    char *database_url;
    char *database_read_url;  /* "" = no replica */
    char *host;
    long port;
    long pool_size;           /* 0 = backend default */
    long pool_timeout_ms;
    long statement_timeout_ms;
    long idle_check_ms;
    long pool_min_idle;       /* idle connections kept however long they idle */
    long pool_idle_timeout_ms; /* close idle connections beyond pool_min_idle; 0 = never */
    long migration_lock_timeout_ms; /* how long a migration's DDL waits for a table lock */
    long migration_retries;   /* further tries of a migration whose DDL gave up waiting */
    long db_batches;          /* 0 = no batching */
    char *db_prepared_statements; /* "on" or "off" (checked by cfg_load()) */
    long max_body_bytes;
    long max_connections;
    long max_connections_per_ip;
    long connection_timeout_s;
    long max_header_bytes;
    long thread_stack_kb;
    long shutdown_timeout_ms;
    long drain_ms;
    char *tls_cert;           /* PEM certificate (chain); "" = plain HTTP */
    char *tls_key;            /* PEM private key of tls_cert */
    char *tls_client_ca;      /* PEM CA(s) client certificates must chain to; "" = none */
    char *auth_jwks;          /* JWK Set file; "" = no token checks */
    char *auth_issuer;        /* "" = iss not checked */
    char *auth_audience;      /* "" = aud not checked */
    long auth_leeway_s;
    bool allow_unauthenticated;
    char *log_level;
    char *log_format;         /* "text" or "json" */
    long idempotency_ttl_s;   /* Idempotency-Key responses are kept this long */
    bool migrate;             /* serve --migrate */
};

/* Fill @cfg from defaults, then the environment, then the flags in
 * @argv[0..@argc) (the arguments after the subcommand, positional ones
 * collected into @positional, borrowed from argv, at most @max_positional).
 * @allow_migrate_flag accepts "--migrate". On USV_BAD_REQUEST a message
 * has been printed to stderr. Free with cfg_finish(). */
enum usv_err cfg_load(struct cfg *cfg, int argc, char **argv, bool allow_migrate_flag,
                      const char **positional, int max_positional, int *n_positional);
void cfg_finish(struct cfg *cfg);

/* Protected by default: USV_BAD_REQUEST (with a message on stderr naming
 * the options) when serving on @cfg->host would expose the service to
 * other machines without authentication: the host is not loopback, neither
 * AUTH_JWKS_FILE nor TLS_CLIENT_CA_FILE is set, and ALLOW_UNAUTHENTICATED
 * is off. */
enum usv_err cfg_check_exposure(const struct cfg *cfg);

/* Print the option table with defaults to @out. */
void cfg_print_options(FILE *out, bool with_migrate_flag);


#endif
