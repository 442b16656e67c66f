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
 *  - several host[:port] entries may be separated by ',' (PostgreSQL's
 *    multi-host form); an empty entry is an error;
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

struct url_host {
    char *host;       /* "" when empty; IPv6 without brackets */
    unsigned port;    /* 1-65535; the default when absent */
    bool has_port;
};

struct url {
    char *scheme;     /* lower case, e.g. "mysql" */
    char *user;       /* NULL when the URL has no userinfo */
    char *password;   /* NULL when absent; "" when given empty ("user:@host") */
    char *host;       /* the first host: "" when empty; IPv6 without brackets */
    unsigned port;    /* its port, 1-65535; the default when absent */
    bool has_port;    /* the URL named a port */
    struct url_host *hosts;  /* every host, n_hosts >= 1 ("h1:1,h2:2": libpq's */
    size_t n_hosts;          /* multi-host form; a backend may refuse more than one) */
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

/* ---- DATABASE_URL --------------------------------------------------------
 * One parser, one redactor: the ORM parses DATABASE_URL once, at open
 * (orm_db_open()), and every backend configures itself from the parsed
 * value; every log line that shows a URL shows url_redact()'s text. */

/* Parse a DATABASE_URL of any backend: "sqlite:PATH" (scheme "sqlite", the
 * path taken as written, host ""), or the grammar above with the scheme's
 * default port (postgres 5432, mysql 3306). As url_parse() otherwise. */
bool url_parse_database(const char *text, struct url *out, char *err, size_t errlen);

/* A deep copy of @src into @dst (release it with url_finish()). */
void url_copy(struct url *dst, const struct url *src);

/* Does query key @key (decoded) carry a secret? password, sslpassword and
 * anything else naming a pass(word), pwd, secret or token. */
bool url_key_is_secret(const char *key);

/* @text (any URL, well-formed or not) with its password and every secret
 * query value (percent-encoded keys included: "passw%6Frd=") replaced by
 * "***", written to @buf (@size bytes; cut only after redacting). Returns
 * @buf. Never fails; when in doubt it hides more. */
const char *url_redact(const char *text, char *buf, size_t size);

/* Replace in @msg (@size bytes) every occurrence of @u's password or secret
 * query values with "***": for driver messages that might quote them. */
void url_scrub(char *msg, size_t size, const struct url *u);

#endif
