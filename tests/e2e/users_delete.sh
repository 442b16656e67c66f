#!/usr/bin/env bash
# DELETE /users/{id} (second stage): 204 with no body; 404 when there is no
# such user (or the id is malformed); If-Match as for PATCH (412 and nothing
# deleted on a mismatch, `*` matches any existing user, 404 before 412). A
# deleted user's id is never reused - not even the highest one - and its
# login is free again.
. "$(dirname "$0")/lib.sh"
start_server

# expect_gone ID DESC: GET /users/ID is 404.
expect_gone() {
    get "/users/$1"
    expect_problem 404 "$2: GET /users/$1"
}

# expect_there ID DESC: GET /users/ID is 200.
expect_there() {
    get "/users/$1"
    expect_status 200 "$2: GET /users/$1 still 200"
}

create_user ann Ann
a=$USER_ID
create_user ben Ben
b=$USER_ID
create_user cyd Cyd
c=$USER_ID

# ---- 204, empty body, then 404 ----------------------------------------------------
delete "/users/$b"
expect_status 204 "DELETE /users/$b"
check "204 has an empty body" test ! -s "$RESP_BODY"
expect_no_header Content-Type "204 has no Content-Type"
expect_gone "$b" "after DELETE"
delete "/users/$b"
expect_problem 404 "DELETE /users/$b again"
request HEAD "/users/$b"
expect_status 404 "HEAD of a deleted user"
patch "/users/$b" '{"first_name":"Zombie"}'
expect_problem 404 "PATCH of a deleted user"
patch "/users/$b" '{}' application/merge-patch+json -H 'If-Match: *'
expect_problem 404 "PATCH of a deleted user with If-Match: *"
expect_there "$a" "the other users are untouched"
expect_there "$c" "the other users are untouched"
get /users
expect_json '[.items[].id]' "[$a,$c]" "the list no longer holds the deleted user"
get '/users?login=ben'
expect_json '.items | length' 0 "a login lookup does not find the deleted user"

# ---- the login is free again; the id is new and greater ------------------------------
create_user BEN "New Ben"
b2=$USER_ID
check "re-created login gets a new id ($b2 > $c, the highest so far)" test "$b2" -gt "$c"
expect_json .first_name "New Ben"
get "/users/$b"
expect_problem 404 "the old id stays gone after its login is reused"

# ---- never reused, even after deleting the highest id -------------------------------
delete "/users/$b2"
expect_status 204 "DELETE the highest id $b2"
create_user dan
d=$USER_ID
check "after deleting the highest id ($b2), the next id ($d) is greater" test "$d" -gt "$b2"
delete "/users/$d"
expect_status 204 "DELETE the highest id $d"
# ...also across a restart of the service.
start_server
create_user eve
e=$USER_ID
check "after a restart, the next id ($e) is greater than every deleted one ($d)" test "$e" -gt "$d"
expect_gone "$d" "after the restart"

# ---- malformed ids are 404; leading zeros name the user --------------------------------
for p in abc 0 00 -1 "-$a" "+$a" "${a}abc" "${a}.0" 1e3 99999999999999999999 \
         9223372036854775808 9223372036854775807 ""; do
    delete "/users/$p"
    expect_problem 404 "DELETE /users/$p"
done
delete "/users/$a/"
expect_problem 404 "DELETE /users/$a/ (trailing slash)"
expect_there "$a" "after the 404s"
delete "/users/000$a"
expect_status 204 "DELETE /users/000$a (leading zeros)"
expect_gone "$a" "after DELETE with leading zeros"

# ---- If-Match ----------------------------------------------------------------------------
get "/users/$c"
etag=$(header_value ETag)
expect_match "$etag" '^"[^"]+"$' "GET carries a strong ETag"
delete "/users/$c" -H 'If-Match: "0000000000000000"'
expect_problem 412 "DELETE with a non-matching If-Match"
expect_there "$c" "nothing deleted on 412"
delete "/users/$c" -H "If-Match: W/$etag"
expect_problem 412 "DELETE with the W/ form of the ETag (strong comparison)"
expect_there "$c" "nothing deleted on 412 (W/)"
# A changed user: the old ETag no longer matches.
patch "/users/$c" '{"first_name":"Changed"}'
expect_status 200
new_etag=$(header_value ETag)
delete "/users/$c" -H "If-Match: $etag"
expect_problem 412 "DELETE with the ETag before the last change"
expect_there "$c" "nothing deleted on 412 (stale ETag)"
delete "/users/$c" -H "If-Match: \"0000000000000000\", $new_etag"
expect_status 204 "DELETE with a list holding the current ETag"
expect_gone "$c" "after the conditional DELETE"
# 404 comes before 412.
delete "/users/$c" -H 'If-Match: "0000000000000000"'
expect_problem 404 "DELETE of a missing user with a wrong If-Match: 404"
delete "/users/$c" -H 'If-Match: *'
expect_problem 404 "DELETE of a missing user with If-Match: * : 404"
# `*` matches any existing user.
create_user fay
f=$USER_ID
delete "/users/$f" -H 'If-Match: *'
expect_status 204 "DELETE with If-Match: *"
expect_gone "$f" "after DELETE with If-Match: *"
create_user gus
g=$USER_ID
etag=$(header_value ETag)
delete "/users/$g" -H "If-Match: $etag"
expect_status 204 "DELETE with the ETag of the 201"
expect_gone "$g" "after DELETE with the 201's ETag"

# ---- the collection cannot be deleted ------------------------------------------------------
create_user hal
h=$USER_ID
delete /users
expect_problem 405 "DELETE /users (the collection)"
get /users
expect_json '.items | length' 2 "DELETE /users deleted nothing (eve, hal remain)"
expect_json '[.items[].id]' "[$e,$h]" "eve and hal remain"
