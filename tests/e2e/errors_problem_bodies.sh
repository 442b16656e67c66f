#!/usr/bin/env bash
# Every error is an RFC 9457 problem (application/problem+json with type,
# title, status, detail) and never shows SQL, driver text, paths or secrets.
. "$(dirname "$0")/lib.sh"
start_server --max-body-bytes 2048

reason() {
    case $1 in
        400) echo 'Bad Request' ;;
        404) echo 'Not Found' ;;
        405) echo 'Method Not Allowed' ;;
        409) echo 'Conflict' ;;
        413) echo 'Content Too Large|Payload Too Large|Request Entity Too Large' ;;
        415) echo 'Unsupported Media Type' ;;
        422) echo 'Unprocessable Content|Unprocessable Entity' ;;
    esac
}

problem() {  # STATUS DESC
    local st=$1 desc=$2 w
    expect_problem "$st" "$desc"
    if [ "$(json_get .type)" = about:blank ]; then
        expect_match "$(json_get .title)" "^($(reason "$st"))\$" \
            "$desc: type about:blank has the status phrase as title"
    else
        expect_match "$(json_get .type)" '^[a-z][a-z0-9+.-]*:' "$desc: type is a URI"
    fi
    for w in SELECT INSERT constraint sqlite SQLSTATE "duplicate key" "Duplicate entry" \
             /tmp/ usersvc-pw; do
        expect_body_not_contains "$w" "$desc: body does not contain '$w'"
    done
}

post /users '{"login":"taken"}'
expect_status 201
post /users '{"login":"TAKEN"}'
problem 409 "409 duplicate login"
post /users '{"login":"x","first_name":1,"bogus":2}'
problem 422 "422 validation"
expect_jq '.errors | type == "array" and length == 2' "422 errors is an array of 2"
post /users '{"login":'
problem 400 "400 truncated JSON"
post /users '{"login":"a","login":"b"}'
problem 400 "400 duplicate key"
post /users "{\"login\":\"x\",\"first_name\":\"$(head -c 3000 /dev/zero | tr '\0' a)\"}"
problem 413 "413 too large"
post /users '{"login":"x"}' text/plain
problem 415 "415 media type"
get /users/424242
problem 404 "404 no such user"
get /nowhere
problem 404 "404 unknown path"
request PUT /users
problem 405 "405 wrong method"
