#!/usr/bin/env bash
# ETags and conditional requests (second stage, RFC 9110): every single-user
# response (POST 201, GET, PATCH) carries a strong ETag ("…", no W/) that is
# stable while the user is unchanged and changes when it changes.
# GET with If-None-Match uses weak comparison: the exact tag, its W/ form, a
# list holding it, or `*` -> 304 with the ETag and no body; anything else 200.
# If-Match uses strong comparison: the W/ form never matches (412).
. "$(dirname "$0")/lib.sh"
start_server

STRONG_RE='^"[^"[:cntrl:]]*"$'

# expect_304 INM DESC: GET /users/$id with If-None-Match INM is 304 with the
# current ETag and no body.
expect_304() {
    get "/users/$id" -H "If-None-Match: $1"
    expect_status 304 "$2 -> 304"
    check "$2: 304 has no body" test ! -s "$RESP_BODY"
    expect_eq "$(header_value ETag)" "$etag" "$2: 304 carries the current ETag"
}

# expect_200 INM DESC: GET with If-None-Match INM is a full 200.
expect_200() {
    get "/users/$id" -H "If-None-Match: $1"
    expect_status 200 "$2 -> 200"
    expect_user "$2"
    expect_eq "$(header_value ETag)" "$etag" "$2: 200 carries the current ETag"
}

# ---- every single-user response carries a strong ETag ----------------------------
create_user etta Etta James
id=$USER_ID
etag=$(header_value ETag)
expect_match "$etag" "$STRONG_RE" "POST 201 carries a strong ETag ($etag)"
check "the ETag is not weak" test "${etag#W/}" = "$etag"
get "/users/$id"
expect_status 200
expect_eq "$(header_value ETag)" "$etag" "GET returns the ETag of the 201 (same representation)"
get "/users/$id"
expect_eq "$(header_value ETag)" "$etag" "the ETag is stable across GETs"
get "/users/00$id"
expect_eq "$(header_value ETag)" "$etag" "GET /users/00$id: the same ETag"
request HEAD "/users/$id"
expect_status 200 "HEAD /users/$id"
expect_eq "$(header_value ETag)" "$etag" "HEAD carries the ETag of GET"
check "exactly one ETag field" test "$(grep -ci '^etag:' "$RESP_HEADERS")" = 1

create_user other
other=$USER_ID
other_etag=$(header_value ETag)
check "two users have different ETags" test "$other_etag" != "$etag"

# ---- If-None-Match: weak comparison -> 304 ------------------------------------------
expect_304 "$etag" "If-None-Match: the exact ETag"
expect_304 "W/$etag" "If-None-Match: its W/ form (weak comparison)"
expect_304 "$other_etag, $etag" "If-None-Match: a list holding it"
expect_304 "\"x\",W/$etag" "If-None-Match: a list holding its W/ form"
expect_304 "*" "If-None-Match: *"
request HEAD "/users/$id" -H "If-None-Match: $etag"
expect_status 304 "HEAD with If-None-Match: the current ETag -> 304"
expect_eq "$(header_value ETag)" "$etag" "HEAD 304 carries the ETag"
expect_200 "$other_etag" "If-None-Match: another user's ETag"
expect_200 '"0000000000000000"' "If-None-Match: a different tag"
expect_200 "W/$other_etag, \"x\"" "If-None-Match: a list without it"
expect_200 "${etag%\"}x\"" "If-None-Match: the ETag with an extra character"
# Conditional reads of a missing user: 404, whatever the condition.
get "/users/$((other + 1000))" -H 'If-None-Match: *'
expect_problem 404 "If-None-Match: * on a missing user"
get "/users/$((other + 1000))" -H "If-None-Match: $etag"
expect_problem 404 "If-None-Match on a missing user"

# ---- a change changes the ETag --------------------------------------------------------
old=$etag
patch "/users/$id" '{"first_name":"Ett"}'
expect_status 200 "PATCH"
etag=$(header_value ETag)
expect_match "$etag" "$STRONG_RE" "PATCH 200 carries a strong ETag"
check "the ETag changed with the user ($old -> $etag)" test "$etag" != "$old"
get "/users/$id"
expect_eq "$(header_value ETag)" "$etag" "GET after PATCH returns the PATCH's ETag"
expect_200 "$old" "If-None-Match: the ETag before the change"
expect_304 "$etag" "If-None-Match: the ETag after the change"
# Back to the old values: updated_at differs, so the ETag is new again.
patch "/users/$id" '{"first_name":"Etta"}'
expect_status 200
check "changing back gives yet another ETag (updated_at moved)" test "$(header_value ETag)" != "$old"
etag=$(header_value ETag)
# A no-op PATCH keeps the ETag.
patch "/users/$id" '{}'
expect_status 200 "no-op PATCH"
expect_eq "$(header_value ETag)" "$etag" "a no-op PATCH keeps the ETag"
expect_304 "$etag" "If-None-Match after a no-op PATCH"

# ---- If-Match: strong comparison ---------------------------------------------------------
patch "/users/$id" '{"last_name":"Weak"}' application/merge-patch+json -H "If-Match: W/$etag"
expect_problem 412 "If-Match: W/ form of the current ETag"
patch "/users/$id" '{"last_name":"Weak"}' application/merge-patch+json \
    -H "If-Match: W/\"x\", W/$etag"
expect_problem 412 "If-Match: a list of weak tags only"
get "/users/$id"
expect_json .last_name James "nothing changed on the 412s"
expect_eq "$(header_value ETag)" "$etag" "the ETag did not change on the 412s"
patch "/users/$id" '{"last_name":"Strong"}' application/merge-patch+json -H "If-Match: $etag"
expect_status 200 "If-Match: the current strong ETag"
expect_json .last_name Strong
# The representation a 304 stands for is the one a 200 would send.
etag=$(header_value ETag)
get "/users/$id"
expect_eq "$(header_value ETag)" "$etag" "the ETag of PATCH's 200 is the one GET has"
