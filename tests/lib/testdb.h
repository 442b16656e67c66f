/* SPDX-License-Identifier: MIT
 * testdb.h - a throwaway database for one test program, on any backend.
 *
 * SQLite: a file in a new temporary directory, removed (with its -wal and
 * -shm files) at the end. PostgreSQL and MariaDB/MySQL: a database of its
 * own, created on the server named by USERSVC_TEST_PG_URL or
 * USERSVC_TEST_MYSQL_URL (admin URLs: tests/db/pg.sh url, tests/db/mariadb.sh
 * url print one) and dropped at the end. Without that variable the backend
 * is not available and testdb_create() says so (the caller exits 77, meson's
 * SKIP). The shared fixture of the ORM tests (issue 14): one set-up instead
 * of one per test file.
 * Thread-safety: one struct testdb per thread. */
#ifndef USERSVC_TESTS_LIB_TESTDB_H
#define USERSVC_TESTS_LIB_TESTDB_H

#include <stdbool.h>
#include <stddef.h>

struct testdb {
    char backend[16];     /* "sqlite", "postgres", "mysql" */
    char url[1024];       /* DATABASE_URL of the throwaway database */
    char dir[64];         /* SQLite: the temporary directory */
    char path[128];       /* SQLite: the database file */
    char name[64];        /* servers: the database's name */
    char admin_url[1024]; /* servers: where it was created */
};

enum testdb_status {
    TESTDB_OK,
    TESTDB_SKIP,          /* no server configured for @backend */
    TESTDB_FAILED,        /* reported on stderr */
};

/* Create a database for @backend ("sqlite", "postgres", "mysql"); @tag goes
 * into its name (letters, digits, '_'). */
enum testdb_status testdb_create(struct testdb *t, const char *backend, const char *tag);

/* Drop or remove it. Accepts a testdb whose create failed. */
void testdb_destroy(struct testdb *t);

/* The backend named by argv[1] when given, else "sqlite": tests that run
 * on every backend are registered once per backend with that argument. */
const char *testdb_backend_arg(int argc, char **argv);

#endif
