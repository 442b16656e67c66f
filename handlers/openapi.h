/* SPDX-License-Identifier: MIT
 * openapi.h - GET /openapi.json: the OpenAPI 3.1 description of this API.
 *
 * The document is the repository's openapi.json, embedded in the binary at
 * build time (handlers/embed_file.py), so the binary needs no source tree
 * and the document served is always the one the binary was built with.
 * Thread-safety: handlers run concurrently; nothing is shared but the
 * constant embedded text. */
#ifndef USERSVC_HANDLERS_OPENAPI_H
#define USERSVC_HANDLERS_OPENAPI_H

#include <jansson.h>

#include "base/err.h"
#include "http/http.h"

/* GET /openapi.json. *@out is a new reference: the document parsed from the
 * embedded text (USV_INTERNAL, logged, if that text is not JSON). */
enum usv_err openapi_get(struct http_req *req, json_t **out);

#endif
