/* SPDX-License-Identifier: MIT
 * models.h - test-only models and resources: proof that a model, its
 * migration and five one-line routes are all a new resource takes.
 *
 * widgets: a small resource with a case-insensitive unique name.
 * wide: 14 writable columns (c01-c12 plus the unique code and tag), past
 * what per-mask statements built up front could hold, for the ORM's
 * UPDATE-per-changed-column-set texts and its conflict column.
 * Their tables come from tests/resource/migrations/, embedded as
 * test_migrations (the product's set followed by these), never shipped.
 * Thread-safety: constant data; handlers as in handlers/resource.h. */
#ifndef USERSVC_TESTS_RESOURCE_MODELS_H
#define USERSVC_TESTS_RESOURCE_MODELS_H

#include <jansson.h>
#include <stddef.h>

#include "base/err.h"
#include "http/http.h"
#include "orm/migrations.h"
#include "orm/model.h"

#define WIDE_N_TEXT 12   /* c01 ... c12 */

extern const struct orm_model widgets_model;
extern const struct orm_model wide_model;

/* The product's migrations followed by the test-only ones. */
extern const struct migration test_migrations[];
extern const size_t n_test_migrations;

enum usv_err widgets_create(struct http_req *req, json_t **out);
enum usv_err widgets_get(struct http_req *req, json_t **out);
enum usv_err widgets_list(struct http_req *req, json_t **out);
enum usv_err widgets_patch(struct http_req *req, json_t **out);
enum usv_err widgets_delete(struct http_req *req, json_t **out);

enum usv_err wide_create(struct http_req *req, json_t **out);
enum usv_err wide_get(struct http_req *req, json_t **out);
enum usv_err wide_list(struct http_req *req, json_t **out);
enum usv_err wide_patch(struct http_req *req, json_t **out);
enum usv_err wide_delete(struct http_req *req, json_t **out);

#endif
