/* SPDX-License-Identifier: MIT
 * url.h - parse database URLs: scheme://[user[:password]@]host[:port][/path][?k=v&...]
 *
 * A deliberately small subset of RFC 3986 for connection strings, used by
 * backend_mysql.c. What it decides, so callers and users need not guess:
 *  - the scheme is required and returned lower-cased; "//" must follow it;
 *  - user, password, path and query keys/values are percent-decoded; a bad
 *    escape ("%4", "%zz") or one that decodes to NUL is an error; '+' is a
 *    plain '+', not a space (this is not form encoding);
 *  - userinfo ends at the first '@': an '@' in a user name or password must
 *    be written %40 (as RFC 3986 requires; a raw one is reported, not
 *    guessed around), and '/', '?', '#' likewise (%2F, %3F, %23). The first
 *    ':' separates the user from the password, so a raw ':' may appear in
 *    the password. "user@" has no password (NULL), "user:@" an empty one;
 *    an empty user name ("@host", ":pw@host") is an error;
 *  - the host is a name or IPv4 address of letters, digits, '-', '.', '_',
 *    '~', or an IPv6 address in brackets ("[::1]", returned without them);
 *    it may be empty ("mysql:///db"), meaning the driver's local default;
 *  - the port is 1-65535 in decimal; absent or empty means @default_port;
 *  - the path is returned without its leading '/', NULL when absent;
 *  - query parameters are key=value pairs split on '&'; empty pairs are
 *    skipped, a key without '=' or with an empty value, an empty key and a
 *    repeated key are errors (a repeated "ssl-mode" must not be resolved by
 *    guessing). Which keys exist is the caller's business;
 *  - a fragment ('#'), spaces and control characters anywhere are errors.
 * Error messages name the part that is wrong but never quote the URL: a
 * mistyped URL may put part of a password anywhere.
 * Thread-safety: every function is thread-safe; a struct url is plain data. */
#ifndef USERSVC_ORM_URL_H
#define USERSVC_ORM_URL_H

#include <stdbool.h>
#include <stddef.h>

struct url_param {
    char *key;        /* decoded, non-empty */
    char *value;      /* decoded, non-empty */
};

struct url {
    char *scheme;     /* lower case, e.g. "mysql" */
    char *user;       /* NULL when the URL has no userinfo */
    char *password;   /* NULL when absent; "" when given empty ("user:@host") */
    char *host;       /* "" when empty; IPv6 without brackets */
    unsigned port;    /* 1-65535; the default when absent */
    bool has_port;    /* the URL named a port */
    char *path;       /* decoded, without the leading '/'; NULL when absent */
    struct url_param *params;
    size_t n_params;
};

/* Parse @text into @out. On true, @out holds new strings: release them with
 * url_finish(). On false, @out is left empty and @err (@errlen bytes) says
 * what is wrong without quoting any part of @text. */
bool url_parse(const char *text, unsigned default_port, struct url *out, char *err,
               size_t errlen);

/* Free what url_parse() stored in @u and empty it. Accepts NULL and an empty url. */
void url_finish(struct url *u);

/* The decoded value of query parameter @key, or NULL; borrowed from @u. */
const char *url_param(const struct url *u, const char *key);

#endif
