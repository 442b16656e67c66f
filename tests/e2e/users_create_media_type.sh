#!/usr/bin/env bash
# POST /users: the body must be declared JSON (415 otherwise); parameters and
# the case of the media type do not matter.
. "$(dirname "$0")/lib.sh"
start_server

body='{"login":"mt"}'
post /users "$body" -
expect_problem 415 "no Content-Type"
post /users "$body" text/plain
expect_problem 415 "Content-Type text/plain"
post /users "$body" application/x-www-form-urlencoded
expect_problem 415 "Content-Type application/x-www-form-urlencoded"
post /users "$body" application/xml
expect_problem 415 "Content-Type application/xml"
post /users "$body" application/jsonx
expect_problem 415 "Content-Type application/jsonx (not a prefix match)"
post /users "$body" 'text/json'
expect_problem 415 "Content-Type text/json"
post /users "$body" 'multipart/form-data; boundary=x'
expect_problem 415 "Content-Type multipart/form-data"
post /users "$body" ''
expect_problem 415 "empty Content-Type"
post /users 'not json at all' text/plain
expect_problem 415 "text/plain with a non-JSON body is 415 (media type checked first)"

# Accepted forms.
post /users '{"login":"mt1"}' 'application/json; charset=utf-8'
expect_status 201 "application/json; charset=utf-8"
post /users '{"login":"mt2"}' 'application/json;charset=UTF-8'
expect_status 201 "application/json;charset=UTF-8"
post /users '{"login":"mt3"}' 'Application/JSON'
expect_status 201 "media type is case-insensitive (Application/JSON)"
post /users '{"login":"mt4"}' 'application/json ; charset="utf-8"'
expect_status 201 'application/json ; charset="utf-8"'

# Nothing was stored by the 415s.
post /users "$body"
expect_status 201 "login 'mt' still free after the 415s"
