/* SPDX-License-Identifier: MIT
 * watchdog.h - client-side deadlines for blocking database calls.
 *
 * The drivers' calls block on a socket (libpq's PQexecPrepared, MariaDB's
 * mysql_stmt_execute). The database's own statement timeout bounds a slow
 * statement, but not a silent network (no FIN, no RST: a partition) nor a
 * server that stopped answering. A thread that watches every armed
 * deadline bounds those: when one passes, it shuts the connection's socket
 * down (shutdown(2), SHUT_RDWR), so the blocked read returns at once, the
 * driver reports a lost connection, and the ORM discards the connection,
 * whose state is now unknown.
 *
 * The watchdog shuts down a duplicate of the socket it made when armed: the
 * duplicate keeps the socket itself alive even if the driver closes its own
 * descriptor meanwhile (an in-place reconnect), so no other file that may
 * reuse the number is ever touched.
 * Thread-safety: any thread may arm and disarm its own entries. */
#ifndef USERSVC_ORM_WATCHDOG_H
#define USERSVC_ORM_WATCHDOG_H

#include <stdbool.h>
#include <stdint.h>

struct watchdog;

/* One armed deadline; the caller's memory, untouched between arm and disarm.
 * private: use the functions. */
struct watchdog_entry {
    int fd;                          /* our duplicate of the socket, or -1 */
    uint64_t deadline_ms;            /* monotonic */
    bool fired;
    struct watchdog_entry *next;
};

void watchdog_create(struct watchdog **out);
/* Stop the thread and free @w. Accepts NULL. No entry may be armed. */
void watchdog_destroy(struct watchdog *w);

/* Shut @fd's socket down at @deadline_ms (monotonic) unless disarmed first.
 * @fd < 0 arms nothing (a backend without a socket bounds itself). */
void watchdog_arm(struct watchdog *w, struct watchdog_entry *e, int fd, uint64_t deadline_ms);

/* Disarm @e; true when its deadline passed and the socket was shut down. */
bool watchdog_disarm(struct watchdog *w, struct watchdog_entry *e);

#endif
