#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# usersvc survives PostgreSQL going away and coming back, without a restart
# of its own (the shared test in tests/lib/db_restart.sh): a restart while
# idle costs no request, a restart under load answers only 200/201/503 and
# recovers within seconds, an outage answers 503 promptly and writes
# nothing. The server restarted here is a throwaway cluster of this test's
# own (tests/db/pg.sh in a private state directory), so no other test sees
# the outage. USERSVC_TEST_PG_URL only has to be set, as for every
# PostgreSQL test.
. "$(dirname "$0")/lib_pg.sh"

# The shared server may be remote; a private one needs local server binaries.
if [ -z "${PG_BINDIR:-}" ] && ! command -v pg_ctl >/dev/null \
        && ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
    skip_all "no PostgreSQL server binaries for a private cluster"
fi

restart_recovery_start "$PG_TEST_DIR/../db/pg.sh" USERSVC_TEST_PG_URL
restart_recovery_idle_restart
restart_recovery_restart_under_load
restart_recovery_outage
restart_recovery_finish
