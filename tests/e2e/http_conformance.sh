#!/usr/bin/env bash
# HTTP/1.1 conformance corpus (API.md "Third stage", "HTTP/1.1 strictness";
# issue 13): raw-socket cases in http_conformance.py, against a real usersvc
# on this backend. Every refusal is one problem response and a close; every
# request smuggling family hides a POST /users that must never run; the
# accepted forms (absolute form, odd Hosts, 100-continue, pipelining, chunked
# extensions and trailers) work; 304 and HEAD carry the right headers.
. "$(dirname "$0")/lib.sh"
start_server

OUT=$TMP/conformance.out
timeout 300 python3 "$E2E_DIR/http_conformance.py" "$PORT_NUM" >"$OUT" 2>&1
rc=$?
# Re-number the corpus's TAP lines into this script's.
while IFS= read -r line; do
    case $line in
        "ok "*) ok "${line#ok [0-9]* - }" ;;
        "not ok "*) not_ok "${line#not ok [0-9]* - }" ;;
        "#"*) echo "$line" ;;
    esac
done <"$OUT"
[ "$rc" = 0 ] || [ "$T_FAILED" -gt 0 ] || not_ok "http_conformance.py exited $rc"
[ -s "$OUT" ] || not_ok "http_conformance.py printed nothing"

get /healthz
expect_status 200 "server alive after the corpus"
