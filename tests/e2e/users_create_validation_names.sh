#!/usr/bin/env bash
# POST /users: first_name/last_name rules: at most 30 code points (not bytes),
# no Unicode control characters (Cc: U+0000-U+001F, U+007F-U+009F).
. "$(dirname "$0")/lib.sh"
start_server

rep() { local i; for i in $(seq 1 "$2"); do printf '%s' "$1"; done; }

# invalid_name FIELD DESC JSON_STRING_LITERAL: 422 naming exactly FIELD.
n=0
invalid_name() {
    n=$((n + 1))
    post /users "{\"login\":\"inv$n\",\"$1\":$3}"
    expect_problem 422 "$1: $2"
    expect_json '[.errors[].field]' "[\"$1\"]" "$1: $2: errors names $1 only"
}

for f in first_name last_name; do
    invalid_name $f "31 ASCII characters" "\"$(rep a 31)\""
    invalid_name $f "31 two-byte characters (é)" "\"$(rep é 31)\""
    invalid_name $f "31 emoji" "\"$(rep 😀 31)\""
    invalid_name $f 'U+0000 as \u0000' '"a\u0000b"'
    invalid_name $f 'U+0001 as \u0001' '"a\u0001"'
    invalid_name $f 'tab as \t' '"a\tb"'
    invalid_name $f 'newline as \n' '"a\nb"'
    invalid_name $f 'U+001F as \u001f' '"\u001f"'
    invalid_name $f 'U+007F (DEL) as \u007f' '"a\u007f"'
    invalid_name $f "U+007F as a raw byte" $'"a\x7f"'
    invalid_name $f 'U+0085 (NEL, C1) as \u0085' '"a\u0085b"'
    invalid_name $f "U+0085 as raw UTF-8 (C2 85)" $'"a\xc2\x85b"'
    invalid_name $f 'U+0080 as \u0080' '"\u0080"'
    invalid_name $f 'U+009F as \u009f' '"a\u009f"'
    invalid_name $f "a number" '42'
    invalid_name $f "true" 'true'
    invalid_name $f "an object" '{"a":"b"}'
    invalid_name $f "an array" '["Ann"]'
done

# Valid edges.
post /users "{\"login\":\"v1\",\"first_name\":\"$(rep a 30)\",\"last_name\":\"$(rep z 30)\"}"
expect_status 201 "30 ASCII characters in both names"
post /users "{\"login\":\"v2\",\"first_name\":\"$(rep é 30)\"}"
expect_status 201 "30 two-byte characters (60 bytes)"
expect_json '.first_name | length' 30
post /users "{\"login\":\"v3\",\"first_name\":\"$(rep 😀 30)\",\"last_name\":\"$(rep 🎉 30)\"}"
expect_status 201 "30 emoji (120 bytes) in both names"
expect_eq "$(json_get .first_name)" "$(rep 😀 30)" "30 emoji returned unchanged"
post /users '{"login":"v4","first_name":"\ud83d\ude00\ud83d\ude00"}'
expect_status 201 "escaped surrogate pairs are one code point each"
expect_eq "$(json_get .first_name)" "😀😀" "escaped surrogate pairs decoded to U+1F600"
post /users '{"login":"v5","first_name":"a\u00a0b","last_name":"\u00a0"}'
expect_status 201 "U+00A0 (no-break space, not Cc) accepted"
post /users '{"login":"v6","first_name":"","last_name":""}'
expect_status 201 "empty names accepted"
expect_json .first_name ""
post /users '{"login":"v7","first_name":"a\u2028b\u200bc"}'
expect_status 201 "U+2028 and U+200B (not Cc) accepted"
post /users '{"login":"v8","first_name":"\u009e\u00a1","last_name":"x"}'
expect_problem 422 "U+009E next to an allowed U+00A1"
expect_json '[.errors[].field]' '["first_name"]'
