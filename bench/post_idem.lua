-- SPDX-License-Identifier: MIT
-- wrk script: POST /users with an Idempotency-Key (issue 17), each request a
-- new key and a login no other request uses, as post_unique.lua: the cost of
-- a keyed create (a key lookup, then the user and its stored response in one
-- transaction) next to an unkeyed one. A per-run random part (seeded by the
-- time, so a warm-up and its step differ) joins the nonce, the first script
-- argument. Every non-2xx response counts (wrk_common.lua).
--
--   wrk -t2 -c32 -d10s --latency -s bench/post_idem.lua http://127.0.0.1:8080 -- NONCE

dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "wrk_common.lua")

function init(args)
  math.randomseed(os.time() * 100 + tid)
  nonce = (args[1] or "") .. string.format("%x", math.random(0, 0xfffff))
  counter, non2xx, bad_status = 0, 0, 0
end

function request()
  counter = counter + 1
  local id = string.format("%st%dn%d", nonce, tid, counter)
  local headers = {["Content-Type"] = "application/json", ["Idempotency-Key"] = "bench-" .. id}
  local body = string.format('{"login":"k%s","first_name":"Bench","last_name":"User"}', id)
  return wrk.format("POST", "/users", headers, body)
end
