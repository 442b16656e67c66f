#!/usr/bin/env bash
# Names round-trip byte-for-byte (emoji, combining marks, RTL, CJK, ...) on
# the 201 and on later GETs; no normalisation, no re-encoding.
. "$(dirname "$0")/lib.sh"
start_server

sha() { sha256sum | cut -d' ' -f1; }

# roundtrip DESC NAME: NAME (raw bytes) sent as first_name and last_name.
n=0
roundtrip() {
    local desc=$1 name=$2 want got id
    n=$((n + 1))
    want=$(printf '%s' "$name" | sha)
    jq -cn --arg l "utf$n" --arg f "$name" '{login: $l, first_name: $f, last_name: $f}' \
        >"$TMP/rt.json"
    post_file /users "$TMP/rt.json"
    expect_status 201 "$desc: 201"
    id=$(json_get .id)
    got=$(jq -j .first_name "$RESP_BODY" | sha)
    expect_eq "$got" "$want" "$desc: first_name in the 201 body is byte-identical"
    get "/users/$id"
    expect_status 200 "$desc: GET"
    got=$(jq -j .first_name "$RESP_BODY" | sha)
    expect_eq "$got" "$want" "$desc: first_name from GET is byte-identical"
    got=$(jq -j .last_name "$RESP_BODY" | sha)
    expect_eq "$got" "$want" "$desc: last_name from GET is byte-identical"
    if [ "$got" != "$want" ]; then
        diag "sent: $(printf '%s' "$name" | od -An -tx1 | tr -s ' ' | head -c 200)"
        diag "got:  $(jq -j .last_name "$RESP_BODY" | od -An -tx1 | tr -s ' ' | head -c 200)"
    fi
}

roundtrip "emoji (4-byte UTF-8)" "😀🎉🚀"
roundtrip "ZWJ family sequence" "👩‍👩‍👧‍👦"
roundtrip "flag (regional indicators)" "🇫🇷🇯🇵"
roundtrip "skin tone modifier" "👍🏽"
roundtrip "decomposed é (e + U+0301), not normalised" $'e\xcc\x81'
roundtrip "precomposed é (U+00E9)" $'\xc3\xa9'
roundtrip "CJK" "山田太郎"
roundtrip "Arabic (RTL)" "محمد"
roundtrip "Hangul" "김민준"
roundtrip "mathematical bold (U+1D400)" "𝐀𝐁𝐂"
roundtrip "U+FFFD replacement character" "�"
roundtrip "U+FEFF inside the text" $'a\xef\xbb\xbfb'
roundtrip "U+10FFFF (highest code point)" $'\xf4\x8f\xbf\xbf'
roundtrip "U+FFFF (noncharacter, valid UTF-8)" $'\xef\xbf\xbf'
roundtrip "quotes and backslashes" 'O'"'"'Brien "The \ Hammer"'
roundtrip "SQL-looking text" "'); DROP TABLE users; --"
roundtrip "percent and format specifiers" '%s%n%d%%'
roundtrip "leading and trailing spaces" "  padded  "
roundtrip "NBSP and zero-width space" $'\xc2\xa0\xe2\x80\x8b'

# The same emoji sent escaped as a surrogate pair comes back as the same code point.
post /users '{"login":"esc1","first_name":"\ud83d\ude00"}'
expect_status 201 "escaped surrogate pair"
expect_eq "$(jq -j .first_name "$RESP_BODY" | od -An -tx1 | tr -d ' \n')" "f09f9880" \
    "\\ud83d\\ude00 is stored as U+1F600 (f0 9f 98 80)"

# The service still works after the SQL-looking name.
post /users '{"login":"after"}'
expect_status 201 "table intact after the SQL-looking name"
