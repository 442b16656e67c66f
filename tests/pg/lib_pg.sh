# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# shellcheck disable=SC2034  # variables for the scripts that source this file
#
# Helpers for the PostgreSQL-specific tests: sourced by tests/pg/*.sh.
#
# Everything generic (TAP output, a fresh database per test, starting and
# stopping usersvc, the audit of every response, cleanup by trap) comes from
# the end-to-end helpers, tests/e2e/lib.sh, run with the postgres backend.
# Without USERSVC_TEST_PG_URL (an admin URL, see tests/db/pg.sh) a test skips.

export USERSVC_TEST_BACKEND=postgres
# shellcheck source=../e2e/lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../e2e/lib.sh"
PG_TEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# http_code, now_ms, status_counts, expect_fast and the restart-recovery test.
# shellcheck source=../lib/db_restart.sh
. "$PG_TEST_DIR/../lib/db_restart.sh"
PYTHON=${USERSVC_PYTHON:-python3}

[ -n "${USERSVC_TEST_PG_URL:-}" ] || skip_all "USERSVC_TEST_PG_URL not set"
command -v psql >/dev/null || skip_all "psql not installed"

# The key usersvc's migration runner locks (orm/backend_pg.c, PG_MIGRATION_LOCK_KEY).
PG_MIGRATION_LOCK_KEY=8463219666997109581

# pg_url_parts URL: sets PGU_USERINFO (user[:pw]), PGU_HOST, PGU_PORT, PGU_DB, PGU_QUERY.
pg_url_parts() {
    local re='^postgres(ql)?://([^@/]+)@([^:/?]+)(:([0-9]+))?(/([^?]*))?(\?(.*))?$'
    [[ $1 =~ $re ]] || bail "cannot take apart the PostgreSQL URL (need user@host[:port]/db)"
    PGU_USERINFO=${BASH_REMATCH[2]}
    PGU_HOST=${BASH_REMATCH[3]}
    PGU_PORT=${BASH_REMATCH[5]:-5432}
    PGU_DB=${BASH_REMATCH[7]}
    PGU_QUERY=${BASH_REMATCH[9]}
}

# url_with_param URL KEY=VALUE: URL plus one query parameter.
url_with_param() {
    case "$1" in
        *\?*) echo "$1&$2" ;;
        *) echo "$1?$2" ;;
    esac
}


# concurrent_gets ROUNDS N PATH: ROUNDS rounds of N GETs of PATH at once (so
# they spread over pooled connections and share batches); prints the
# distinct statuses, space-separated ("200 " when every one was 200).
concurrent_gets() {
    local round i p pids
    rm -f "$TMP"/conc.*
    for round in $(seq 1 "$1"); do
        pids=()
        for i in $(seq 1 "$2"); do
            curl -sS --max-time 10 -o /dev/null -w '%{http_code}\n' "$BASE_URL$3" \
                >"$TMP/conc.$round.$i" 2>/dev/null &
            pids+=($!)
        done
        for p in "${pids[@]}"; do wait "$p"; done
    done
    cat "$TMP"/conc.* | sort -u | tr '\n' ' '
}
