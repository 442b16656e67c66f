/* SPDX-License-Identifier: MIT
 * auth_guard.c - see auth_guard.h. RFC 6750 section 3: no credentials get
 * a bare challenge; a token that fails any check gets
 * error="invalid_token" (which check is logged at debug level by auth/,
 * never told to the client); a valid token without the scope gets 403
 * error="insufficient_scope" naming the scope. */
#include "service/auth_guard.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "auth/auth.h"
#include "http/http.h"

#define REALM "Bearer realm=\"usersvc\""

enum usv_err
auth_guard(void *auth, struct http_req *req, const char *scope)
{
    char subject[JWT_SUBJECT_MAX + 1];
    char challenge[160];
    enum auth_result r;

    r = auth_check(auth, http_req_header(req, "Authorization"),
                   jwt_parse_scopes(scope, strlen(scope)), (int64_t)time(NULL), subject);
    if (subject[0] != '\0')
        http_req_set_subject(req, subject);
    switch (r) {
    case AUTH_OK:
        return USV_OK;
    case AUTH_NO_TOKEN:
        http_req_add_header(req, "WWW-Authenticate", REALM);
        http_req_set_detail(req, "this resource needs an Authorization: Bearer token");
        return USV_UNAUTHORIZED;
    case AUTH_NO_SCOPE:
        snprintf(challenge, sizeof(challenge),
                 REALM ", error=\"insufficient_scope\", scope=\"%s\"", scope);
        http_req_add_header(req, "WWW-Authenticate", challenge);
        http_req_set_detail(req, "the bearer token lacks the scope %s", scope);
        return USV_FORBIDDEN;
    case AUTH_INVALID:
    default:
        http_req_add_header(req, "WWW-Authenticate", REALM ", error=\"invalid_token\"");
        http_req_set_detail(req, "the bearer token is not valid (malformed, expired, not yet"
                            " valid, for another issuer or audience, or not signed by a"
                            " trusted key)");
        return USV_UNAUTHORIZED;
    }
}
