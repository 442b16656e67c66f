#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Fault: the connection dies between the database's commit and its answer
# (issue 16, "exactly once").
#
# Through tests/fault/faultproxy.py, each POST /users is sent while the
# proxy is armed to let one byte of the server's next reply through and
# then reset both sides: the INSERT has committed, usersvc never learns it.
# Each POST must get 201 or a clean 503 (problem + Retry-After), never a
# 409 for its own row (a re-run of the write) and never a second row; a
# 201 always means the row is there. Then everything works again.
. "$(dirname "$0")/lib.sh"
need_python
only_backends postgres mysql

proxy_start
start_server --database "$PROXY_URL" --pool-timeout-ms 500 --statement-timeout-ms 1500
create_user cl0 Commit Lost
ID=$USER_ID
STRUCK=0
for i in 1 2 3 4 5; do
    # Warm: a connection with the INSERT prepared, so that the next bytes
    # from the server are the INSERT's answer (a discarded connection is
    # replaced first).
    [ "$(hit POST /users "{\"login\":\"cwarm$i\"}" 5 | cut -d'|' -f1)" = 201 ] \
        || not_ok "a POST before round $i"
    proxy reset_after 1 >/dev/null || bail "the proxy arms a reset"
    res=$(hit POST /users "{\"login\":\"clw1i$i\"}" 5)
    now
    echo "0 $NOW_MS $res clw1i$i" >>"$TMP/cl.load.1"
    proxy reset_after 0 >/dev/null   # disarm if nothing came
    st=${res%%|*}
    n=$(db_exec "SELECT count(*) FROM users WHERE login = 'clw1i$i'")
    case "$st" in
        201) expect_eq "$n" 1 "round $i: 201, and the row is stored once" ;;
        503) ok "round $i: a clean 503 (the row is stored $n time(s): the write may have committed)"
             [ "$n" = 1 ] && STRUCK=$((STRUCK + 1))
             [ "$n" -le 1 ] || not_ok "round $i: at most one row" ;;
        *) not_ok "round $i: 201 or 503 (got $res)" ;;
    esac
done
if [ "$STRUCK" -ge 1 ]; then ok "the fault struck between commit and answer in $STRUCK of 5 rounds"
else not_ok "the fault struck between commit and answer at least once (0 of 5 rounds)"; fi
check_bound cl 2700 "201 503"
check_writes cl
recovers_within 2000
expect_eq "$(hit POST /users '{"login":"clafter"}' 5 | cut -d'|' -f1)" 201 "a POST afterwards succeeds"
