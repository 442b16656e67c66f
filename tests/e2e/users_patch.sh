#!/usr/bin/env bash
# PATCH /users/{id} (second stage): JSON merge patch (RFC 7396) or plain JSON;
# null clears a name, login cannot be null; the create rules, 422 and 409
# apply; unknown or read-only keys are 422; a patch that changes nothing is
# 200 with updated_at and ETag as they were; a real change moves updated_at
# (never created_at) and the ETag. Errors come in the order 404, 412,
# 415/413/400/422, 409; ids follow the GET rules.
. "$(dirname "$0")/lib.sh"
start_server

MP=application/merge-patch+json

# snapshot NAME: keep the user body of the last response and its ETag.
snapshot() {
    jq -cS . "$RESP_BODY" >"$TMP/snap.$1.json" 2>/dev/null || : >"$TMP/snap.$1.json"
    header_value ETag >"$TMP/snap.$1.etag"
}

# expect_unchanged ID NAME DESC: GET ID returns the snapshot NAME, byte for
# byte (as JSON), with the same ETag.
expect_unchanged() {
    local id=$1 name=$2 desc=$3
    get "/users/$id"
    expect_status 200 "$desc: GET /users/$id"
    expect_eq "$(jq -cS . "$RESP_BODY")" "$(cat "$TMP/snap.$name.json")" "$desc: user unchanged"
    expect_eq "$(header_value ETag)" "$(cat "$TMP/snap.$name.etag")" "$desc: ETag unchanged"
}

# body_of_size SIZE: a valid merge patch of exactly SIZE bytes (whitespace padding).
body_of_size() {
    local head='{"first_name":"Big"' pad
    pad=$(( $1 - ${#head} - 1 ))
    { printf '%s' "$head"; head -c "$pad" /dev/zero | tr '\0' ' '; printf '}'; } >"$TMP/sized.json"
    [ "$(wc -c <"$TMP/sized.json")" -eq "$1" ] || bail "body_of_size $1"
}

create_user alice Alice Liddell
id=$USER_ID
snapshot created
created_at=$(json_get .created_at)
expect_json .updated_at "$created_at" "at creation updated_at == created_at"
sleep 0.01   # let the clock move past the creation stamp

# ---- a real change ---------------------------------------------------------
patch "/users/$id" '{"first_name":"Alicia"}'
expect_status 200 "PATCH first_name (merge-patch+json)"
expect_user "PATCH /users/$id"
expect_json .id "$id"
expect_json .login alice "login untouched"
expect_json .first_name Alicia "first_name changed"
expect_json .last_name Liddell "last_name untouched (absent key = no change)"
expect_json .created_at "$created_at" "created_at never changes"
u1=$(json_get .updated_at)
check "updated_at ($u1) > created_at ($created_at)" test "$u1" '>' "$created_at"
e1=$(header_value ETag)
expect_match "$e1" '^"[^"]+"$' "PATCH response carries a strong ETag"
check "the ETag changed with the user" test "$e1" != "$(cat "$TMP/snap.created.etag")"
snapshot p1
expect_unchanged "$id" p1 "the PATCH response is what GET returns"

# application/json is accepted too, with or without charset; case does not matter.
patch "/users/$id" '{"last_name":"Pleasance"}' application/json
expect_status 200 "PATCH with application/json"
expect_json .last_name Pleasance
patch "/users/$id" '{"last_name":"L1"}' "$MP; charset=utf-8"
expect_status 200 "PATCH with merge-patch+json; charset=utf-8"
expect_json .last_name L1
patch "/users/$id" '{"last_name":"L2"}' 'Application/Merge-Patch+JSON'
expect_status 200 "media type is case-insensitive"
expect_json .last_name L2
patch "/users/$id" '{"last_name":"L3"}' 'application/json; charset="UTF-8"'
expect_status 200 'application/json; charset="UTF-8"'
expect_json .last_name L3
# Several keys at once.
patch "/users/$id" '{"first_name":"A","last_name":"B","login":"alice2"}'
expect_status 200 "PATCH of three keys"
expect_json '[.login,.first_name,.last_name]' '["alice2","A","B"]' "all three changed"
patch "/users/$id" '{"login":"alice"}'
expect_status 200 "login back to alice"
# Emoji round trip through PATCH, 30 code points is the limit.
emoji30=$(printf '\xF0\x9F\x98\x80%.0s' $(seq 1 30))
patch "/users/$id" "{\"first_name\":\"$emoji30\"}"
expect_status 200 "first_name of 30 emoji"
expect_json .first_name "$emoji30" "30 emoji returned as sent"
get "/users/$id"
expect_json .first_name "$emoji30" "30 emoji stored byte for byte"

# ---- null clears a name; login cannot be null ---------------------------------
patch "/users/$id" '{"last_name":null}'
expect_status 200 "last_name null"
expect_json .last_name null "last_name cleared"
expect_json 'has("last_name")' true "last_name key still present"
get "/users/$id"
expect_json .last_name null "GET: last_name is null"
patch "/users/$id" '{"first_name":null,"last_name":null}'
expect_status 200 "both names null"
expect_json '[.first_name,.last_name]' '[null,null]'
snapshot nulls
patch "/users/$id" '{"login":null}'
expect_problem 422 "login null"
expect_json '[.errors[].field]' '["login"]' "login null: errors names login"
expect_unchanged "$id" nulls "after login null"

# ---- 422: the create rules, unknown and read-only keys ----------------------------
bad422() {  # BODY FIELDS_JSON DESC
    patch "/users/$id" "$1"
    expect_problem 422 "$3"
    expect_json '[.errors[].field]' "$2" "$3: errors lists $2"
    expect_jq 'all(.errors[]; (.message | type == "string") and (.message | length > 0))' \
        "$3: every error has a message"
}
bad422 '{"firstname":"x"}' '["firstname"]' "unknown key firstname"
bad422 '{"Login":"x"}' '["Login"]' "keys are case-sensitive"
bad422 '{"email":null}' '["email"]' "unknown key with null"
bad422 '{"id":5}' '["id"]' "id is read-only"
bad422 "{\"id\":$id}" '["id"]' "id is read-only even unchanged"
bad422 "{\"created_at\":\"$created_at\"}" '["created_at"]' "created_at is read-only"
bad422 '{"updated_at":"2030-01-01T00:00:00.000000Z"}' '["updated_at"]' "updated_at is read-only"
bad422 '{"login":""}' '["login"]' "empty login"
bad422 '{"login":"no spaces"}' '["login"]' "login with a space"
bad422 "{\"login\":\"$(printf 'a%.0s' $(seq 1 31))\"}" '["login"]' "31-character login"
bad422 '{"login":42}' '["login"]' "login of the wrong type"
bad422 '{"first_name":7}' '["first_name"]' "first_name number"
bad422 '{"first_name":{"a":1}}' '["first_name"]' "first_name object"
bad422 '{"last_name":["x"]}' '["last_name"]' "last_name array"
bad422 "{\"first_name\":\"$(printf 'x%.0s' $(seq 1 31))\"}" '["first_name"]' "31-character name"
bad422 "{\"first_name\":\"${emoji30}x\"}" '["first_name"]' "31 code points (emoji)"
bad422 '{"first_name":"a\u0007b"}' '["first_name"]' "control character U+0007"
bad422 '{"first_name":"a\u0085b"}' '["first_name"]' "C1 control U+0085"
bad422 '{"first_name":"a\u0000b"}' '["first_name"]' "U+0000"
bad422 '{"zzz":1,"login":"a b","created_at":null,"last_name":5}' \
    '["zzz","login","created_at","last_name"]' "every offending key is listed, in body order"
expect_unchanged "$id" nulls "after the 422s"

# ---- 409: the login is taken (case-insensitively) -------------------------------------
create_user bob
bob=$USER_ID
get "/users/$bob"
snapshot bob
for l in bob BOB Bob bOb; do
    patch "/users/$id" "{\"login\":\"$l\",\"first_name\":\"Thief\"}"
    expect_problem 409 "login $l taken by bob"
done
expect_unchanged "$id" nulls "after the 409s"
expect_unchanged "$bob" bob "bob after the 409s"
# 422 comes before 409.
patch "/users/$id" '{"login":"BOB","first_name":7}'
expect_problem 422 "taken login and an invalid name: 422 first"
expect_json '[.errors[].field]' '["first_name"]' "the 422 lists first_name only"
# A user's own login in another case is a change, not a conflict.
sleep 0.01
patch "/users/$id" '{"login":"ALICE"}'
expect_status 200 "own login in another case"
expect_json .login ALICE "login stored exactly as given"
check "a case change moves updated_at" test "$(json_get .updated_at)" '>' \
    "$(jq -r .updated_at "$TMP/snap.nulls.json")"
check "a case change moves the ETag" test "$(header_value ETag)" != "$(cat "$TMP/snap.nulls.etag")"
patch "/users/$id" '{"login":"alice"}'
expect_status 200 "login back"
# The old login of a renamed user is free again.
patch "/users/$bob" '{"login":"robert"}'
expect_status 200 "bob renamed to robert"
create_user BOB
expect_json .login BOB "the old login is free after a rename"

# ---- a PATCH that changes nothing ------------------------------------------------------
patch "/users/$id" '{"first_name":"Same","last_name":"Values"}'
expect_status 200
get "/users/$id"
snapshot same
sleep 0.01
for body in '{}' '{"first_name":"Same"}' '{"first_name":"Same","last_name":"Values","login":"alice"}' \
            '{"login":"alice"}'; do
    patch "/users/$id" "$body"
    expect_status 200 "no-op PATCH $body"
    expect_eq "$(jq -cS . "$RESP_BODY")" "$(cat "$TMP/snap.same.json")" \
        "no-op PATCH $body: body unchanged (updated_at too)"
    expect_eq "$(header_value ETag)" "$(cat "$TMP/snap.same.etag")" "no-op PATCH $body: same ETag"
done
patch "/users/$id" '{}' application/json -H "If-Match: $(cat "$TMP/snap.same.etag")"
expect_status 200 "no-op PATCH with a matching If-Match"
patch "/users/$id" '{"last_name":null}'
expect_status 200
snapshot lnull
patch "/users/$id" '{"last_name":null}'
expect_status 200 "null on a null name is a no-op"
expect_eq "$(jq -cS . "$RESP_BODY")" "$(cat "$TMP/snap.lnull.json")" "null on null: unchanged"
expect_unchanged "$id" lnull "after the no-op PATCHes"

# ---- 400: the body is not a JSON object, or not JSON ---------------------------------------
for body in '[]' '[{"first_name":"x"}]' '"x"' '1' 'null' 'true' '' 'not json' '{"first_name":' \
            '{"first_name":"a","first_name":"b"}' '{"first_name":"\ud800"}' \
            "$(printf '{"first_name":"a\x01b"}')" "$(printf '{"first_name":"\xff"}')"; do
    patch "/users/$id" "$body"
    expect_problem 400 "PATCH body $(printf '%s' "$body" | head -c 40 | cat -v)"
done
expect_unchanged "$id" lnull "after the 400s"

# ---- 415: other media types --------------------------------------------------------------
for ct in - text/plain application/json-patch+json application/x-www-form-urlencoded \
          application/merge-patch application/xml "$MP; charset=latin1" \
          'application/json; charset=iso-8859-1' ''; do
    patch "/users/$id" '{"first_name":"Nope"}' "$ct"
    expect_problem 415 "Content-Type '$ct'"
done
post /users '{"login":"mpcreate"}' "$MP"
expect_problem 415 "POST /users takes application/json only, not a merge patch"
expect_unchanged "$id" lnull "after the 415s"

# ---- 413: body limit -----------------------------------------------------------------------
body_of_size 65537
patch_file "/users/$id" "$TMP/sized.json"
expect_problem 413 "65537-byte PATCH body"
patch_file "/users/$id" "$TMP/sized.json" "$MP" -H 'Transfer-Encoding: chunked'
expect_problem 413 "chunked 65537-byte PATCH body"
expect_unchanged "$id" lnull "after the 413s"
body_of_size 65536
patch_file "/users/$id" "$TMP/sized.json"
expect_status 200 "65536-byte PATCH body is within the limit"
expect_json .first_name Big

# ---- ids -------------------------------------------------------------------------------------
get "/users/$id"
snapshot cur
for p in abc 0 00 -1 "+$id" "${id}abc" 99999999999999999999 9223372036854775808 ""; do
    patch "/users/$p" '{"first_name":"Ghost"}'
    expect_problem 404 "PATCH /users/$p"
done
patch "/users/$id/" '{"first_name":"Ghost"}'
expect_problem 404 "PATCH /users/$id/ (trailing slash)"
patch "/users/$((id + 100000))" '{"first_name":"Ghost"}'
expect_problem 404 "PATCH of a missing user"
patch /users/9223372036854775807 '{"first_name":"Ghost"}'
expect_problem 404 "PATCH /users/2^63-1 (missing)"
expect_unchanged "$id" cur "after the 404s"
patch "/users/000$id" '{"first_name":"Zeros"}'
expect_status 200 "PATCH /users/000$id: leading zeros name the user"
expect_json .id "$id"
expect_json .first_name Zeros

# ---- the order of errors: 404, 412, 415/413/400/422, 409 --------------------------------------
get "/users/$id"
snapshot cur
missing="/users/$((id + 100000))"
stale='"0000000000000000"'
patch "$missing" 'not json'
expect_problem 404 "missing user + invalid JSON: 404"
patch "$missing" '{"first_name":"x"}' text/plain
expect_problem 404 "missing user + wrong media type: 404"
patch "$missing" '{"bogus":1}'
expect_problem 404 "missing user + 422 body: 404"
patch "$missing" '{"login":"bob"}'
expect_problem 404 "missing user + taken login: 404"
patch "$missing" '[]' "$MP" -H "If-Match: $stale"
expect_problem 404 "missing user + If-Match + bad body: 404"
patch "$missing" '{}' "$MP" -H 'If-Match: *'
expect_problem 404 "missing user + If-Match: * : 404"
body_of_size 70000
patch_file "$missing" "$TMP/sized.json" "$MP" -H 'Transfer-Encoding: chunked'
expect_problem 404 "missing user + chunked over-limit body: 404"
patch "/users/$id" 'not json' "$MP" -H "If-Match: $stale"
expect_problem 412 "wrong If-Match + invalid JSON: 412"
patch "/users/$id" '[]' "$MP" -H "If-Match: $stale"
expect_problem 412 "wrong If-Match + non-object body: 412"
patch "/users/$id" '{"first_name":"x"}' text/plain -H "If-Match: $stale"
expect_problem 412 "wrong If-Match + wrong media type: 412"
patch "/users/$id" '{"bogus":1}' "$MP" -H "If-Match: $stale"
expect_problem 412 "wrong If-Match + 422 body: 412"
patch "/users/$id" '{"login":"BOB"}' "$MP" -H "If-Match: $stale"
expect_problem 412 "wrong If-Match + taken login: 412"
patch_file "/users/$id" "$TMP/sized.json" "$MP" -H 'Transfer-Encoding: chunked' -H "If-Match: $stale"
expect_problem 412 "wrong If-Match + chunked over-limit body: 412"
patch "/users/$id" 'not json' text/plain
expect_problem 415 "wrong media type + invalid JSON: 415"
patch_file "/users/$id" "$TMP/sized.json" text/plain -H 'Transfer-Encoding: chunked'
expect_problem 415 "wrong media type + over-limit chunked body: 415"
{ printf '[not json'; head -c 70000 /dev/zero | tr '\0' ' '; } >"$TMP/bad-big.json"
patch_file "/users/$id" "$TMP/bad-big.json" "$MP" -H 'Transfer-Encoding: chunked'
expect_problem 413 "over-limit chunked invalid JSON: 413"
patch "/users/$id" '{"bogus":1,"first_name":"x","first_name":"y"}'
expect_problem 400 "400 (duplicate key) before 422 (unknown key)"
patch "/users/$id" '{"login":"BOB","last_name":7}'
expect_problem 422 "422 before 409"
expect_unchanged "$id" cur "after the error-order checks"

# ---- If-Match ---------------------------------------------------------------------------------
cur_etag=$(cat "$TMP/snap.cur.etag")
patch "/users/$id" '{"first_name":"Stale"}' "$MP" -H "If-Match: $stale"
expect_problem 412 "If-Match with another tag: 412"
expect_unchanged "$id" cur "nothing changes on 412"
patch "/users/$id" '{"first_name":"Matched"}' "$MP" -H "If-Match: $cur_etag"
expect_status 200 "If-Match with the current ETag: 200"
expect_json .first_name Matched
new_etag=$(header_value ETag)
patch "/users/$id" '{"first_name":"Old"}' "$MP" -H "If-Match: $cur_etag"
expect_problem 412 "If-Match with the ETag before the last change: 412"
patch "/users/$id" '{"first_name":"Star"}' "$MP" -H 'If-Match: *'
expect_status 200 "If-Match: * matches an existing user"
expect_json .first_name Star
patch "/users/$id" '{"first_name":"Listed"}' "$MP" -H "If-Match: $stale, $(header_value ETag)"
expect_status 200 "If-Match with a list holding the current ETag"
patch "/users/$id" '{"first_name":"Weak"}' "$MP" -H "If-Match: W/$(header_value ETag)"
expect_problem 412 "If-Match with the W/ form of the current ETag (strong comparison): 412"
check "ETags of different states differ" test "$new_etag" != "$cur_etag"
