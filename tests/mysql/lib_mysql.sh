# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# Helpers for the MySQL/MariaDB-specific tests: sourced by tests/mysql/*.sh.
#
# Everything generic (TAP output, a fresh database per test, starting and
# stopping usersvc, the audit of every response, cleanup by trap) comes from
# the end-to-end helpers, tests/e2e/lib.sh, run with the mysql backend.
# Without USERSVC_TEST_MYSQL_URL (an admin URL, see tests/db/mariadb.sh) a
# test skips.

export USERSVC_TEST_BACKEND=mysql
# shellcheck source=../e2e/lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../e2e/lib.sh"
MYSQL_TEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# http_code, now_ms, status_counts, expect_fast and the restart-recovery test.
# shellcheck source=../lib/db_restart.sh
. "$MYSQL_TEST_DIR/../lib/db_restart.sh"

[ -n "${USERSVC_TEST_MYSQL_URL:-}" ] || skip_all "USERSVC_TEST_MYSQL_URL not set"
command -v mariadb >/dev/null || command -v mysql >/dev/null \
    || skip_all "no mariadb/mysql client (apt-get install mariadb-client)"

# The session settings usersvc applies (orm/backend_mysql.c), for checks
# that want to act exactly like the service.
USV_SQL_MODE='STRICT_ALL_TABLES,NO_ZERO_DATE,NO_ZERO_IN_DATE,ERROR_FOR_DIVISION_BY_ZERO,'
USV_SQL_MODE+='NO_ENGINE_SUBSTITUTION'
# The name of the migration lock of the current database (one per database).
USV_LOCK_NAME_SQL="CONCAT('usersvc_migrate_', SHA1(DATABASE()))"

# my_sql SQL: runs SQL in this test's database over a utf8mb4 client; rows
# tab-separated, no column names. Stderr is the client's.
my_sql() {
    _mysql_client --default-character-set=utf8mb4 -D "${DB_NAMES[-1]}" -e "$1"
}

# my_admin SQL: runs SQL as the admin user, no database selected.
my_admin() {
    _mysql_client --default-character-set=utf8mb4 -e "$1"
}

# hex_of STRING: the bytes of STRING in upper-case hex, as SQL's HEX() prints them.
hex_of() {
    printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n' | tr 'a-f' 'A-F'
}





# kill_service_sessions: KILLs every server session on this test's database
# (the service's pooled connections); prints how many.
kill_service_sessions() {
    local ids id n=0
    ids=$(my_admin "SELECT ID FROM information_schema.PROCESSLIST
                    WHERE DB = '${DB_NAMES[-1]}' AND ID <> CONNECTION_ID()") || return 1
    for id in $ids; do
        my_admin "KILL $id" >/dev/null 2>&1 && n=$((n + 1))
    done
    echo "$n"
}
