/* SPDX-License-Identifier: MIT
 * main.c - the usersvc command line: serve, migrate, --help, --version.
 *
 * serve: load the configuration, open the database handle, check (or, with
 * --migrate, apply) migrations, start the HTTP server, then wait in sigwait()
 * for SIGINT/SIGTERM/SIGHUP. Those signals are blocked before any thread
 * starts, so only this thread receives them; SIGHUP reloads what can be
 * reloaded (reload()) and waits again; shutdown stops accepting, lets
 * in-flight requests finish, and closes the pool. */
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth/auth.h"
#include "service/auth_guard.h"
#include "base/log.h"
#include "handlers/app.h"
#include "handlers/idempotency.h"
#include "handlers/routes.h"
#include "http/http.h"
#include "http/tls.h"
#include "orm/migrate.h"
#include "orm/orm.h"
#include "orm/url.h"
#include "service/config.h"
#include "service/metrics.h"
#include "base/util.h"

#ifndef USERSVC_VERSION
#define USERSVC_VERSION "0.1.0"
#endif

static void
usage(FILE *out)
{
    fprintf(out,
            "usage: usersvc COMMAND [OPTIONS]\n"
            "\n"
            "A small HTTP/JSON user service on SQLite, PostgreSQL or MySQL/MariaDB.\n"
            "\n"
            "Commands:\n"
            "  serve [--migrate]        serve HTTP (refuses while migrations are pending,\n"
            "                           unless --migrate applies them first)\n"
            "  migrate [up]             apply every pending migration\n"
            "  migrate status           list migrations; exit 0 only when current\n"
            "  migrate down [N]         revert the last N migrations (default 1)\n"
            "\n"
            "  usersvc --version        print the version\n"
            "  usersvc COMMAND --help   options of a command\n"
            "\n"
            "Flags take \"--name value\" or \"--name=value\" and win over the environment.\n\n");
    cfg_print_options(out, true);
}

static bool
wants_help(int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    }
    return false;
}

static enum usv_err
open_db(const struct cfg *cfg, struct orm_db **db)
{
    struct orm_db_options opts = {
        .pool_size = (unsigned)cfg->pool_size,
        .pool_timeout_ms = (unsigned)cfg->pool_timeout_ms,
        .statement_timeout_ms = (unsigned)cfg->statement_timeout_ms,
        .idle_check_ms = (unsigned)cfg->idle_check_ms,
        .pool_min_idle = (unsigned)cfg->pool_min_idle,
        .pool_idle_timeout_ms = (unsigned)cfg->pool_idle_timeout_ms,
        .migration_lock_timeout_ms = (unsigned)cfg->migration_lock_timeout_ms,
        .migration_retries = (unsigned)cfg->migration_retries,
        .replica_url = cfg->database_read_url[0] != '\0' ? cfg->database_read_url : NULL,
        .batches = (unsigned)cfg->db_batches,
        .no_prepared_statements = strcmp(cfg->db_prepared_statements, "off") == 0,
    };
    opts.migrations = app_migrations(&opts.n_migrations);
    char redacted[512];
    enum usv_err rc = orm_db_open(cfg->database_url, app_models, app_n_models, &opts, db);

    /* The ORM has logged what is wrong; this names the URL, redacted. */
    if (rc != USV_OK)
        log_error("main", "cannot open DATABASE_URL '%s' (why: the line above; the forms are "
                  "sqlite:PATH, postgres://... and mysql://...)",
                  url_redact(cfg->database_url, redacted, sizeof(redacted)));
    return rc;
}

/* False, with the reason logged, when the database refuses transactions
 * (PgBouncer in statement mode): a configuration error (exit 2), found
 * before anything is served or migrated. */
static bool
transactions_work(struct orm_db *db)
{
    char why[300];

    if (orm_db_check_transactions(db, why, sizeof(why)) != USV_INVALID)
        return true;
    log_error("main", "refusing to start: the database refuses transactions (%s); behind "
              "PgBouncer use pool_mode = transaction with DB_PREPARED_STATEMENTS=off, or "
              "pool_mode = session (README \"Scaling out\")", why);
    return false;
}

static int
cmd_migrate(const struct cfg *cfg, const char **pos, int n_pos)
{
    const char *action = n_pos > 0 ? pos[0] : "up";
    struct orm_db *db = NULL;
    struct migrate_entry *list = NULL;
    size_t n = 0;
    unsigned count = 0;
    long steps = 1;
    int status = 1;
    enum usv_err rc;

    if (strcmp(action, "down") == 0 && n_pos > 1 && !parse_long(pos[1], 1, 100000, &steps)) {
        fprintf(stderr, "usersvc: migrate down N: N must be a positive integer\n");
        return 2;
    }
    if ((strcmp(action, "down") != 0 && n_pos > 1) ||
        (strcmp(action, "up") != 0 && strcmp(action, "down") != 0 &&
         strcmp(action, "status") != 0)) {
        fprintf(stderr, "usersvc: usage: usersvc migrate [up|status|down [N]]\n");
        return 2;
    }
    if (open_db(cfg, &db) != USV_OK || !transactions_work(db)) {
        orm_db_close(db);
        return 2;
    }
    if (strcmp(action, "up") == 0) {
        rc = migrate_up(db, &count);
        if (rc == USV_OK) {
            printf("%u migration(s) applied; schema is current\n", count);
            status = 0;
        } else {
            log_error("main", "migrate up failed (%s); see the log above",
                    usv_err_name(rc));
        }
    } else if (strcmp(action, "down") == 0) {
        rc = migrate_down(db, (unsigned)steps, &count);
        if (rc == USV_OK) {
            printf("%u migration(s) reverted\n", count);
            status = 0;
        } else {
            log_error("main", "migrate down failed (%s); see the log above",
                    usv_err_name(rc));
        }
    } else {
        rc = migrate_status(db, &list, &n);
        if (rc != USV_OK) {
            log_error("main", "cannot read migration status (%s)", usv_err_name(rc));
        } else {
            status = 0;
            for (size_t i = 0; i < n; i++) {
                printf("%04lld_%-30s %-24s %s\n", (long long)list[i].version, list[i].name,
                       migrate_state_name(list[i].state), list[i].applied_at);
                if (list[i].state == MIGRATE_CHANGED || list[i].state == MIGRATE_FAILED)
                    log_error("main", "migration %04lld_%s: %s",
                            (long long)list[i].version, list[i].name,
                            migrate_state_name(list[i].state));
                if (list[i].state != MIGRATE_APPLIED && list[i].state != MIGRATE_UNKNOWN)
                    status = 1;
            }
            printf(status == 0 ? "schema is current\n" : "schema is NOT current\n");
        }
        free(list);
    }
    orm_db_close(db);
    return status;
}

/* The latest applied migration, for /metrics (0 if unknown). */
static int64_t
schema_version(struct orm_db *db)
{
    struct migrate_entry *list = NULL;
    int64_t version = 0;
    size_t n = 0;

    if (migrate_status(db, &list, &n) == USV_OK) {
        for (size_t i = 0; i < n; i++) {
            if (list[i].state == MIGRATE_APPLIED && list[i].version > version)
                version = list[i].version;
        }
    }
    free(list);
    return version;
}

/* SIGHUP: reload certificates and the key set in place. A failure is
 * logged and keeps the previous state; serving goes on. */
static void
reload(struct tls *tls, struct auth *auth)
{
    log_info("main", "SIGHUP received: reloading");
    if (tls != NULL)
        tls_reload(tls);
    auth_reload(auth);
}

/* The bearer-token checker of AUTH_JWKS_FILE into *@out (NULL when unset).
 * False, with the reason logged, when the key set cannot be used. */
static bool
open_auth(const struct cfg *cfg, struct auth **out)
{
    struct auth_options o = {.jwks_file = cfg->auth_jwks, .issuer = cfg->auth_issuer,
                             .audience = cfg->auth_audience, .leeway_s = cfg->auth_leeway_s};
    char why[768];

    *out = NULL;
    if (cfg->auth_jwks[0] == '\0')
        return true;
    if (auth_create(&o, out, why, sizeof(why)) != USV_OK) {
        log_error("main", "AUTH_JWKS_FILE: %s", why);
        return false;
    }
    return true;
}

/* The HTTP layer's options, from the configuration. */
static struct http_opts
http_opts_of(const struct cfg *cfg, struct auth *auth)
{
    struct http_opts o = {
        .host = cfg->host,
        .port = cfg->port,
        .max_body_bytes = cfg->max_body_bytes,
        .max_connections = cfg->max_connections,
        .max_connections_per_ip = cfg->max_connections_per_ip,
        .connection_timeout_s = cfg->connection_timeout_s,
        .max_header_bytes = cfg->max_header_bytes,
        .thread_stack_kb = cfg->thread_stack_kb,
        .guard = auth != NULL ? auth_guard : NULL,
        .guard_ctx = auth,
    };

    return o;
}

/* Kept back from the in-flight wait for closing connections and the pool. */
#define SHUTDOWN_MARGIN_MS 200

static uint64_t shutdown_deadline_ms;   /* written before the backstop starts */

/* SHUTDOWN_TIMEOUT_MS is the longest a SIGTERM may take, whatever the
 * database or the clients do: past it, the process ends here. */
static void *
exit_at_deadline(void *arg)
{
    uint64_t now = monotonic_ms();

    if (shutdown_deadline_ms > now) {
        uint64_t ms = shutdown_deadline_ms - now;
        struct timespec ts = {.tv_sec = (time_t)(ms / 1000),
                              .tv_nsec = (long)(ms % 1000) * 1000000L};

        while (nanosleep(&ts, &ts) != 0)
            ;
    }
    log_error("main", "shutdown took SHUTDOWN_TIMEOUT_MS; exiting with requests unfinished");
    _exit(1);
}

static int
cmd_serve(const struct cfg *cfg)
{
    struct orm_db *db = NULL;
    struct http_server *srv = NULL;
    struct auth *auth = NULL;
    struct http_opts hopts;
    struct tls *tls = NULL;
    struct idem_purger *purger = NULL;
    struct app app = {.render_metrics = metrics_render};
    char why[256], redacted[512];
    sigset_t set;
    int sig = 0;
    pthread_t backstop;
    uint64_t now_ms, left_ms;
    enum usv_err rc;

    /* Exposure, certificates and keys first: a configuration error is exit 2,
     * before any I/O. */
    if (cfg_check_exposure(cfg) != USV_OK || !open_auth(cfg, &auth))
        return 2;
    if (tls_create(cfg->tls_cert, cfg->tls_key, cfg->tls_client_ca, &tls) != USV_OK) {
        auth_destroy(auth);
        return 2;
    }
    if (open_db(cfg, &db) != USV_OK || !transactions_work(db)) {
        orm_db_close(db);
        tls_destroy(tls);
        auth_destroy(auth);
        return 2;
    }
    log_info("main", "usersvc %s starting; database %s", USERSVC_VERSION,
             url_redact(cfg->database_url, redacted, sizeof(redacted)));
    if (cfg->database_read_url[0] != '\0')
        log_info("main", "reads of single users may go to the replica %s",
                 url_redact(cfg->database_read_url, redacted, sizeof(redacted)));
    if (cfg->migrate && migrate_up(db, NULL) != USV_OK) {
        log_error("main", "migrations failed; not serving");
        orm_db_close(db);
        tls_destroy(tls);
        auth_destroy(auth);
        return 1;
    }
    rc = migrate_check(db, why, sizeof(why));
    if (rc == USV_UNAVAILABLE && orm_db_is_full(db)) {
        /* Reachable but full (other instances hold every slot): this is
         * capacity, not an outage. Serve not-ready; /readyz turns 200 once
         * a connection is had and the schema is current. */
        log_warn("main", "the database is full (too many clients): starting not ready; "
                 "/readyz says 503 until a connection is free and the schema is current");
        rc = USV_OK;
    }
    if (rc != USV_OK) {
        log_error("main", "refusing to serve: %s%s", why,
                  rc == USV_CONFLICT ? "; run 'usersvc migrate' or 'usersvc serve --migrate'"
                                     : "");
        orm_db_close(db);
        tls_destroy(tls);
        auth_destroy(auth);
        return 1;
    }
    /* Block the shutdown signals in every thread; this one sigwait()s. */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* The composition root: handlers reach the database and the schema
     * version through @app; the HTTP layer only carries the pointer. */
    app.db = db;
    app.schema_version = schema_version(db);
    hopts = http_opts_of(cfg, auth);
    hopts.tls = tls;
    /* Expired Idempotency-Keys are forgotten off the request path. */
    if (idem_purger_start(db, cfg->idempotency_ttl_s, &purger) != USV_OK)
        log_warn("main", "cannot start the idempotency key purge; expired keys stay");
    if (http_server_start(&hopts, app_routes, app_n_routes, &app, &srv) != USV_OK) {
        idem_purger_stop(purger);
        orm_db_close(db);
        tls_destroy(tls);
        auth_destroy(auth);
        return 1;
    }
    while (sigwait(&set, &sig) == 0 && sig == SIGHUP)
        reload(tls, auth);
    log_info("main", "%s received: draining (not ready), then finishing in-flight requests",
             sig == SIGINT ? "SIGINT" : "SIGTERM");
    shutdown_deadline_ms = monotonic_ms() + (uint64_t)cfg->shutdown_timeout_ms;
    if (pthread_create(&backstop, NULL, exit_at_deadline, NULL) != 0)
        log_warn("main", "cannot start the shutdown backstop; shutdown may take longer");
    http_server_drain(srv);
    if (cfg->drain_ms > 0) {
        long drain_ms = cfg->drain_ms < cfg->shutdown_timeout_ms ? cfg->drain_ms
                                                                 : cfg->shutdown_timeout_ms;
        struct timespec ts = {.tv_sec = drain_ms / 1000,
                              .tv_nsec = (drain_ms % 1000) * 1000000L};

        nanosleep(&ts, NULL);
    }
    http_server_quiesce(srv);
    /* In-flight requests get what is left of the bound, less a margin for
     * closing the rest; database work ends by itself within the statement
     * timeout, and the backstop ends the process at the bound regardless. */
    now_ms = monotonic_ms();
    left_ms = shutdown_deadline_ms > now_ms + SHUTDOWN_MARGIN_MS
                  ? shutdown_deadline_ms - now_ms - SHUTDOWN_MARGIN_MS : 0;
    http_server_stop(srv, (unsigned)left_ms);
    idem_purger_stop(purger);
    tls_destroy(tls);
    auth_destroy(auth);
    orm_db_close(db);
    log_info("main", "stopped");
    return 0;
}

int
main(int argc, char **argv)
{
    const char *pos[4];
    int n_pos = 0, status;
    const char *cmd;
    struct cfg cfg;

    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("usersvc %s\n", USERSVC_VERSION);
        return 0;
    }
    cmd = argv[1];
    if (strcmp(cmd, "serve") != 0 && strcmp(cmd, "migrate") != 0) {
        fprintf(stderr, "usersvc: unknown command '%s' (see usersvc --help)\n", cmd);
        return 2;
    }
    if (wants_help(argc - 2, argv + 2)) {
        if (strcmp(cmd, "serve") == 0)
            printf("usage: usersvc serve [--migrate] [OPTIONS]\n\n");
        else
            printf("usage: usersvc migrate [up|status|down [N]] [OPTIONS]\n\n");
        cfg_print_options(stdout, strcmp(cmd, "serve") == 0);
        return 0;
    }
    if (cfg_load(&cfg, argc - 2, argv + 2, strcmp(cmd, "serve") == 0, pos,
                 strcmp(cmd, "serve") == 0 ? 0 : 2, &n_pos) != USV_OK) {
        cfg_finish(&cfg);
        return 2;
    }
    /* Process-wide library set-up, before any thread exists. */
    json_object_seed(0);
    status = strcmp(cmd, "serve") == 0 ? cmd_serve(&cfg) : cmd_migrate(&cfg, pos, n_pos);
    cfg_finish(&cfg);
    return status;
}
