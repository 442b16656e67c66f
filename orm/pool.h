/* SPDX-License-Identifier: MIT
 * pool.h - a bounded pool of database connections.
 *
 * Connections are opened lazily, up to @size at once. Acquiring waits on a
 * condition variable until a connection is free or the deadline passes, so
 * an overloaded service answers 503 instead of hanging. A connection marked
 * broken is closed on release and its slot reconnects on next use; one idle
 * for longer than @idle_check_ms is pinged before it is handed out.
 * Thread-safety: any thread may use the pool; a borrowed connection belongs
 * to the borrowing thread until pool_release(). */
#ifndef USERSVC_ORM_POOL_H
#define USERSVC_ORM_POOL_H

#include <stdbool.h>

#include "orm/orm.h"
#include "base/err.h"

struct pool;
struct orm_conn;
struct orm_backend;

struct orm_limits;
struct watchdog;

/* Create a pool of connections opened with backend @be's configuration
 * @cfg (borrowed: made by be->configure(), it outlives the pool). Opens no
 * connection. Connections are opened within @lim (copied), their
 * connection attempt and idle check cut when the wait for them ends (@wd,
 * borrowed). */
enum usv_err pool_create(const struct orm_backend *be, const void *cfg, unsigned size,
                         unsigned idle_check_ms, const struct orm_limits *lim,
                         struct watchdog *wd, struct pool **out);

/* Close all idle connections and free @pool. Accepts NULL. Every borrowed
 * connection must have been released. */
void pool_destroy(struct pool *pool);

/* Borrow a connection, waiting at most @timeout_ms, connecting included.
 * On USV_OK *@out is yours until pool_release(); on USV_UNAVAILABLE
 * (timeout, or the database cannot be reached) *@out is untouched. A
 * database that refuses a connection because it is full is not a failure
 * yet: the wait goes on, for a connection of this pool or a later attempt,
 * until @timeout_ms (then USV_UNAVAILABLE, counted as a timeout). */
enum usv_err pool_acquire(struct pool *pool, unsigned timeout_ms, struct orm_conn **out);

/* Close idle connections beyond @min_idle once they have been idle for
 * @idle_timeout_ms (0: never), from a thread of the pool's own, so that an
 * instance gives back to the database what it no longer needs. Call at
 * most once, right after pool_create(). */
void pool_set_idle_limit(struct pool *pool, unsigned min_idle, unsigned idle_timeout_ms);

/* Did the last connection attempt find the database full (too many
 * clients), with no successful one since? */
bool pool_is_full(struct pool *pool);

/* Give @conn back; a broken one is closed. Accepts NULL. */
void pool_release(struct pool *pool, struct orm_conn *conn);

void pool_stats(struct pool *pool, struct orm_pool_stats *out);

#endif
