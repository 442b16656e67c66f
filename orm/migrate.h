/* SPDX-License-Identifier: MIT
 * migrate.h - apply, revert and inspect the embedded migrations.
 *
 * Applied migrations are recorded in schema_migrations(version, name,
 * checksum, applied_at, dirty). Runs are serialised by the backend's
 * migration lock, and each migration runs in its own transaction, re-reading
 * its record inside it, so two runners never both apply one. Where DDL is not
 * transactional (MySQL) a migration that fails halfway is recorded with
 * dirty = 1 and must be repaired by hand; it is never recorded as applied.
 * Thread-safety: any thread; concurrent runs are serialised by the database. */
#ifndef USERSVC_ORM_MIGRATE_H
#define USERSVC_ORM_MIGRATE_H

#include <stddef.h>
#include <stdint.h>

#include "orm/orm.h"
#include "base/err.h"

enum migrate_state {
    MIGRATE_PENDING,   /* embedded, not applied */
    MIGRATE_APPLIED,   /* applied, checksum matches */
    MIGRATE_CHANGED,   /* applied, but the embedded file has changed since */
    MIGRATE_FAILED,    /* recorded dirty: failed halfway, repair by hand */
    MIGRATE_UNKNOWN,   /* applied by a newer binary, not embedded here */
};

struct migrate_entry {
    int64_t version;
    char name[64];
    enum migrate_state state;
    char applied_at[40];   /* "" when pending */
};

/* Apply every pending migration. *@applied (may be NULL) counts them.
 * Returns USV_UNAVAILABLE if the database cannot be reached, USV_INTERNAL if
 * a migration failed (logged with the failing statement), USV_CONFLICT if a
 * migration is dirty or changed. */
enum usv_err migrate_up(struct orm_db *db, unsigned *applied);

/* Revert the last @n applied migrations. */
enum usv_err migrate_down(struct orm_db *db, unsigned n, unsigned *reverted);

/* Every embedded or recorded migration, by version: *@entries is a new
 * array (free() it) of *@n entries. */
enum usv_err migrate_status(struct orm_db *db, struct migrate_entry **entries, size_t *n);

/* USV_OK when every embedded migration is applied and unchanged; otherwise
 * USV_CONFLICT and a one-line reason (naming the migrations) in @why. */
enum usv_err migrate_check(struct orm_db *db, char *why, size_t why_len);

const char *migrate_state_name(enum migrate_state s);

#endif
