#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Fault: 200 ms of added latency each way between usersvc and its database
# (issue 16), through tests/fault/faultproxy.py. With bounds that leave room
# for it (pool and statement timeouts of 3000 ms), every request of a small
# load is answered correctly: 200 or 201, never an error; every 201 stored.
. "$(dirname "$0")/lib.sh"
need_python
only_backends postgres mysql

proxy_start
start_server --database "$PROXY_URL" --pool-timeout-ms 3000 --statement-timeout-ms 3000
create_user slow Slow Link
ID=$USER_ID
[ -n "$ID" ] && [ "$ID" != null ] || bail "a first user exists"
proxy latency 200 >/dev/null || bail "the proxy adds latency"
load_start lat 4 10
sleep 6
load_stop
proxy pass >/dev/null
check_bound lat 7000 "200 201"
check_writes lat
