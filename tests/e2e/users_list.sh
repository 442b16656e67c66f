#!/usr/bin/env bash
# GET /users (second stage): keyset pages ordered by id, limit 1-100 (default
# 20), after=ID (0 = from the start, leading zeros accepted), login lookup
# (exact, case-insensitive: 0 or 1 item; an illegal login is 200 with no
# items); "next" is /users?after=ID&limit=N (limit always present), null
# exactly when no user follows the page (a full last page too), and the same
# link is in `Link: <…>; rel="next"`. A bad, empty, repeated or unknown
# parameter is 400 with a problem naming it.
. "$(dirname "$0")/lib.sh"
start_server

# expect_page DESC IDS_JSON NEXT: the last response is a 200 page whose items
# have exactly the ids IDS_JSON (a JSON array, in this order) and whose
# "next" is NEXT ("null" or the link). The Link header must say the same.
expect_page() {
    local desc=$1 ids=$2 next=$3
    expect_status 200 "$desc -> 200"
    expect_header Content-Type '^application/json( *;.*)?$' "$desc: Content-Type application/json"
    expect_json 'keys' '["items","next"]' "$desc: body has exactly items and next"
    expect_json '[.items[].id]' "$ids" "$desc: items are users $ids"
    expect_jq "all(.items[]; keys == $USER_KEYS)" "$desc: every item is a user (6 keys)"
    if [ "$next" = null ]; then
        expect_json '.next' null "$desc: next is null"
        expect_no_header Link "$desc: no Link header on the last page"
    else
        expect_json '.next' "$next" "$desc: next is $next"
        expect_jq '.next | type == "string"' "$desc: next is a string"
        expect_eq "$(header_value Link)" "<$next>; rel=\"next\"" "$desc: Link header"
    fi
}

# ids_json FROM TO: the JSON array of ids ID[FROM..TO] (1-based, inclusive).
ids_json() {
    local i out=
    for ((i = $1; i <= $2; i++)); do
        out+="${out:+,}${ID[$i]}"
    done
    echo "[$out]"
}

# bad_query QUERY NAME: GET /users?QUERY is a 400 problem naming NAME.
bad_query() {
    get "/users?$1"
    expect_problem 400 "GET /users?$1"
    expect_jq ".detail | contains(\"$2\")" "GET /users?$1: detail names '$2'"
    expect_body_not_contains '"items"' "GET /users?$1: no page in the body"
}

# ---- an empty table -----------------------------------------------------
get /users
expect_page "GET /users (no users)" '[]' null
get '/users?limit=1'
expect_page "GET /users?limit=1 (no users)" '[]' null
request HEAD /users
expect_status 200 "HEAD /users"

# ---- 25 users; ids ascending in creation order; logins deliberately not
# in alphabetical order, so ordering by login would show.
N=25
ID=()
for ((i = 1; i <= N; i++)); do
    printf -v login 'user%02d' $(( (i * 7) % 26 ))
    create_user "$login" "First $i"
    ID[$i]=$USER_ID
    [ "$i" -gt 1 ] && [ "${ID[$i]}" -le "${ID[$((i - 1))]}" ] \
        && { not_ok "ids increase in creation order"; diag "${ID[*]}"; }
done
ALL=$(ids_json 1 "$N")

# ---- default limit 20 -----------------------------------------------------
get /users
expect_page "GET /users (default limit 20)" "$(ids_json 1 20)" "/users?after=${ID[20]}&limit=20"
expect_json '.items | length' 20 "default page holds 20 users"
# Each item is the user as GET /users/{id} returns it.
jq -c '.items[2]' "$RESP_BODY" >"$TMP/item.json"
get "/users/${ID[3]}"
expect_eq "$(jq -cS . "$RESP_BODY")" "$(jq -cS . "$TMP/item.json")" \
    "a listed user equals GET /users/{id}"
# The next link leads to the rest: 5 users and no next.
get "/users?after=${ID[20]}&limit=20"
expect_page "second default page" "$(ids_json 21 25)" null
# An empty query string is no parameter at all.
get '/users?'
expect_page "GET /users? (empty query)" "$(ids_json 1 20)" "/users?after=${ID[20]}&limit=20"

# ---- limit 1..100 -----------------------------------------------------------
get '/users?limit=1'
expect_page "limit=1" "[${ID[1]}]" "/users?after=${ID[1]}&limit=1"
get '/users?limit=2'
expect_page "limit=2" "$(ids_json 1 2)" "/users?after=${ID[2]}&limit=2"
get '/users?limit=100'
expect_page "limit=100" "$ALL" null
get '/users?limit=99'
expect_page "limit=99" "$ALL" null
get "/users?limit=$((N - 1))"
expect_page "limit=$((N - 1)) (one user follows)" "$(ids_json 1 $((N - 1)))" \
    "/users?after=${ID[$((N - 1))]}&limit=$((N - 1))"
# A full last page: exactly N users with limit N; nothing follows, next is null.
get "/users?limit=$N"
expect_page "limit=$N (a full last page)" "$ALL" null
get "/users?after=${ID[20]}&limit=5"
expect_page "after=ID20&limit=5 (a full last page)" "$(ids_json 21 25)" null
get "/users?after=${ID[19]}&limit=5"
expect_page "after=ID19&limit=5 (one user follows)" "$(ids_json 20 24)" \
    "/users?after=${ID[24]}&limit=5"
get "/users?after=${ID[24]}&limit=1"
expect_page "after=ID24&limit=1 (the last user, nothing after)" "[${ID[25]}]" null
# Parameter order does not matter.
get "/users?limit=3&after=${ID[5]}"
expect_page "limit before after" "$(ids_json 6 8)" "/users?after=${ID[8]}&limit=3"

# ---- after -------------------------------------------------------------------
get '/users?after=0'
expect_page "after=0 (from the start)" "$(ids_json 1 20)" "/users?after=${ID[20]}&limit=20"
get '/users?after=0000&limit=3'
expect_page "after=0000 (zeros: from the start)" "$(ids_json 1 3)" "/users?after=${ID[3]}&limit=3"
get "/users?after=000${ID[10]}&limit=3"
expect_page "after=000ID (leading zeros)" "$(ids_json 11 13)" "/users?after=${ID[13]}&limit=3"
get "/users?after=${ID[25]}"
expect_page "after the last user" '[]' null
get "/users?after=$((ID[25] + 1000))"
expect_page "after a greater id than any" '[]' null
get '/users?after=9223372036854775807'
expect_page "after=2^63-1" '[]' null
# after an id that is not a user (below the first, or deleted): the next greater ones.
delete "/users/${ID[12]}"
expect_status 204 "delete user 12 of 25 (a gap)"
get "/users?after=${ID[11]}&limit=2"
expect_page "a deleted user is not listed" "[${ID[13]},${ID[14]}]" "/users?after=${ID[14]}&limit=2"
get "/users?after=${ID[12]}&limit=2"
expect_page "after a deleted id" "[${ID[13]},${ID[14]}]" "/users?after=${ID[14]}&limit=2"

# ---- following next walks all users exactly once ------------------------------
for lim in 1 7 24 100; do
    url="/users?limit=$lim"
    seen='[]'
    pages=0
    while [ "$url" != null ] && [ "$pages" -lt 40 ]; do
        get "$url"
        [ "$RESP_STATUS" = 200 ] || { not_ok "walk limit=$lim: $url -> $RESP_STATUS"; break; }
        pages=$((pages + 1))
        n=$(json_get '.items | length')
        nx=$(json_get .next)
        if [ "$nx" != null ]; then
            [ "$n" = "$lim" ] || not_ok "walk limit=$lim: a page before the last is full ($n)"
            last=$(json_get '.items[-1].id')
            [ "$nx" = "/users?after=$last&limit=$lim" ] \
                || not_ok "walk limit=$lim: next '$nx' names the page's last id and the limit"
        fi
        seen=$(jq -c --argjson s "$seen" '$s + [.items[].id]' "$RESP_BODY")
        url=$nx
    done
    want=$(jq -cn --argjson a "$ALL" --argjson gone "${ID[12]}" '$a - [$gone]')
    expect_eq "$seen" "$want" "following next with limit=$lim walks every user once, in id order"
    expect_eq "$pages" "$(( (N - 1 + lim - 1) / lim ))" "limit=$lim: ceil(24/$lim) pages"
done

# ---- bad, empty, repeated and unknown parameters --------------------------------
for v in 0 101 1000 -1 abc 1.5 1e1 '%205' '5%20' 0x10 '%2B5' 99999999999999999999 \
         '-0' ''; do
    bad_query "limit=$v" limit
done
for v in abc -1 1.5 '%201' 1e3 0x1 99999999999999999999 9223372036854775808 '%2B1' ''; do
    bad_query "after=$v" after
done
bad_query 'login=' login
bad_query 'limit' limit
bad_query 'after' after
bad_query 'limit=1&limit=1' limit
bad_query 'limit=1&limit=2' limit
bad_query 'after=1&after=2' after
bad_query 'login=a&login=a' login
bad_query 'foo=1' foo
bad_query 'offset=10' offset
bad_query 'page=2' page
bad_query 'Limit=5' Limit
bad_query 'limit=5&sort=login' sort
bad_query "after=${ID[1]}&bogus" bogus

# ---- login lookup ----------------------------------------------------------------
create_user Alice.Smith Alice Smith
alice=$USER_ID
create_user al-ice_2
other=$USER_ID
for q in Alice.Smith alice.smith ALICE.SMITH aLiCe.SmItH; do
    get "/users?login=$q"
    expect_page "login=$q" "[$alice]" null
    expect_json '.items[0].login' Alice.Smith "login=$q: stored login as given"
done
for q in alice Alice.Smit Alice.Smithx .Smith Alice_Smith al-ice user 'Alice.Smith%20'; do
    get "/users?login=$q"
    expect_page "login=$q (exact match only)" '[]' null
done
get '/users?login=AL-ICE_2'
expect_page "login=AL-ICE_2" "[$other]" null
# A login that cannot be one (illegal characters, too long) matches nothing.
long=$(printf 'a%.0s' $(seq 1 31))
for q in 'a%20b' '%C3%A9' 'a*' 'a%25' "'" '%27%20OR%201%3D1--' "$long" 'Alice.Smith%00' \
         '%F0%9F%98%80'; do
    get "/users?login=$q"
    expect_page "login=$q (illegal: no items)" '[]' null
done
# login with limit and after.
get "/users?login=alice.smith&limit=1"
expect_page "login + limit=1: 1 item, next null" "[$alice]" null
get "/users?login=alice.smith&after=$alice"
expect_page "login + after=its id: no items" '[]' null
get "/users?login=alice.smith&after=$((alice - 1))"
expect_page "login + after=id-1: the user" "[$alice]" null
get '/users?login=alice.smith&limit=0'
expect_problem 400 "login + limit=0 is still 400"
# The deleted user cannot be looked up.
get "/users?login=user$(printf '%02d' $(( (12 * 7) % 26 )))"
expect_page "login of the deleted user" '[]' null
