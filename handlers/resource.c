/* SPDX-License-Identifier: MIT
 * resource.c - see resource.h.
 *
 * Each handler sequences the same steps for any model: read and judge the
 * request, run one work function in an ORM session (orm_transact() may run
 * it again on a transient failure, so each drops a result left by an
 * earlier try before storing a new one), then shape the answer. Nothing
 * here names a table, a column or a resource: the model and the struct
 * resource say it all. */
#include "handlers/resource.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "handlers/app.h"
#include "handlers/idempotency.h"
#include "http/etag.h"
#include "orm/orm.h"

/* What one request asks of the database. */
struct res_op {
    const struct resource *res;
    int64_t id;
    json_t *input;            /* borrowed: the validated body */
    enum usv_err input_rc;    /* the body's verdict, reported after 404/412 */
    const char *if_match;     /* borrowed header, or NULL */
    struct orm_page page;
    bool has_more;
    json_t *result;           /* new: a row, or a list of rows */
    char *text;               /* new: a row as JSON text (GET; a keyed create's body as sent) */
    size_t text_len;
    const struct orm_column *conflict;  /* the unique column a write collided on */
    const struct idem_key *key;         /* a keyed create's Idempotency-Key, or NULL */
    bool is_key_taken;                  /* ... whose response another request stored */
    char location[160];                 /* ... and its Location */
};

/* The member path of @row: "/users/7" (API.md: Location is relative). */
static void
location_of(const struct resource *res, const json_t *row, char out[160])
{
    const struct orm_column *pk = orm_model_pk(res->model);

    snprintf(out, 160, "%s/%lld", res->path,
             (long long)json_integer_value(json_object_get(row, pk->name)));
}

static void
reset_result(struct res_op *op)
{
    json_decref(op->result);
    op->result = NULL;
}

static enum usv_err
insert_work(struct orm_session *s, void *arg)
{
    struct res_op *op = arg;

    enum usv_err rc;

    reset_result(op);
    rc = orm_insert(s, op->res->model, op->input, &op->result);
    if (rc == USV_CONFLICT)
        op->conflict = orm_conflict_column(s, op->res->model);
    return rc;
}

/* A create with an Idempotency-Key: the row and its response, stored in
 * one transaction. Batched one-statement sessions cannot carry two
 * statements (a PostgreSQL pipeline commits each on its own), so keyed
 * creates run as a session transaction on a pooled connection: two
 * round trips more than an unkeyed create, paid only by requests that ask
 * for a key, and no change to the batching of the others. */
static enum usv_err
insert_keyed_work(struct orm_session *s, void *arg)
{
    struct res_op *op = arg;
    enum usv_err rc;

    reset_result(op);
    free(op->text);
    op->text = NULL;
    op->is_key_taken = false;
    rc = orm_insert(s, op->res->model, op->input, &op->result);
    if (rc == USV_CONFLICT)
        op->conflict = orm_conflict_column(s, op->res->model);
    if (rc != USV_OK)
        return rc;
    /* The bytes stored are the bytes sent, so a replay is byte for byte. */
    op->text = json_dumps(op->result, JSON_COMPACT);
    if (op->text == NULL)
        return USV_NOMEM;
    location_of(op->res, op->result, op->location);
    rc = idem_store(s, op->key, 201, op->location, op->text);
    op->is_key_taken = rc == USV_CONFLICT;
    return rc;
}

static enum usv_err
list_work(struct orm_session *s, void *arg)
{
    struct res_op *op = arg;

    reset_result(op);
    return orm_find_many(s, op->res->model, &op->page, &op->result, &op->has_more);
}

/* Lock the row and check If-Match: API.md's order is 404, then 412. The
 * tag is computed only when asked for (it costs a serialization). */
static enum usv_err
lock_and_check(struct orm_session *s, struct res_op *op, json_t **current)
{
    char etag[ETAG_SIZE];
    enum usv_err rc = orm_find(s, op->res->model, op->id, true, current);

    if (rc != USV_OK || op->if_match == NULL)
        return rc;
    etag_of(*current, etag);
    return etag_if_match(op->if_match, etag) ? USV_OK : USV_PRECONDITION;
}

static enum usv_err
update_work(struct orm_session *s, void *arg)
{
    struct res_op *op = arg;
    json_t *current = NULL;
    enum usv_err rc;

    reset_result(op);
    rc = lock_and_check(s, op, &current);
    if (rc == USV_OK)
        rc = op->input_rc;    /* then the body's own errors: 415/413/400/422 */
    if (rc == USV_OK)
        rc = orm_update(s, op->res->model, current, op->input, &op->result);
    if (rc == USV_CONFLICT)
        op->conflict = orm_conflict_column(s, op->res->model);
    json_decref(current);
    return rc;
}

static enum usv_err
delete_work(struct orm_session *s, void *arg)
{
    struct res_op *op = arg;
    json_t *current = NULL;
    enum usv_err rc = lock_and_check(s, op, &current);

    if (rc == USV_OK)
        rc = orm_delete(s, op->res->model, op->id);
    json_decref(current);
    return rc;
}

/* Wrap a validation error list as the problem body's "errors" member. */
static json_t *
errors_member(json_t *errors)
{
    return json_pack("{s:o}", "errors", errors);
}

/* Details, in the model's words, for the statuses an operation can end
 * in; the others keep their default detail (base/err.h). */
static void
explain(struct http_req *req, const struct res_op *op, enum usv_err rc)
{
    const struct orm_model *m = op->res->model;

    if (rc == USV_NOT_FOUND)
        http_req_set_detail(req, "no %s with id %lld", m->singular, (long long)op->id);
    else if (rc == USV_CONFLICT && op->conflict != NULL && op->conflict->taken != NULL)
        http_req_set_detail(req, "%s", op->conflict->taken);
    else if (rc == USV_CONFLICT && op->conflict != NULL)
        http_req_set_detail(req, "%s is already taken", op->conflict->name);
    else if (rc == USV_PRECONDITION)
        http_req_set_detail(req, "If-Match does not match the %s's current ETag", m->singular);
}

/* GET's read: the row as JSON text, written without a jansson object. */
static enum usv_err
find_text_work(struct orm_session *s, void *arg)
{
    struct res_op *op = arg;

    free(op->text);
    op->text = NULL;
    return orm_find_text(s, op->res->model, op->id, &op->text, &op->text_len);
}

/* The ETag of the body @text (@len bytes), taken over exactly the bytes
 * sent. If @if_none_match (a GET's header, or NULL) matches the tag, the
 * answer is 304: the ETag header without the body. */
static enum usv_err
tag_body(struct http_req *req, const char *text, size_t len, const char *if_none_match)
{
    char etag[ETAG_SIZE];

    etag_of_text(text, len, etag);
    http_req_add_header(req, "ETag", etag);
    if (if_none_match != NULL && etag_if_none_match(if_none_match, etag))
        return USV_NOT_MODIFIED;
    return USV_OK;
}

/* Send @text (taken, @len bytes of JSON) with its ETag (tag_body()). */
static enum usv_err
reply_text(struct http_req *req, char *text, size_t len, const char *if_none_match)
{
    http_req_reply_text(req, text, len, "application/json");
    return tag_body(req, text, len, if_none_match);
}

/* Send @row (taken), serialized once, with its ETag (tag_body()). */
static enum usv_err
reply_row(struct http_req *req, json_t *row, const char *if_none_match)
{
    const char *text;
    size_t len;
    enum usv_err rc = http_req_reply_json(req, row, &text, &len);

    json_decref(row);
    if (rc != USV_OK)
        return rc;
    return tag_body(req, text, len, if_none_match);
}

/* POST with an Idempotency-Key (API.md "Idempotent retries"): a stored
 * response is replayed; otherwise the row and its response are written in
 * one transaction. When that collides (the login, or the key itself,
 * taken by a concurrent request with the same key that committed first),
 * the stored response is looked up again: it is the answer if there is
 * one, so a retry never gets 409 for its own write. */
static enum usv_err
create_keyed(const struct resource *res, struct http_req *req, json_t *body,
             struct idem_key *key, json_t **out)
{
    struct res_op op = {.res = res, .input = body, .key = key};
    struct orm_db *db = app_db(req);
    enum usv_err rc;

    idem_key_fingerprint(req, res->path, key);
    rc = idem_claim(req, key);
    if (rc != USV_OK)
        return rc;
    rc = idem_replay(req, db, key);
    if (rc != USV_NOT_FOUND)
        goto out;
    rc = orm_transact(db, ORM_TX_WRITE, insert_keyed_work, &op);
    if (rc == USV_CONFLICT) {
        enum usv_err stored = idem_replay(req, db, key);

        if (stored != USV_NOT_FOUND) {
            rc = stored;
            goto out;
        }
    }
    if (rc == USV_CONFLICT && op.is_key_taken) {
        /* Stored by another request, and gone again (purged) or unseen. */
        http_req_set_detail(req, "a request with this Idempotency-Key is still running");
        http_req_add_header(req, "Retry-After", "1");
        goto out;
    }
    if (rc != USV_OK) {
        explain(req, &op, rc);
        goto out;
    }
    http_req_set_status(req, 201);
    http_req_add_header(req, "Location", op.location);
    rc = reply_text(req, op.text, strlen(op.text), NULL);
    op.text = NULL;           /* taken */
out:
    /* A 422 lists what is wrong (API.md): here the key, not a field. */
    if (rc == USV_INVALID)
        *out = json_pack("{s:[{s:s, s:s}]}", "errors", "field", "Idempotency-Key", "message",
                         "was used with another request body");
    idem_release(key);
    json_decref(op.result);
    free(op.text);
    return rc;
}

enum usv_err
resource_create(const struct resource *res, struct http_req *req, json_t **out)
{
    struct res_op op = {.res = res};
    json_t *body = NULL, *errors = NULL;
    struct idem_key key = {.is_claimed = false};
    bool has_key = false;
    enum usv_err rc;

    if (res->is_idempotent) {
        rc = idem_key_read(req, &key, &has_key);
        if (rc != USV_OK)
            return rc;
    }
    rc = http_req_json_body(req, NULL, &body);
    if (rc != USV_OK)
        return rc;
    rc = orm_validate(res->model, body, ORM_FOR_CREATE, &errors);
    if (rc == USV_INVALID) {
        *out = errors_member(errors);
        return rc;
    }
    if (has_key)
        return create_keyed(res, req, body, &key, out);
    op.input = body;
    rc = orm_transact(app_db(req), ORM_TX_STATEMENT, insert_work, &op);
    if (rc != USV_OK) {
        explain(req, &op, rc);
        json_decref(op.result);
        return rc;
    }
    location_of(res, op.result, op.location);
    http_req_set_status(req, 201);
    http_req_add_header(req, "Location", op.location);
    return reply_row(req, op.result, NULL);
}

enum usv_err
resource_get(const struct resource *res, struct http_req *req, json_t **out)
{
    struct res_op op = {.res = res};
    enum usv_err rc;

    if (!http_req_path_id(req, &op.id))
        return USV_NOT_FOUND;   /* API.md: a malformed id is a 404 */
    rc = orm_transact(app_db(req), ORM_TX_READ_REPLICA, find_text_work, &op);
    if (rc != USV_OK) {
        explain(req, &op, rc);
        free(op.text);
        return rc;
    }
    return reply_text(req, op.text, op.text_len, http_req_header(req, "If-None-Match"));
}

/* "after": an id, or 0 for "from the start"; leading zeros allowed. */
static bool
parse_after(const char *s, int64_t *out)
{
    if (s[strspn(s, "0")] == '\0') {
        *out = 0;
        return true;
    }
    return parse_id(s, strlen(s), out);
}

enum usv_err
resource_list(const struct resource *res, struct http_req *req, json_t **out)
{
    const char *names[] = {"limit", "after", res->filter, NULL};
    const char *values[3];
    struct res_op op = {.res = res, .page = {.after = 0, .limit = 20}};
    const struct orm_column *pk = orm_model_pk(res->model);
    json_t *probe = NULL, *errors = NULL, *next = json_null();
    long limit = 20;
    char link[256], target[192];
    enum usv_err rc;

    rc = http_req_query(req, names, values);
    if (rc != USV_OK)
        return rc;
    if (values[0] != NULL && !parse_long(values[0], 1, 100, &limit)) {
        http_req_set_detail(req, "query parameter 'limit' must be an integer from 1 to 100");
        return USV_BAD_REQUEST;
    }
    if (values[1] != NULL && !parse_after(values[1], &op.page.after)) {
        http_req_set_detail(req, "query parameter 'after' must be a %s id",
                            res->model->singular);
        return USV_BAD_REQUEST;
    }
    op.page.limit = (unsigned)limit;
    if (res->filter != NULL && values[2] != NULL) {
        /* A value the model would reject cannot match any row. */
        probe = json_pack("{s:s}", res->filter, values[2]);
        if (probe == NULL || orm_validate(res->model, probe, ORM_FOR_UPDATE, &errors) !=
                                 USV_OK) {
            json_decref(probe);
            json_decref(errors);
            *out = json_pack("{s:[], s:n}", "items", "next");
            return *out != NULL ? USV_OK : USV_NOMEM;
        }
        json_decref(probe);
        op.page.column = res->filter;
        op.page.value = values[2];
    }
    rc = orm_transact(app_db(req), ORM_TX_READ, list_work, &op);
    if (rc != USV_OK) {
        json_decref(op.result);
        return rc;
    }
    if (op.has_more) {
        json_t *last = json_array_get(op.result, json_array_size(op.result) - 1);

        snprintf(target, sizeof(target), "%s?after=%lld&limit=%u", res->path,
                 (long long)json_integer_value(json_object_get(last, pk->name)),
                 op.page.limit);
        snprintf(link, sizeof(link), "<%s>; rel=\"next\"", target);
        http_req_add_header(req, "Link", link);
        next = json_string(target);
    }
    *out = json_pack("{s:o, s:o}", "items", op.result, "next", next);
    return *out != NULL ? USV_OK : USV_NOMEM;
}

static const char *const patch_media_types[] = {"application/merge-patch+json", NULL};

enum usv_err
resource_patch(const struct resource *res, struct http_req *req, json_t **out)
{
    struct res_op op = {.res = res};
    json_t *body = NULL, *errors = NULL;
    enum usv_err rc;

    if (!http_req_path_id(req, &op.id))
        return USV_NOT_FOUND;
    op.if_match = http_req_header(req, "If-Match");
    /* The body is judged now but its verdict waits: 404 and 412 come first. */
    op.input_rc = http_req_json_body(req, patch_media_types, &body);
    if (op.input_rc == USV_OK)
        op.input_rc = orm_validate(res->model, body, ORM_FOR_UPDATE, &errors);
    op.input = body;
    rc = orm_transact(app_db(req), ORM_TX_WRITE, update_work, &op);
    if (rc == USV_INVALID)
        *out = errors_member(errors);
    else
        json_decref(errors);
    if (rc != USV_OK) {
        explain(req, &op, rc);
        json_decref(op.result);
        return rc;
    }
    return reply_row(req, op.result, NULL);
}

enum usv_err
resource_delete(const struct resource *res, struct http_req *req, json_t **out)
{
    struct res_op op = {.res = res};
    enum usv_err rc;

    if (!http_req_path_id(req, &op.id))
        return USV_NOT_FOUND;
    op.if_match = http_req_header(req, "If-Match");
    rc = orm_transact(app_db(req), ORM_TX_WRITE, delete_work, &op);
    if (rc != USV_OK) {
        explain(req, &op, rc);
        return rc;
    }
    http_req_set_status(req, 204);
    return USV_OK;
}
