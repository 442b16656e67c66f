/* SPDX-License-Identifier: MIT
 * metrics.c - see metrics.h. The /metrics page is composed here, where both
 * of its sources are visible: the HTTP layer's counters (http/stats.c) and
 * the ORM's pool statistics. */
#include "service/metrics.h"

#include <stdbool.h>
#include <stddef.h>

#include "base/util.h"

/* One series per pool ("primary", and "replica" when there is one). */
static void
pool_series(struct strbuf *out, const struct orm_pool_stats *primary,
            const struct orm_pool_stats *replica)
{
    static const struct {
        const char *name, *type, *help;
        size_t offset;
        bool is_u64;
    } series[] = {
#define U(field, name, type, help) {name, type, help, offsetof(struct orm_pool_stats, field), false}
#define C(field, name, type, help) {name, type, help, offsetof(struct orm_pool_stats, field), true}
        U(size, "usersvc_db_pool_size", "gauge", "Connections the pool may open."),
        U(open, "usersvc_db_pool_open", "gauge", "Connections open now."),
        U(in_use, "usersvc_db_pool_in_use", "gauge", "Connections borrowed now."),
        U(waiting, "usersvc_db_pool_waiting", "gauge", "Requests waiting for a connection."),
        U(idle, "usersvc_db_pool_idle", "gauge", "Connections open and not borrowed now."),
        C(acquired, "usersvc_db_pool_acquires_total", "counter", "Connections handed out."),
        C(timeouts, "usersvc_db_pool_acquire_timeouts_total", "counter",
          "Waits for a connection that timed out (503)."),
        C(connects, "usersvc_db_connects_total", "counter", "Connections opened."),
        C(connect_failures, "usersvc_db_connect_failures_total", "counter",
          "Connection attempts that failed."),
        C(connect_refused_full, "usersvc_db_connect_refused_full_total", "counter",
          "Connection attempts the database refused because it was full (too many clients)."),
        C(idle_closed, "usersvc_db_pool_idle_closed_total", "counter",
          "Idle connections closed after DB_POOL_IDLE_TIMEOUT_MS."),
        C(discarded, "usersvc_db_reconnects_total", "counter",
          "Broken or dead connections closed and replaced."),
        C(batches, "usersvc_db_batches_total", "counter",
          "Batches of one-statement requests run on one connection."),
        C(batched, "usersvc_db_batched_statements_total", "counter",
          "Statements those batches carried."),
        C(batch_timeouts, "usersvc_db_batch_queue_timeouts_total", "counter",
          "Batched statements withdrawn after waiting DB_POOL_TIMEOUT_MS (503)."),
        C(connect_timeouts, "usersvc_db_connect_timeouts_total", "counter",
          "Connection attempts cut at their deadline (503)."),
        C(statement_timeouts, "usersvc_db_statement_timeouts_total", "counter",
          "Database work cut at DB_STATEMENT_TIMEOUT_MS, by usersvc or the database (503)."),
#undef U
#undef C
    };
    const struct orm_pool_stats *pools[] = {primary, replica};
    const char *names[] = {"primary", "replica"};

    for (size_t i = 0; i < ARRAY_SIZE(series); i++) {
        strbuf_addf(out, "# HELP %s %s\n# TYPE %s %s\n", series[i].name, series[i].help,
                    series[i].name, series[i].type);
        for (size_t p = 0; p < ARRAY_SIZE(pools); p++) {
            const char *base = (const char *)pools[p];
            unsigned long long v;

            if (base == NULL)
                continue;
            if (series[i].is_u64)
                v = *(const uint64_t *)(const void *)(base + series[i].offset);
            else
                v = *(const unsigned *)(const void *)(base + series[i].offset);
            strbuf_addf(out, "%s{pool=\"%s\"} %llu\n", series[i].name, names[p], v);
        }
    }
}

void
metrics_render(struct http_req *req, const struct app *app, struct strbuf *out)
{
    struct orm_pool_stats stats, replica;
    bool has_replica;

    orm_db_stats(app->db, &stats);
    has_replica = orm_db_replica_stats(app->db, &replica);
    http_server_render_stats(http_req_server(req), out);
    pool_series(out, &stats, has_replica ? &replica : NULL);
    strbuf_addf(out, "# HELP usersvc_schema_version Latest migration applied at start-up.\n"
                     "# TYPE usersvc_schema_version gauge\n"
                     "usersvc_schema_version{backend=\"%s\"} %lld\n",
                orm_db_backend(app->db), (long long)app->schema_version);
}
