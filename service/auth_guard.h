/* SPDX-License-Identifier: MIT
 * auth_guard.h - the HTTP layer's access control over auth/: bearer
 * tokens (RFC 6750) and the scopes routes name.
 *
 * The composition root puts auth_guard() and its struct auth into struct
 * http_opts; http/ then asks it about each request on a guarded route and
 * knows nothing of tokens, auth/ nothing of HTTP.
 * Thread-safety: as auth_check(): any thread. */
#ifndef USERSVC_SERVICE_AUTH_GUARD_H
#define USERSVC_SERVICE_AUTH_GUARD_H

#include "base/err.h"

struct http_req;

/* struct http_opts' guard: @auth is the struct auth of AUTH_JWKS_FILE.
 * USV_OK (the subject recorded), or USV_UNAUTHORIZED / USV_FORBIDDEN with
 * WWW-Authenticate and a detail that never repeats the token. */
enum usv_err auth_guard(void *auth, struct http_req *req, const char *scope);

#endif
