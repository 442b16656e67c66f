-- SPDX-License-Identifier: MIT
-- wrk script: POST /users with a login no other request of any run uses:
-- "w" .. nonce .. "t" .. thread .. "n" .. counter (wrk threads share nothing,
-- so thread number + per-thread counter is unique within a run; the nonce,
-- the first script argument, separates runs against the same database).
-- Every non-2xx response (a 409 would mean a login clash) is counted, and
-- done() prints one machine-readable BENCH_RESULT line for bench/run.sh.
--
--   wrk -t2 -c32 -d10s --latency -s bench/post_unique.lua http://127.0.0.1:8080 -- NONCE

dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "wrk_common.lua")

function init(args)
  nonce = args[1] or string.format("%x", os.time())
  counter, non2xx, bad_status = 0, 0, 0
  headers = {["Content-Type"] = "application/json"}
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"login":"w%st%dn%d","first_name":"Bench","last_name":"User"}', nonce, tid, counter)
  return wrk.format("POST", "/users", headers, body)
end
