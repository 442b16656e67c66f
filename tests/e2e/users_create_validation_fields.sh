#!/usr/bin/env bash
# POST /users: unknown keys and read-only keys are 422, and the problem body
# lists every offending field.
. "$(dirname "$0")/lib.sh"
start_server

post /users '{"login":"u1","firstname":"Ann"}'
expect_problem 422 "unknown field firstname"
expect_json '.errors' '[{"field":"firstname","message":"unknown field"}]' \
    'errors is [{"field":"firstname","message":"unknown field"}]'

post /users '{"login":"u1","Login":"u1"}'
expect_problem 422 "keys are case-sensitive: Login is unknown"
expect_json '[.errors[].field]' '["Login"]'

post /users '{"login":"u1","first_name":"A","extra":null}'
expect_problem 422 "unknown field with a null value"
expect_json '[.errors[].field]' '["extra"]'

post /users '{"login":"u1","id":5}'
expect_problem 422 "id is read-only"
expect_json '[.errors[].field]' '["id"]'
post /users '{"login":"u1","created_at":"2020-01-01T00:00:00.000000Z"}'
expect_problem 422 "created_at is read-only"
expect_json '[.errors[].field]' '["created_at"]'
post /users '{"login":"u1","id":null,"created_at":null}'
expect_problem 422 "id and created_at read-only even as null"
expect_json '[.errors[].field] | sort' '["created_at","id"]'

# Every offending field is listed, each once.
post /users '{"login":"","firstname":"x","last_name":5}'
expect_problem 422 "three bad fields"
expect_json '[.errors[].field] | sort' '["firstname","last_name","login"]' \
    "errors lists login, firstname and last_name"
expect_jq '.errors | all(has("field") and has("message") and (.message | length > 0))' \
    "each error has field and message"
expect_json '.errors | length' 3 "exactly three errors"

post /users '{"first_name":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","last_name":"\u0007","nick":1,"id":1}'
expect_problem 422 "missing login plus four other bad fields"
expect_json '[.errors[].field] | sort' '["first_name","id","last_name","login","nick"]' \
    "errors lists every offending field"

# None of the invalid requests created u1.
post /users '{"login":"u1"}'
expect_status 201 "login u1 still free after the 422s"
