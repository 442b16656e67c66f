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

# http_code METHOD PATH [BODY]: prints "STATUS RETRY_AFTER" for one request
# (000 when there was no response), without touching the lib.sh response files.
http_code() {
    local out
    if [ $# -ge 3 ]; then
        out=$(curl -sS --max-time "$CURL_MAX_TIME" -o /dev/null -D - -w '\n%{http_code}' \
            -X "$1" -H 'Content-Type: application/json' --data-binary "$3" \
            "$BASE_URL$2" 2>/dev/null)
    else
        out=$(curl -sS --max-time "$CURL_MAX_TIME" -o /dev/null -D - -w '\n%{http_code}' \
            -X "$1" "$BASE_URL$2" 2>/dev/null)
    fi
    printf '%s %s\n' "$(printf '%s\n' "$out" | tail -n 1 | tr -d '\r')" \
        "$(printf '%s\n' "$out" | awk 'tolower($1) == "retry-after:" { v = $2 } END { print v }' \
           | tr -d '\r')"
}
