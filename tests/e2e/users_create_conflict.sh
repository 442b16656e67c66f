#!/usr/bin/env bash
# POST /users: a login is unique case-insensitively (409), stored as given.
. "$(dirname "$0")/lib.sh"
start_server

post /users '{"login":"Alice","first_name":"First"}'
expect_status 201 "create Alice"
alice_id=$(json_get .id)

for l in alice ALICE aLiCe Alice; do
    post /users "{\"login\":\"$l\",\"first_name\":\"Second\"}"
    expect_problem 409 "login $l conflicts with Alice"
done

get "/users/$alice_id"
expect_status 200
expect_json .login Alice "the first user keeps its login as given"
expect_json .first_name First "the first user is unchanged by the 409s"

post /users '{"login":"alice2"}'
expect_status 201 "a different login (alice2) is fine"
post /users '{"login":"al1ce"}'
expect_status 201 "al1ce does not conflict with Alice"

post /users '{"login":"bob.-_"}'
expect_status 201 "create bob.-_"
post /users '{"login":"BOB.-_"}'
expect_problem 409 "BOB.-_ conflicts with bob.-_"

# A 409 must not be confused with validation: a bad request with a taken
# login is 422 (body errors decided before the conflict).
post /users '{"login":"alice","firstname":"x"}'
expect_status 422 "taken login plus an unknown field is 422"
