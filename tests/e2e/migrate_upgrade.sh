#!/usr/bin/env bash
# Migration 0002 on a database with data (second stage): a first-stage
# database (version 1, users without updated_at) holding rows written in the
# backend's native form - an emoji name, NULL names, created_at with
# microseconds - is upgraded with `usersvc migrate`; every row survives
# unchanged and its updated_at equals its created_at byte for byte. `migrate
# down` removes the column again (rows kept) and `migrate status` shows 0002
# pending; `migrate` once more fills updated_at from created_at again.
. "$(dirname "$0")/lib.sh"
new_database

ZOE_HEX=5A6FC3AB20F09F9880            # "Zoë 😀" in UTF-8
ZOE=$(printf '\x5A\x6F\xC3\xAB\x20\xF0\x9F\x98\x80')

# ts RFC3339: the backend's native literal for a canonical UTC stamp.
ts() {
    local d=${1%Z}
    case "$BACKEND" in
        sqlite) echo "'$1'" ;;
        postgres|postgresql|pg) echo "'${d/T/ } +00'::timestamptz" ;;
        mysql|mariadb) echo "'${d/T/ }'" ;;
    esac
}

# utf8 HEX: a text expression holding the UTF-8 bytes HEX.
utf8() {
    case "$BACKEND" in
        sqlite) echo "CAST(X'$1' AS TEXT)" ;;
        postgres|postgresql|pg) echo "convert_from('\\x$1'::bytea, 'UTF8')" ;;
        mysql|mariadb) echo "CONVERT(X'$1' USING utf8mb4)" ;;
    esac
}

# has_updated_at: prints 1 when users has an updated_at column, else 0.
has_updated_at() {
    case "$BACKEND" in
        sqlite)
            db_exec "SELECT COUNT(*) FROM pragma_table_info('users') WHERE name = 'updated_at'" ;;
        postgres|postgresql|pg)
            db_exec "SELECT COUNT(*) FROM information_schema.columns
                     WHERE table_schema = current_schema() AND table_name = 'users'
                       AND column_name = 'updated_at'" ;;
        mysql|mariadb)
            db_exec "SELECT COUNT(*) FROM information_schema.columns
                     WHERE table_schema = DATABASE() AND table_name = 'users'
                       AND column_name = 'updated_at'" ;;
    esac
}

status_line() {
    grep -E "^$1" "$CLI_OUT" | head -n 1
}

# ---- a first-stage database with rows ---------------------------------------------
run_cli migrate --database "$DB_URL"
expect_cli_rc 0 "migrate to the latest version"
# 0003 (the idempotency key table) comes after 0002: two steps back.
run_cli migrate down 2 --database "$DB_URL"
expect_cli_rc 0 "migrate down 2: back to version 1"
expect_eq "$(has_updated_at 2>&1 | tr -d ' ')" 0 "version 1: users has no updated_at column"

T1=2026-01-02T03:04:05.123456Z
T2=2025-12-31T23:59:59.000000Z
T3=2026-01-02T03:04:05.000001Z
if db_exec "INSERT INTO users (login, first_name, last_name, created_at) VALUES
            ('old.one', $(utf8 "$ZOE_HEX"), NULL, $(ts "$T1"))" >/dev/null 2>"$TMP/db.err" \
   && db_exec "INSERT INTO users (login, first_name, last_name, created_at) VALUES
            ('OLD_Two', NULL, NULL, $(ts "$T2"))" >/dev/null 2>>"$TMP/db.err" \
   && db_exec "INSERT INTO users (login, first_name, last_name, created_at) VALUES
            ('old-3', 'Ann', 'O''Neil', $(ts "$T3"))" >/dev/null 2>>"$TMP/db.err"; then
    ok "three first-stage rows inserted directly"
else
    diag_file error "$TMP/db.err"
    bail "insert first-stage rows"
fi
expect_eq "$(db_exec 'SELECT COUNT(*) FROM users' 2>&1 | tr -d ' ')" 3 "3 rows at version 1"

# ---- upgrade -----------------------------------------------------------------------------
run_cli migrate status --database "$DB_URL"
expect_cli_fails "status at version 1: non-zero (0002 pending)"
expect_match "$(status_line 0002)" pending "0002 pending before the upgrade"
run_cli migrate --database "$DB_URL"
expect_cli_rc 0 "usersvc migrate upgrades to version 2"
run_cli migrate status --database "$DB_URL"
expect_cli_rc 0 "status after the upgrade: current"
expect_match "$(status_line 0002)" applied "0002 applied"
expect_eq "$(has_updated_at 2>&1 | tr -d ' ')" 1 "users has updated_at after the upgrade"

launch_server serve --database "$DB_URL" --host 127.0.0.1 --port 0
get /readyz
expect_status 200 "readyz after the upgrade"

# expect_row LOGIN FIRST_JSON LAST_JSON CREATED DESC: the user LOGIN survived.
expect_row() {
    local login=$1 first=$2 last=$3 created=$4 desc=$5 id
    get "/users?login=$login"
    expect_json '.items | length' 1 "$desc: found by login"
    id=$(json_get '.items[0].id')
    get "/users/$id"
    expect_status 200 "$desc: GET /users/$id"
    expect_user "$desc"
    expect_json .login "$login" "$desc: login unchanged"
    expect_json '.first_name | tojson' "$first" "$desc: first_name unchanged"
    expect_json '.last_name | tojson' "$last" "$desc: last_name unchanged"
    expect_json .created_at "$created" "$desc: created_at unchanged ($created)"
    expect_eq "$(raw_json_member updated_at | sed 's/^"updated_at"[[:space:]]*:[[:space:]]*//')" \
        "$(raw_json_member created_at | sed 's/^"created_at"[[:space:]]*:[[:space:]]*//')" \
        "$desc: updated_at == created_at byte for byte"
    expect_json .updated_at "$created" "$desc: updated_at is $created"
    LAST_ID=$id
}
expect_row old.one "\"$ZOE\"" null "$T1" "emoji row"
one=$LAST_ID
# The name's bytes, exactly as written (not re-encoded, not escaped).
check "emoji row: first_name bytes on the wire are the UTF-8 written" \
    grep -qF "\"first_name\":\"$ZOE\"" "$RESP_BODY"
expect_row OLD_Two null null "$T2" "NULL names row"
expect_row old-3 '"Ann"' '"O'"'"'Neil"' "$T3" "plain row"
three=$LAST_ID
get /users
expect_json '.items | length' 3 "the list holds the 3 old users"
expect_json '[.items[].id] == ([.items[].id] | sort)' true "listed by id"

# The upgraded table works: new users, changes, ETags.
create_user new.after
new_created=$(json_get .created_at)
check "a new user's id ($USER_ID) is greater than the old ones" test "$USER_ID" -gt "$three"
expect_eq "$(json_get .updated_at)" "$(json_get .created_at)" "new user: updated_at == created_at"
patch "/users/$one" '{"last_name":"Patched"}'
expect_status 200 "PATCH an upgraded row"
expect_json .created_at "$T1" "PATCH keeps created_at of an upgraded row"
check "PATCH moves updated_at past created_at" test "$(json_get .updated_at)" '>' "$T1"
stop_server

# ---- down again: the column goes, the rows stay ------------------------------------------------
run_cli migrate down 2 --database "$DB_URL"
expect_cli_rc 0 "migrate down 2 removes 0003 and 0002"
expect_eq "$(has_updated_at 2>&1 | tr -d ' ')" 0 "users has no updated_at after down"
run_cli migrate status --database "$DB_URL"
expect_cli_fails "status after down: non-zero"
expect_match "$(status_line 0001)" applied "after down: 0001 applied"
expect_match "$(status_line 0002)" pending "after down: 0002 pending"
expect_eq "$(db_exec 'SELECT COUNT(*) FROM users' 2>&1 | tr -d ' ')" 4 "4 rows kept by down"
run_cli -t 10 serve --database "$DB_URL" --port 0
expect_cli_fails "serve refuses the schema at version 1"

# ---- and up once more: updated_at is created_at again, for every row ------------------------------
run_cli migrate --database "$DB_URL"
expect_cli_rc 0 "migrate up again"
launch_server serve --database "$DB_URL" --host 127.0.0.1 --port 0
expect_row old.one "\"$ZOE\"" '"Patched"' "$T1" "emoji row after down/up"
expect_row OLD_Two null null "$T2" "NULL names row after down/up"
expect_row new.after null null "$new_created" "new row after down/up"
