/* SPDX-License-Identifier: MIT
 * router.h - match (method, path) against the route table.
 * Thread-safety: pure functions over constant tables. */
#ifndef USERSVC_SERVICE_ROUTER_H
#define USERSVC_SERVICE_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

#include "base/strbuf.h"
#include "base/err.h"
#include "http/http.h"

/* Does @path match @pattern exactly? A "{…}" in the pattern matches one
 * non-empty path segment, returned through @param/@param_len (pointing into
 * @path). "/users/7/" does not match "/users/{id}". */
bool router_match(const char *pattern, const char *path, const char **param,
                  size_t *param_len);

/* Find the route for @method (HEAD counts as GET) and @path. USV_OK with
 * *@route and the segment; USV_NOT_FOUND when no pattern matches the path;
 * USV_BAD_METHOD when some do, with their methods appended to @allow
 * ("GET, HEAD, POST"). */
enum usv_err router_find(const struct route *routes, size_t n_routes, const char *method,
                         const char *path, const struct route **route, const char **param,
                         size_t *param_len, struct strbuf *allow);

#endif
