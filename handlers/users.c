/* SPDX-License-Identifier: MIT
 * users.c - the user resource (API.md "The user resource").
 *
 * The model below is the only description of a user: the ORM validates
 * request bodies against it, generates SQL from it and maps rows back to
 * JSON through it. Handlers only sequence the steps; they hold no SQL. */
#include "handlers/users.h"

#include <stdio.h>
#include <string.h>

#include "handlers/app.h"
#include "orm/orm.h"
#include "http/etag.h"
#include "base/util.h"

#define LOGIN_RULE "must be 1-30 characters of A-Z a-z 0-9 . _ -"
#define NAME_RULE  "must be at most 30 characters, without control characters"

static const struct orm_column users_columns[] = {
    {.name = "id", .type = ORM_INT64, .flags = ORM_PK | ORM_READONLY},
    {.name = "login", .type = ORM_TEXT,
     .flags = ORM_REQUIRED | ORM_UNIQUE | ORM_NOCASE,
     .min_chars = 1, .max_chars = 30, .char_ok = orm_char_login, .rule = LOGIN_RULE},
    {.name = "first_name", .type = ORM_TEXT, .flags = ORM_NULLABLE,
     .max_chars = 30, .char_ok = orm_char_not_control, .rule = NAME_RULE},
    {.name = "last_name", .type = ORM_TEXT, .flags = ORM_NULLABLE,
     .max_chars = 30, .char_ok = orm_char_not_control, .rule = NAME_RULE},
    {.name = "created_at", .type = ORM_TIMESTAMP, .flags = ORM_READONLY | ORM_CREATED_AT},
    {.name = "updated_at", .type = ORM_TIMESTAMP, .flags = ORM_READONLY | ORM_UPDATED_AT},
};

const struct orm_model users_model = {
    .table = "users",
    .singular = "user",
    .columns = users_columns,
    .n_columns = sizeof(users_columns) / sizeof(users_columns[0]),
};

/* What one request asks of the database. orm_transact() may run a work
 * function more than once (on a transient failure), so each one drops a
 * result left by an earlier try before storing a new one. */
struct user_op {
    int64_t id;
    json_t *input;            /* borrowed: the validated body */
    enum usv_err input_rc;    /* the body's verdict, reported after 404/412 */
    const char *if_match;     /* borrowed header, or NULL */
    struct orm_page page;
    bool has_more;
    json_t *result;           /* new: a row, or a list of rows */
};

static void
reset_result(struct user_op *op)
{
    json_decref(op->result);
    op->result = NULL;
}

static enum usv_err
insert_work(struct orm_session *s, void *arg)
{
    struct user_op *op = arg;

    reset_result(op);
    return orm_insert(s, &users_model, op->input, &op->result);
}

static enum usv_err
find_work(struct orm_session *s, void *arg)
{
    struct user_op *op = arg;

    reset_result(op);
    return orm_find(s, &users_model, op->id, false, &op->result);
}

static enum usv_err
list_work(struct orm_session *s, void *arg)
{
    struct user_op *op = arg;

    reset_result(op);
    return orm_find_many(s, &users_model, &op->page, &op->result, &op->has_more);
}

/* Lock the user and check If-Match: API.md's order is 404, then 412. The
 * tag is computed only when asked for (it costs a serialization). */
static enum usv_err
lock_and_check(struct orm_session *s, struct user_op *op, json_t **current)
{
    char etag[ETAG_SIZE];
    enum usv_err rc = orm_find(s, &users_model, op->id, true, current);

    if (rc != USV_OK || op->if_match == NULL)
        return rc;
    etag_of(*current, etag);
    return etag_if_match(op->if_match, etag) ? USV_OK : USV_PRECONDITION;
}

static enum usv_err
update_work(struct orm_session *s, void *arg)
{
    struct user_op *op = arg;
    json_t *current = NULL;
    enum usv_err rc;

    reset_result(op);
    rc = lock_and_check(s, op, &current);
    if (rc == USV_OK)
        rc = op->input_rc;    /* then the body's own errors: 415/413/400/422 */
    if (rc == USV_OK)
        rc = orm_update(s, &users_model, current, op->input, &op->result);
    json_decref(current);
    return rc;
}

static enum usv_err
delete_work(struct orm_session *s, void *arg)
{
    struct user_op *op = arg;
    json_t *current = NULL;
    enum usv_err rc = lock_and_check(s, op, &current);

    if (rc == USV_OK)
        rc = orm_delete(s, &users_model, op->id);
    json_decref(current);
    return rc;
}

/* Wrap a validation error list as the problem body's "errors" member. */
static json_t *
errors_member(json_t *errors)
{
    return json_pack("{s:o}", "errors", errors);
}

/* Details for the statuses a user operation can end in. */
static void
explain(struct http_req *req, enum usv_err rc, int64_t id)
{
    if (rc == USV_NOT_FOUND)
        http_req_set_detail(req, "no user with id %lld", (long long)id);
    else if (rc == USV_CONFLICT)
        http_req_set_detail(req, "login is already taken");
    else if (rc == USV_PRECONDITION)
        http_req_set_detail(req, "If-Match does not match the user's current ETag");
}

/* Send @user (taken) with its ETag. The user is serialized once and the
 * tag is taken over exactly the bytes sent. If @if_none_match (a GET's
 * header, or NULL) matches the tag, the answer is 304: the ETag header
 * without the body. */
static enum usv_err
reply_user(struct http_req *req, json_t *user, const char *if_none_match)
{
    char etag[ETAG_SIZE];
    const char *text;
    size_t len;
    enum usv_err rc = http_req_reply_json(req, user, &text, &len);

    json_decref(user);
    if (rc != USV_OK)
        return rc;
    etag_of_text(text, len, etag);
    http_req_add_header(req, "ETag", etag);
    if (if_none_match != NULL && etag_if_none_match(if_none_match, etag))
        return USV_NOT_MODIFIED;
    return USV_OK;
}

enum usv_err
users_create(struct http_req *req, json_t **out)
{
    struct user_op op = {0};
    json_t *body = NULL, *errors = NULL;
    char location[48];
    enum usv_err rc;

    rc = http_req_json_body(req, NULL, &body);
    if (rc != USV_OK)
        return rc;
    rc = orm_validate(&users_model, body, ORM_FOR_CREATE, &errors);
    if (rc == USV_INVALID) {
        *out = errors_member(errors);
        return rc;
    }
    op.input = body;
    rc = orm_transact(app_db(req), ORM_TX_STATEMENT, insert_work, &op);
    if (rc != USV_OK) {
        explain(req, rc, 0);
        json_decref(op.result);
        return rc;
    }
    snprintf(location, sizeof(location), "/users/%lld",
             (long long)json_integer_value(json_object_get(op.result, "id")));
    http_req_set_status(req, 201);
    http_req_add_header(req, "Location", location);
    return reply_user(req, op.result, NULL);
}

enum usv_err
users_get(struct http_req *req, json_t **out)
{
    struct user_op op = {0};
    enum usv_err rc;

    if (!http_req_path_id(req, &op.id))
        return USV_NOT_FOUND;   /* API.md: a malformed id is a 404 */
    rc = orm_transact(app_db(req), ORM_TX_READ_REPLICA, find_work, &op);
    if (rc != USV_OK) {
        explain(req, rc, op.id);
        json_decref(op.result);
        return rc;
    }
    return reply_user(req, op.result, http_req_header(req, "If-None-Match"));
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
users_list(struct http_req *req, json_t **out)
{
    static const char *const names[] = {"limit", "after", "login", NULL};
    const char *values[3];
    struct user_op op = {.page = {.after = 0, .limit = 20}};
    json_t *probe = NULL, *errors = NULL, *next = json_null();
    long limit = 20;
    char link[96], target[64];
    enum usv_err rc;

    rc = http_req_query(req, names, values);
    if (rc != USV_OK)
        return rc;
    if (values[0] != NULL && !parse_long(values[0], 1, 100, &limit)) {
        http_req_set_detail(req, "query parameter 'limit' must be an integer from 1 to 100");
        return USV_BAD_REQUEST;
    }
    if (values[1] != NULL && !parse_after(values[1], &op.page.after)) {
        http_req_set_detail(req, "query parameter 'after' must be a user id");
        return USV_BAD_REQUEST;
    }
    op.page.limit = (unsigned)limit;
    if (values[2] != NULL) {
        /* A login the model would reject cannot match any user. */
        probe = json_pack("{s:s}", "login", values[2]);
        if (probe == NULL || orm_validate(&users_model, probe, ORM_FOR_UPDATE, &errors) !=
                                 USV_OK) {
            json_decref(probe);
            json_decref(errors);
            *out = json_pack("{s:[], s:n}", "items", "next");
            return *out != NULL ? USV_OK : USV_NOMEM;
        }
        json_decref(probe);
        op.page.column = "login";
        op.page.value = values[2];
    }
    rc = orm_transact(app_db(req), ORM_TX_READ, list_work, &op);
    if (rc != USV_OK) {
        json_decref(op.result);
        return rc;
    }
    if (op.has_more) {
        json_t *last = json_array_get(op.result, json_array_size(op.result) - 1);

        snprintf(target, sizeof(target), "/users?after=%lld&limit=%u",
                 (long long)json_integer_value(json_object_get(last, "id")), op.page.limit);
        snprintf(link, sizeof(link), "<%s>; rel=\"next\"", target);
        http_req_add_header(req, "Link", link);
        next = json_string(target);
    }
    *out = json_pack("{s:o, s:o}", "items", op.result, "next", next);
    return *out != NULL ? USV_OK : USV_NOMEM;
}

static const char *const patch_media_types[] = {"application/merge-patch+json", NULL};

enum usv_err
users_patch(struct http_req *req, json_t **out)
{
    struct user_op op = {0};
    json_t *body = NULL, *errors = NULL;
    enum usv_err rc;

    if (!http_req_path_id(req, &op.id))
        return USV_NOT_FOUND;
    op.if_match = http_req_header(req, "If-Match");
    /* The body is judged now but its verdict waits: 404 and 412 come first. */
    op.input_rc = http_req_json_body(req, patch_media_types, &body);
    if (op.input_rc == USV_OK)
        op.input_rc = orm_validate(&users_model, body, ORM_FOR_UPDATE, &errors);
    op.input = body;
    rc = orm_transact(app_db(req), ORM_TX_WRITE, update_work, &op);
    if (rc == USV_INVALID)
        *out = errors_member(errors);
    else
        json_decref(errors);
    if (rc != USV_OK) {
        explain(req, rc, op.id);
        json_decref(op.result);
        return rc;
    }
    return reply_user(req, op.result, NULL);
}

enum usv_err
users_delete(struct http_req *req, json_t **out)
{
    struct user_op op = {0};
    enum usv_err rc;

    if (!http_req_path_id(req, &op.id))
        return USV_NOT_FOUND;
    op.if_match = http_req_header(req, "If-Match");
    rc = orm_transact(app_db(req), ORM_TX_WRITE, delete_work, &op);
    if (rc != USV_OK) {
        explain(req, rc, op.id);
        return rc;
    }
    http_req_set_status(req, 204);
    return USV_OK;
}
