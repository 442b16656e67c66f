/* SPDX-License-Identifier: MIT
 * idempotency.c - see idempotency.h.
 *
 * Digests are SHA-256 through GnuTLS (already linked for TLS): the key is
 * stored only as the digest of subject and key, so the unique index has a
 * fixed width on every backend and no client's key text is kept. The
 * in-process registry is a list under one mutex: it holds only the keyed
 * requests running right now, so a scan is short. The purge reads the
 * oldest keys a page at a time (ids grow with time) and deletes those
 * whose own created_at is past the TTL, so a clock step or an out-of-order
 * id can delay a deletion but never delete a young key. */
#include "handlers/idempotency.h"

#include <gnutls/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/util.h"
#include "http/etag.h"

static const struct orm_column idem_columns[] = {
    {.name = "id", .type = ORM_INT64, .flags = ORM_PK | ORM_READONLY},
    {.name = "key_digest", .type = ORM_TEXT, .flags = ORM_REQUIRED | ORM_UNIQUE,
     .taken = "a request with this Idempotency-Key is still running"},
    {.name = "fingerprint", .type = ORM_TEXT, .flags = ORM_REQUIRED},
    {.name = "status", .type = ORM_INT64, .flags = ORM_REQUIRED},
    {.name = "location", .type = ORM_TEXT, .flags = ORM_NULLABLE},
    {.name = "body", .type = ORM_TEXT, .flags = ORM_REQUIRED},
    {.name = "created_at", .type = ORM_TIMESTAMP, .flags = ORM_READONLY | ORM_CREATED_AT},
};

const struct orm_model idempotency_model = {
    .table = "idempotency_keys",
    .singular = "idempotency key",
    .columns = idem_columns,
    .n_columns = sizeof(idem_columns) / sizeof(idem_columns[0]),
};

/* Seconds a client waits before retrying a key that is still running. */
#define IDEM_RETRY_AFTER "1"

/* ---- digests -------------------------------------------------------- */

/* Hex SHA-256 of the @n pieces @parts (@lens bytes each), each followed
 * by a NUL byte, so that ("ab", "c") and ("a", "bc") differ. */
static void
sha256_hex(const char *const *parts, const size_t *lens, size_t n,
           char out[IDEM_HEX_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[32];
    gnutls_hash_hd_t h;

    if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0)
        abort();                 /* SHA-256 is always there: a broken library */
    for (size_t i = 0; i < n; i++) {
        gnutls_hash(h, parts[i], lens[i]);
        gnutls_hash(h, "", 1);
    }
    gnutls_hash_deinit(h, md);
    for (size_t i = 0; i < sizeof(md); i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[IDEM_HEX_LEN] = '\0';
}

enum usv_err
idem_key_read(struct http_req *req, struct idem_key *k, bool *has_key)
{
    const char *key = http_req_header(req, "Idempotency-Key");
    const char *subject = http_req_subject(req);
    const char *parts[2];
    size_t lens[2], len;

    memset(k, 0, sizeof(*k));
    *has_key = false;
    if (key == NULL)
        return USV_OK;
    len = strlen(key);
    if (len == 0 || len > IDEM_KEY_MAX) {
        http_req_set_detail(req, "Idempotency-Key must be 1-%d characters", IDEM_KEY_MAX);
        return USV_BAD_REQUEST;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)key[i];

        if (c < 0x20 || c > 0x7E) {
            http_req_set_detail(req, "Idempotency-Key must be printable ASCII characters");
            return USV_BAD_REQUEST;
        }
    }
    parts[0] = subject;
    lens[0] = strlen(subject);
    parts[1] = key;
    lens[1] = len;
    sha256_hex(parts, lens, 2, k->digest);
    *has_key = true;
    return USV_OK;
}

void
idem_key_fingerprint(struct http_req *req, const char *path, struct idem_key *k)
{
    const char *parts[3];
    size_t lens[3];
    const char *method = "POST";

    /* The route decides the method and path; both are in the fingerprint
     * so a key reused on another collection is "another request". */
    parts[0] = method;
    lens[0] = strlen(method);
    parts[1] = path;
    lens[1] = strlen(path);
    parts[2] = http_req_body(req, &lens[2]);
    sha256_hex(parts, lens, 3, k->fingerprint);
}

/* ---- the registry of running keys ------------------------------------ */

static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static struct idem_key *running;     /* protected by registry_mu */

enum usv_err
idem_claim(struct http_req *req, struct idem_key *k)
{
    bool is_busy = false;

    xlock(&registry_mu);
    for (struct idem_key *r = running; r != NULL; r = r->next) {
        if (strcmp(r->digest, k->digest) == 0) {
            is_busy = true;
            break;
        }
    }
    if (!is_busy) {
        k->next = running;
        running = k;
        k->is_claimed = true;
    }
    xunlock(&registry_mu);
    if (!is_busy)
        return USV_OK;
    http_req_set_detail(req, "a request with this Idempotency-Key is still running");
    http_req_add_header(req, "Retry-After", IDEM_RETRY_AFTER);
    return USV_CONFLICT;
}

void
idem_release(struct idem_key *k)
{
    if (!k->is_claimed)
        return;
    xlock(&registry_mu);
    for (struct idem_key **p = &running; *p != NULL; p = &(*p)->next) {
        if (*p == k) {
            *p = k->next;
            break;
        }
    }
    xunlock(&registry_mu);
    k->is_claimed = false;
    k->next = NULL;
}

/* ---- stored responses ------------------------------------------------ */

struct lookup {
    const struct idem_key *k;
    json_t *row;                 /* new: the stored response */
};

static enum usv_err
lookup_work(struct orm_session *s, void *arg)
{
    struct lookup *l = arg;

    json_decref(l->row);
    l->row = NULL;
    return orm_find_by(s, &idempotency_model, "key_digest", l->k->digest, &l->row);
}

enum usv_err
idem_replay(struct http_req *req, struct orm_db *db, const struct idem_key *k)
{
    struct lookup l = {.k = k, .row = NULL};
    char etag[ETAG_SIZE];
    const char *fingerprint, *body, *location;
    json_int_t status;
    enum usv_err rc;

    /* ORM_TX_READ reads the primary: a replica may not have the key yet. */
    rc = orm_transact(db, ORM_TX_READ, lookup_work, &l);
    if (rc != USV_OK)
        goto out;
    fingerprint = json_string_value(json_object_get(l.row, "fingerprint"));
    body = json_string_value(json_object_get(l.row, "body"));
    location = json_string_value(json_object_get(l.row, "location"));
    status = json_integer_value(json_object_get(l.row, "status"));
    if (fingerprint == NULL || body == NULL || status < 200 || status > 299) {
        log_error("idempotency", "a stored response is malformed");
        rc = USV_INTERNAL;
        goto out;
    }
    if (strcmp(fingerprint, k->fingerprint) != 0) {
        http_req_set_detail(req, "this Idempotency-Key was used with another request body");
        rc = USV_INVALID;
        goto out;
    }
    http_req_set_status(req, (unsigned)status);
    if (location != NULL)
        http_req_add_header(req, "Location", location);
    etag_of_text(body, strlen(body), etag);
    http_req_add_header(req, "ETag", etag);
    http_req_add_header(req, "Idempotency-Replayed", "true");
    http_req_reply_text(req, xstrdup(body), strlen(body), "application/json");
out:
    json_decref(l.row);
    return rc;
}

enum usv_err
idem_store(struct orm_session *s, const struct idem_key *k, unsigned status,
           const char *location, const char *body)
{
    json_t *values = json_pack("{s:s, s:s, s:I, s:s?, s:s}", "key_digest", k->digest,
                               "fingerprint", k->fingerprint, "status", (json_int_t)status,
                               "location", location, "body", body);
    json_t *row = NULL;
    enum usv_err rc;

    if (values == NULL)
        return USV_NOMEM;
    rc = orm_insert(s, &idempotency_model, values, &row);
    json_decref(row);
    json_decref(values);
    return rc;
}

/* ---- the purge -------------------------------------------------------- */

struct idem_purger {
    struct orm_db *db;
    long ttl_s;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool is_stopping;            /* protected by mu */
};

/* What one batch reads and deletes. */
struct purge_batch {
    const char *cutoff;          /* keys created before it are expired */
    json_t *page;                /* new: the oldest keys */
    bool has_more;
    int64_t ids[IDEM_PURGE_BATCH];
    size_t n_ids;
};

static enum usv_err
purge_read_work(struct orm_session *s, void *arg)
{
    struct purge_batch *b = arg;
    struct orm_page page = {.after = 0, .limit = IDEM_PURGE_BATCH};

    json_decref(b->page);
    b->page = NULL;
    return orm_find_many(s, &idempotency_model, &page, &b->page, &b->has_more);
}

static enum usv_err
purge_delete_work(struct orm_session *s, void *arg)
{
    struct purge_batch *b = arg;

    for (size_t i = 0; i < b->n_ids; i++) {
        enum usv_err rc = orm_delete(s, &idempotency_model, b->ids[i]);

        /* Another instance's purge may have been first: that is fine. */
        if (rc != USV_OK && rc != USV_NOT_FOUND)
            return rc;
    }
    return USV_OK;
}

/* The canonical RFC 3339 text of now minus @ttl_s (as utc_stamp()). */
static void
cutoff_stamp(long ttl_s, char out[UTC_STAMP_LEN + 1])
{
    struct timespec ts;
    struct tm tm;
    time_t t;
    char base[32], full[64];

    clock_gettime(CLOCK_REALTIME, &ts);
    t = ts.tv_sec - (time_t)ttl_s;
    gmtime_r(&t, &tm);
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(full, sizeof(full), "%s.%06ldZ", base, ts.tv_nsec / 1000);
    snprintf(out, UTC_STAMP_LEN + 1, "%.*s", UTC_STAMP_LEN, full);
}

static bool
is_stopping(struct idem_purger *p)
{
    bool stop;

    xlock(&p->mu);
    stop = p->is_stopping;
    xunlock(&p->mu);
    return stop;
}

/* Delete expired keys, a batch at a time, until a batch finds a key that
 * is still young (or the table is empty). Bounded: at most @max_batches. */
static void
purge_once(struct idem_purger *p, unsigned max_batches)
{
    char cutoff[UTC_STAMP_LEN + 1];
    uint64_t purged = 0;

    cutoff_stamp(p->ttl_s, cutoff);
    for (unsigned n = 0; n < max_batches && !is_stopping(p); n++) {
        struct purge_batch b = {.cutoff = cutoff};
        bool is_young = false;
        enum usv_err rc = orm_transact(p->db, ORM_TX_READ, purge_read_work, &b);
        size_t i;
        json_t *row;

        if (rc != USV_OK) {
            json_decref(b.page);
            log_warn("idempotency", "purge: cannot read keys (%s)", usv_err_name(rc));
            break;
        }
        json_array_foreach(b.page, i, row) {
            const char *at = json_string_value(json_object_get(row, "created_at"));

            /* The canonical text has one width: compared as strings, in time order. */
            if (at == NULL || strcmp(at, cutoff) >= 0) {
                is_young = true;
                continue;
            }
            b.ids[b.n_ids++] = json_integer_value(json_object_get(row, "id"));
        }
        json_decref(b.page);
        if (b.n_ids > 0) {
            rc = orm_transact(p->db, ORM_TX_WRITE, purge_delete_work, &b);
            if (rc != USV_OK) {
                log_warn("idempotency", "purge: cannot delete keys (%s)", usv_err_name(rc));
                break;
            }
            purged += b.n_ids;
        }
        if (is_young || !b.has_more || b.n_ids == 0)
            break;
    }
    if (purged > 0)
        log_info("idempotency", "purged %llu expired idempotency keys",
                 (unsigned long long)purged);
}

static void *
purge_main(void *arg)
{
    struct idem_purger *p = arg;
    long every_s = p->ttl_s / 10;

    if (every_s < 1)
        every_s = 1;
    if (every_s > 60)
        every_s = 60;
    for (;;) {
        struct timespec until = monotonic_deadline((unsigned)every_s * 1000u);
        bool is_stopping;

        xlock(&p->mu);
        while (!p->is_stopping &&
               pthread_cond_timedwait(&p->cond, &p->mu, &until) == 0)
            ;
        is_stopping = p->is_stopping;
        xunlock(&p->mu);
        if (is_stopping)
            break;
        /* 20 batches of 50 per round: 1000 keys per minute at most by
         * default, enough for 1.4 million keys a day; more waits a round. */
        purge_once(p, 20);
    }
    return NULL;
}

enum usv_err
idem_purger_start(struct orm_db *db, long ttl_s, struct idem_purger **out)
{
    struct idem_purger *p = xcalloc(1, sizeof(*p));
    pthread_condattr_t attr;

    p->db = db;
    p->ttl_s = ttl_s;
    if (pthread_mutex_init(&p->mu, NULL) != 0 || pthread_condattr_init(&attr) != 0 ||
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) != 0 ||
        pthread_cond_init(&p->cond, &attr) != 0)
        abort();
    pthread_condattr_destroy(&attr);
    if (pthread_create(&p->thread, NULL, purge_main, p) != 0) {
        pthread_cond_destroy(&p->cond);
        pthread_mutex_destroy(&p->mu);
        free(p);
        return USV_INTERNAL;
    }
    *out = p;
    return USV_OK;
}

void
idem_purger_stop(struct idem_purger *p)
{
    if (p == NULL)
        return;
    xlock(&p->mu);
    p->is_stopping = true;
    pthread_cond_signal(&p->cond);
    xunlock(&p->mu);
    pthread_join(p->thread, NULL);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
