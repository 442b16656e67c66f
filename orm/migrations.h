/* SPDX-License-Identifier: MIT
 * migrations.h - the migrations embedded in the binary at build time.
 *
 * migrations/embed.py turns migrations/NNNN_name/BACKEND.{up,down}.sql into
 * this table, sorted by (version, backend), so the binary needs no source
 * tree to migrate a database.
 * Thread-safety: constant data. */
#ifndef USERSVC_ORM_MIGRATIONS_H
#define USERSVC_ORM_MIGRATIONS_H

#include <stddef.h>
#include <stdint.h>

struct migration {
    int64_t version;
    const char *name;            /* "create_users" */
    const char *backend;         /* "sqlite", "postgres", "mysql" */
    const char *checksum;        /* SHA-256 of the up file, hex */
    const char *const *up;       /* statements, NULL-terminated */
    const char *const *down;
};

extern const struct migration migrations[];
extern const size_t n_migrations;

#endif
