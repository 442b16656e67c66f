#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# utf8mb4 end to end on MySQL/MariaDB: names with 4-byte characters (emoji,
# plane-1 letters), combining sequences, ZWJ sequences and trailing spaces
# come back byte for byte from POST and GET, and are stored as exactly those
# bytes (checked with HEX() in the database), 30 emoji being 30 characters.
. "$(dirname "$0")/lib_mysql.sh"
start_server

E=$'\xF0\x9F\x98\x80'   # U+1F600, 4 bytes in UTF-8
EMOJI30=
for _ in $(seq 1 30); do EMOJI30+=$E; done

names=(
    "$EMOJI30"
    $'\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD thumbs'            # emoji + skin tone modifier
    $'\xF0\x9F\x8F\xB3\xEF\xB8\x8F\xE2\x80\x8D\xF0\x9F\x8C\x88'  # ZWJ flag sequence
    $'Zo\xC3\xAB'                                          # NFC
    $'Zoe\xCC\x88'                                         # NFD: not normalised
    $'\xF0\x9D\x94\x98\xF0\x9D\x94\xAB\xF0\x9D\x94\xA6'    # mathematical fraktur
    $'\xF0\xA0\x9C\x8E\xE4\xB8\xAD\xE6\x96\x87'            # CJK extension B + CJK
    'trailing  '                                           # trailing spaces kept
    '  leading'
    $'\xD8\xA7\xD9\x84\xD8\xB9\xD8\xB1\xD8\xA8\xD9\x8A\xD8\xA9'  # Arabic
    "O'Brien \"quoted\" \\ %_"
)

i=0
for name in "${names[@]}"; do
    i=$((i + 1))
    body=$(jq -cn --arg l "utf$i" --arg n "$name" '{login: $l, first_name: $n, last_name: $n}')
    post /users "$body"
    expect_status 201 "name $i: created"
    id=$(json_get .id)
    created=$(json_get .created_at)
    expect_eq "$(json_get .first_name)" "$name" "name $i: 201 body has first_name byte for byte"
    expect_eq "$(json_get .last_name)" "$name" "name $i: 201 body has last_name byte for byte"
    get "/users/$id"
    expect_status 200 "name $i: GET"
    expect_eq "$(json_get .first_name)" "$name" "name $i: GET returns first_name byte for byte"
    expect_eq "$(json_get .created_at)" "$created" "name $i: created_at identical in POST and GET"
    expect_eq "$(my_sql "SELECT HEX(first_name), HEX(last_name) FROM users WHERE id = $id" 2>&1)" \
        "$(hex_of "$name")	$(hex_of "$name")" "name $i: stored as exactly these bytes"
done

# 30 emoji: 30 characters (VARCHAR(30) counts characters), 120 bytes.
expect_eq "$(my_sql "SELECT CHAR_LENGTH(first_name), LENGTH(first_name) FROM users
                     WHERE login = 'utf1'" 2>&1)" "30	120" "30 emoji are 30 characters, 120 bytes"

# The schema says so too: utf8mb4 columns, binary names, case-insensitive login.
expect_eq "$(my_sql "SELECT COLUMN_NAME, CHARACTER_SET_NAME, COLLATION_NAME
                     FROM information_schema.COLUMNS
                     WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'users'
                       AND CHARACTER_SET_NAME IS NOT NULL ORDER BY ORDINAL_POSITION" 2>&1)" \
"login	utf8mb4	utf8mb4_unicode_ci
first_name	utf8mb4	utf8mb4_bin
last_name	utf8mb4	utf8mb4_bin" "text columns are utf8mb4 (login _unicode_ci, names _bin)"
expect_eq "$(my_sql "SELECT ENGINE FROM information_schema.TABLES
                     WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'users'" 2>&1)" \
    InnoDB "users is an InnoDB table"
