/* SPDX-License-Identifier: MIT
 * testdb.c - see testdb.h. Servers are driven through the backend's own
 * hooks (orm_int.h), so the fixture needs no client library of its own. */
#include "tests/lib/testdb.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "orm/orm_int.h"

/* @admin with its database path replaced by @name (the query kept). */
static bool
url_with_database(const char *admin, const char *name, char *out, size_t size)
{
    const char *auth = strstr(admin, "://");
    const char *path, *query;
    int n;

    if (auth == NULL)
        return false;
    path = auth + 3 + strcspn(auth + 3, "/?");
    query = strchr(path, '?');
    n = snprintf(out, size, "%.*s/%s%s", (int)(path - admin), admin, name,
                 query != NULL ? query : "");
    return n > 0 && (size_t)n < size;
}

/* Run @sql on the server at @url through its backend's hooks. */
static bool
admin_exec(const char *url, const char *sql)
{
    const struct orm_backend *be = orm_backend_for(url);
    struct orm_conn *c = NULL;
    char err[256] = "";
    bool ok = false;

    if (be == NULL) {
        fprintf(stderr, "testdb: no backend for the admin URL\n");
        return false;
    }
    if (orm_connect_url(url, NULL, &c, err, sizeof(err)) != USV_OK) {
        fprintf(stderr, "testdb: cannot connect: %s\n", err);
        return false;
    }
    ok = orm_conn_query(c, sql, NULL, 0, NULL) == USV_OK;
    if (!ok)
        fprintf(stderr, "testdb: %s: %s\n", sql, c->errmsg);
    be->close(c);
    return ok;
}

enum testdb_status
testdb_create(struct testdb *t, const char *backend, const char *tag)
{
    const char *env = NULL;
    char sql[200];

    memset(t, 0, sizeof(*t));
    snprintf(t->backend, sizeof(t->backend), "%s", backend);
    if (strcmp(backend, "sqlite") == 0) {
        snprintf(t->dir, sizeof(t->dir), "/tmp/usersvc-test-%.20s-XXXXXX", tag);
        if (mkdtemp(t->dir) == NULL) {
            perror("testdb: mkdtemp");
            t->dir[0] = '\0';
            return TESTDB_FAILED;
        }
        snprintf(t->path, sizeof(t->path), "%s/test.db", t->dir);
        snprintf(t->url, sizeof(t->url), "sqlite:%s", t->path);
        return TESTDB_OK;
    }
    if (strcmp(backend, "postgres") == 0)
        env = getenv("USERSVC_TEST_PG_URL");
    else if (strcmp(backend, "mysql") == 0)
        env = getenv("USERSVC_TEST_MYSQL_URL");
    else {
        fprintf(stderr, "testdb: unknown backend %s\n", backend);
        return TESTDB_FAILED;
    }
    if (env == NULL || env[0] == '\0' || orm_backend_for(env) == NULL)
        return TESTDB_SKIP;
    snprintf(t->admin_url, sizeof(t->admin_url), "%s", env);
    snprintf(t->name, sizeof(t->name), "usv_%.20s_%ld", tag, (long)getpid());
    if (!url_with_database(t->admin_url, t->name, t->url, sizeof(t->url))) {
        fprintf(stderr, "testdb: the admin URL has no place for a database name\n");
        t->name[0] = '\0';
        return TESTDB_FAILED;
    }
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", t->name);
    admin_exec(t->admin_url, sql);
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s%s", t->name,
             strcmp(backend, "mysql") == 0 ? " CHARACTER SET utf8mb4" : "");
    if (!admin_exec(t->admin_url, sql)) {
        t->name[0] = '\0';
        return TESTDB_FAILED;
    }
    return TESTDB_OK;
}

void
testdb_destroy(struct testdb *t)
{
    char sql[200];

    if (t->name[0] != '\0') {
        snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", t->name);
        admin_exec(t->admin_url, sql);
        t->name[0] = '\0';
    }
    if (t->dir[0] != '\0') {
        DIR *d = opendir(t->dir);
        struct dirent *e;
        char path[sizeof(t->dir) + 1 + 256];

        while (d != NULL && (e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(path, sizeof(path), "%s/%s", t->dir, e->d_name);
            unlink(path);
        }
        if (d != NULL)
            closedir(d);
        rmdir(t->dir);
        t->dir[0] = '\0';
    }
}

const char *
testdb_backend_arg(int argc, char **argv)
{
    return argc > 1 ? argv[1] : "sqlite";
}
