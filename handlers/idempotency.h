/* SPDX-License-Identifier: MIT
 * idempotency.h - Idempotency-Key on POST (API.md "Idempotent retries").
 *
 * A POST with an Idempotency-Key stores its response (status, Location,
 * body) in the key table, in the same transaction as the row it created
 * (idem_store(), called from the handler's write session), so "created"
 * and "remembered" can never disagree. A later request with the key gets
 * the stored response again (idem_replay()), with Idempotency-Replayed:
 * true, and runs nothing. The key table is a model like users
 * (idempotency_model, migration 0003); the unique index on the key's
 * digest decides between concurrent requests with one key, across
 * instances. Within one instance a second request with a key that is
 * still running is answered 409 at once (idem_claim()), instead of waiting
 * on the first one's row lock. Keys are scoped by the caller's subject
 * (the bearer token's "sub" when authentication is on), so two clients
 * cannot see each other's responses. A purge thread forgets keys older
 * than IDEMPOTENCY_TTL_S, in small batches, off the request path.
 * Thread-safety: every function may run on any thread; a struct idem_key
 * belongs to one request. */
#ifndef USERSVC_HANDLERS_IDEMPOTENCY_H
#define USERSVC_HANDLERS_IDEMPOTENCY_H

#include <stdbool.h>

#include "base/err.h"
#include "http/http.h"
#include "orm/orm.h"

/* The table of stored responses. */
extern const struct orm_model idempotency_model;

#define IDEM_KEY_MAX 255          /* characters of an Idempotency-Key */
#define IDEM_HEX_LEN 64           /* a SHA-256 in hex */

struct idem_key {
    char digest[IDEM_HEX_LEN + 1];       /* SHA-256 of subject, NUL, key */
    char fingerprint[IDEM_HEX_LEN + 1];  /* SHA-256 of method, NUL, path, NUL, body */
    /* private: the in-process registry of running keys (idem_claim()) */
    bool is_claimed;
    struct idem_key *next;
};

/* Read @req's Idempotency-Key into @k. *@has_key is false when there is
 * none. USV_BAD_REQUEST (with a detail) for a key that is not 1-255
 * printable ASCII characters. */
enum usv_err idem_key_read(struct http_req *req, struct idem_key *k, bool *has_key);

/* Take the fingerprint of a POST to @path with @req's body into @k: call
 * it once the body has been read and judged (http_req_json_body()). */
void idem_key_fingerprint(struct http_req *req, const char *path, struct idem_key *k);

/* Mark @k running in this process. USV_CONFLICT (detail and Retry-After
 * set on @req) when a request with the same key runs here already. Every
 * USV_OK is paired with idem_release(). */
enum usv_err idem_claim(struct http_req *req, struct idem_key *k);
void idem_release(struct idem_key *k);   /* accepts an unclaimed key */

/* Answer @req with the response stored for @k, if any: USV_OK and the
 * stored status, Location, body and its ETag queued, with
 * Idempotency-Replayed: true; USV_NOT_FOUND when nothing is stored;
 * USV_INVALID (with a detail) when the key was used with another request;
 * or the session's error. Runs its own read session on the primary. */
enum usv_err idem_replay(struct http_req *req, struct orm_db *db, const struct idem_key *k);

/* In @s (a write session, after the write it answers): store @status,
 * @location (may be NULL) and @body (the exact bytes to send) for @k.
 * USV_CONFLICT when the key is stored already (a concurrent request with
 * it committed first): the session must roll back. */
enum usv_err idem_store(struct orm_session *s, const struct idem_key *k, unsigned status,
                        const char *location, const char *body);

/* The purge: a thread that deletes keys older than @ttl_s from @db
 * (borrowed until idem_purger_stop()), every min(@ttl_s / 10, 60) seconds
 * (at least 1), in batches of at most IDEM_PURGE_BATCH rows each in its own
 * short transaction. It never deletes a key younger than @ttl_s. */
#define IDEM_PURGE_BATCH 50
struct idem_purger;
enum usv_err idem_purger_start(struct orm_db *db, long ttl_s, struct idem_purger **out);
void idem_purger_stop(struct idem_purger *p);   /* joins the thread; accepts NULL */

#endif
