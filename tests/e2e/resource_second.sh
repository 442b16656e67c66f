#!/usr/bin/env bash
# A second resource with no code of its own (issue 14): usersvc-testapp is the
# product's main.c and handlers serving, besides /users, the test-only
# models of tests/resource/ (widgets, and wide with 14 writable columns),
# whose tables come from a test-only migration set. Everything here runs
# through handlers/resource.c, the code path of /users: create (201,
# Location), get with ETag and 304, list with a filter and Link pages, 422
# in the model's words, 409 with the model's detail, PATCH of chosen
# columns (checked in the database), 412, delete, 404. Runs per backend.
USERSVC_BIN=${USERSVC_TESTAPP_BIN:-$(dirname "$0")/../../build/tests/resource/usersvc-testapp}
# The test-only resources are not part of the API (openapi.json): the openapi
# suite, which records every e2e response, leaves this test's out.
unset USERSVC_RECORD_DIR
. "$(dirname "$0")/lib.sh"
start_server

# --- widgets: the users shape with another model ---------------------------
post /widgets '{"name":"Gear","note":"round"}'
expect_status 201 "POST /widgets"
expect_json .name Gear
expect_json .note round
expect_jq '(.id | type == "number") and (.created_at | type == "string") and
           (.updated_at | type == "string")' "widget has id and timestamps"
wid=$(json_get .id)
expect_header Location "^/widgets/$wid\$" "Location names the new widget"

get "/widgets/$wid"
expect_status 200 "GET /widgets/$wid"
expect_json .name Gear
etag=$(header_value ETag)
check "GET has an ETag" test -n "$etag"
get "/widgets/$wid" -H "If-None-Match: $etag"
expect_status 304 "GET with its ETag -> 304"

post /widgets '{"name":"GEAR"}'
expect_problem 409 "POST /widgets with a name taken in other case"
expect_json .detail "a widget of that name exists" "409 detail comes from the widgets model"

post /widgets '{"note":"x","size":3}'
expect_problem 422 "POST /widgets without name and with an unknown key"
expect_jq '[.errors[].field] | sort == ["name","size"]' "422 names both fields"

for n in Bolt Cog Dial; do
    post /widgets "{\"name\":\"$n\"}"
    expect_status 201 "POST /widgets $n"
done
get "/widgets?limit=2"
expect_status 200 "GET /widgets?limit=2"
expect_jq '.items | length == 2' "first page has 2 widgets"
expect_header Link '^</widgets\?after=[0-9]+&limit=2>; rel="next"$' "Link to the next page"
get "/widgets?name=cog"
expect_status 200 "GET /widgets?name=cog"
expect_jq '[.items[].name] == ["Cog"]' "filter by name, without case"
get "/widgets?login=x"
expect_problem 400 "users' filter is not the widgets' one"

patch "/widgets/$wid" '{"note":null}' application/merge-patch+json -H "If-Match: \"nope\""
expect_problem 412 "PATCH /widgets with a stale If-Match"
patch "/widgets/$wid" '{"note":null}' application/merge-patch+json -H "If-Match: $etag"
expect_status 200 "PATCH /widgets/$wid with its ETag"
expect_json .note null
expect_json .name Gear

delete "/widgets/$wid"
expect_status 204 "DELETE /widgets/$wid"
get "/widgets/$wid"
expect_problem 404 "GET a deleted widget"
expect_json .detail "no widget with id $wid" "404 detail in the model's words"

# --- wide: PATCH of chosen columns among 14 --------------------------------
post /wide '{"c01":"a1","c02":"a2","c03":"a3","c04":"a4","c05":"a5","c06":"a6","c07":"a7",
            "c08":"a8","c09":"a9","c10":"a10","c11":"a11","c12":"a12","code":"K","tag":"T"}'
expect_status 201 "POST /wide with 14 columns"
rid=$(json_get .id)

# patch_cols N...: PATCH columns cNN to "pN" and check every column in the
# database: exactly those changed.
declare -A want=([c01]=a1 [c02]=a2 [c03]=a3 [c04]=a4 [c05]=a5 [c06]=a6 [c07]=a7 [c08]=a8
                 [c09]=a9 [c10]=a10 [c11]=a11 [c12]=a12 [code]=K [tag]=T)
cols=(c01 c02 c03 c04 c05 c06 c07 c08 c09 c10 c11 c12 code tag)
round=0
patch_cols() {
    local body= sep= c got expect_row= got_row
    round=$((round + 1))
    for c in "$@"; do
        body="$body$sep\"$c\":\"r$round$c\""
        sep=,
        want[$c]=r$round$c
    done
    patch "/wide/$rid" "{$body}" application/merge-patch+json
    expect_status 200 "PATCH /wide/$rid ($*)"
    for c in "${cols[@]}"; do
        expect_row="$expect_row${want[$c]}|"
    done
    got_row=$(db_exec "SELECT $(IFS=,; echo "${cols[*]}") FROM wide WHERE id = $rid" \
              | tr '\t' '|')
    expect_eq "$got_row|" "$expect_row" "database row after PATCH ($*): only those changed"
}
patch_cols c01 c06          # the issue's "columns 1 and 6"
patch_cols c12 tag
patch_cols c02 c03 c05 c07 c11 code
patch_cols "${cols[@]}"
patch_cols c09

post /wide '{"tag":"T-other"}'
expect_status 201 "POST a second wide row"
patch "/wide/$(json_get .id)" "{\"code\":\"${want[code]}\"}" application/merge-patch+json
expect_problem 409 "PATCH to a code another row has"
expect_json .detail "code is already taken" "409 names the column the database named"

# /users is still there, unchanged, beside them.
post /users '{"login":"alice"}'
expect_status 201 "POST /users on the same server"
expect_user
