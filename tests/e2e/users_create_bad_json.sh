#!/usr/bin/env bash
# POST /users: everything that is not RFC 8259 JSON, not UTF-8 or not an
# object is 400 with a problem body, and nothing is stored.
. "$(dirname "$0")/lib.sh"
start_server

bad() {  # DESC BODY
    post /users "$2"
    expect_problem 400 "$1"
}

bad "empty body" ''
bad "truncated JSON" '{"login":'
bad "unterminated string" '{"login":"abc}'
bad "single quotes" "{'login':'abc'}"
bad "trailing comma" '{"login":"abc",}'
bad "trailing garbage" '{"login":"abc"} x'
bad "two objects" '{"login":"abc"}{"login":"abd"}'
bad "bare word" 'login'
bad "NaN value" '{"login":"abc","first_name":NaN}'
bad "comment" '{"login":"abc"/* c */}'

# Not a JSON object.
bad "array body" '[{"login":"abc"}]'
bad "string body" '"abc"'
bad "number body" '42'
bad "null body" 'null'
bad "true body" 'true'

# Not UTF-8.
bad "invalid UTF-8 byte 0xff in a string" $'{"login":"abc","first_name":"a\xffb"}'
bad "lone continuation byte 0x80" $'{"login":"abc","first_name":"\x80"}'
bad "overlong encoding of '/' (C0 AF)" $'{"login":"abc","first_name":"\xc0\xaf"}'
bad "UTF-8-encoded surrogate (ED A0 80)" $'{"login":"abc","first_name":"\xed\xa0\x80"}'
bad "truncated 4-byte sequence" $'{"login":"abc","first_name":"\xf0\x9f\x98"}'
bad "code point above U+10FFFF (F4 90 80 80)" $'{"login":"abc","first_name":"\xf4\x90\x80\x80"}'
bad "Latin-1 body (e9)" $'{"login":"abc","first_name":"Ren\xe9"}'

# Raw control bytes inside strings are not JSON.
bad "raw 0x01 in a string" $'{"login":"abc","first_name":"a\x01b"}'
bad "raw newline in a string" $'{"login":"abc","first_name":"a\nb"}'
bad "raw tab in a string" $'{"login":"abc","first_name":"a\tb"}'
bad "raw 0x1f in a key" $'{"login":"abc","\x1f":"x"}'

# Lone surrogate escapes.
bad 'lone high surrogate "\ud800"' '{"login":"abc","first_name":"\ud800"}'
bad 'lone low surrogate "\udc00"' '{"login":"abc","first_name":"\udc00"}'
bad 'reversed surrogate pair "\ude00\ud83d"' '{"login":"abc","first_name":"\ude00\ud83d"}'
bad 'high surrogate followed by a letter' '{"login":"abc","first_name":"\ud83dx"}'
bad 'invalid escape "\x41"' '{"login":"abc","first_name":"\x41"}'

# Duplicate keys in one object.
bad "duplicate key login" '{"login":"dupkey","login":"dupkey"}'
bad "duplicate key first_name" '{"login":"dupkey","first_name":"a","first_name":"b"}'
bad "duplicate key with different escapes" '{"login":"dupkey","\u006cogin":"dupkey"}'

# Nothing of the above was stored: the logins are still free.
post /users '{"login":"abc"}'
expect_status 201 "login 'abc' still free after the 400s"
post /users '{"login":"dupkey"}'
expect_status 201 "login 'dupkey' still free after the 400s"
