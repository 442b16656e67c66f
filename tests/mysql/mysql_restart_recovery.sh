#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# usersvc survives MariaDB going away and coming back, without a restart of
# its own (the shared test in tests/lib/db_restart.sh): a restart under
# load answers only 200/201/503 and recovers within seconds, an outage
# answers 503 promptly and writes nothing, a restart while idle costs no
# request (stale pooled connections are replaced before their next
# statement; no MYSQL_OPT_RECONNECT). The server restarted here is a
# throwaway one of this test's own (tests/db/mariadb.sh in a private state
# directory), so no other test sees the outage. USERSVC_TEST_MYSQL_URL only
# has to be set, as for every MySQL test.
. "$(dirname "$0")/lib_mysql.sh"

command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] || command -v mysqld >/dev/null \
    || [ -x /usr/sbin/mysqld ] || skip_all "no mariadbd (apt-get install mariadb-server)"

restart_recovery_start "$MYSQL_TEST_DIR/../db/mariadb.sh" USERSVC_TEST_MYSQL_URL
restart_recovery_restart_under_load
restart_recovery_outage
restart_recovery_idle_restart
restart_recovery_finish
