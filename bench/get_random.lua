-- SPDX-License-Identifier: MIT
-- wrk script: GET /users/{id}, id uniform in 1..N (N = first script argument,
-- default 10000, the number of seeded users); a second argument is sent as a
-- bearer token (Authorization: Bearer ARG), the same on every request. Every non-2xx response is
-- counted, and done() prints one machine-readable BENCH_RESULT line that
-- bench/run.sh parses (wrk's own "Non-2xx" line only counts status >= 400).
--
--   wrk -t2 -c32 -d10s --latency -s bench/get_random.lua http://127.0.0.1:8080 -- 10000

dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "wrk_common.lua")

function init(args)
  max_id = tonumber(args[1]) or 10000
  headers = {}
  if args[2] then headers["Authorization"] = "Bearer " .. args[2] end
  non2xx, bad_status = 0, 0
  math.randomseed(os.time() * 1000 + tid)
end

function request()
  return wrk.format("GET", "/users/" .. math.random(1, max_id), headers)
end
