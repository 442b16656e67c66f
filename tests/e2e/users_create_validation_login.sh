#!/usr/bin/env bash
# POST /users: the login rule (1-30 of A-Z a-z 0-9 . _ -, required, a string).
. "$(dirname "$0")/lib.sh"
start_server

# invalid_login DESC BODY: 422 naming exactly the field login.
invalid_login() {
    post /users "$2"
    expect_problem 422 "$1"
    expect_json '[.errors[].field]' '["login"]' "$1: errors names login only"
    expect_jq '.errors | all(.message | type == "string" and length > 0)' "$1: errors have messages"
}

invalid_login "missing login" '{"first_name":"x"}'
invalid_login "empty object" '{}'
invalid_login "empty login" '{"login":""}'
invalid_login "31-character login" "{\"login\":\"$(printf 'a%.0s' $(seq 1 31))\"}"
invalid_login "login with a space" '{"login":"a b"}'
invalid_login "login with @" '{"login":"a@b"}'
invalid_login "login with /" '{"login":"a/b"}'
invalid_login "login with +" '{"login":"a+b"}'
invalid_login "login with a quote" "{\"login\":\"a'b\"}"
invalid_login "login with é" '{"login":"José"}'
invalid_login "login with a fullwidth A (U+FF21)" '{"login":"\uff21bc"}'
invalid_login "login with the Kelvin sign (U+212A)" '{"login":"\u212aelvin"}'
invalid_login "login with NUL escape" '{"login":"ab\u0000"}'
invalid_login "login with a newline escape" '{"login":"ab\n"}'
invalid_login "login with a trailing space" '{"login":"abc "}'
invalid_login "login is a number" '{"login":42}'
invalid_login "login is null" '{"login":null}'
invalid_login "login is true" '{"login":true}'
invalid_login "login is an array" '{"login":["abc"]}'
invalid_login "login is an object" '{"login":{"v":"abc"}}'

# Valid edges.
l30=$(printf 'b%.0s' $(seq 1 30))
post /users "{\"login\":\"$l30\"}"
expect_status 201 "30-character login"
expect_json .login "$l30"
post /users '{"login":"x"}'
expect_status 201 "1-character login"
post /users '{"login":"AZaz09._-"}'
expect_status 201 "every allowed character class"
expect_json .login AZaz09._-
post /users '{"login":"..."}'
expect_status 201 "login of dots only"
post /users '{"login":"-_-"}'
expect_status 201 "login starting with -"
post /users '{"login":"\u0061\u0062c"}'
expect_status 201 'escaped ASCII in login ("\u0061\u0062c")'
expect_json .login abc
