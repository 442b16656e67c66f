-- SPDX-License-Identifier: MIT
-- wrk script: GET /users/{id}, id uniform in 1..N (N = first script argument,
-- default 10000, the number of seeded users). Every non-2xx response is
-- counted, and done() prints one machine-readable BENCH_RESULT line that
-- bench/run.sh parses (wrk's own "Non-2xx" line only counts status >= 400).
--
--   wrk -t2 -c32 -d10s --latency -s bench/get_random.lua http://127.0.0.1:8080 -- 10000

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  max_id = tonumber(args[1]) or 10000
  non2xx, bad_status = 0, 0
  math.randomseed(os.time() * 1000 + tid)
end

function request()
  return wrk.format("GET", "/users/" .. math.random(1, max_id))
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    bad_status = status
  end
end

function done(summary, latency, requests)
  local n, bad = 0, 0
  for _, t in ipairs(threads) do
    n = n + t:get("non2xx")
    if t:get("bad_status") ~= 0 then bad = t:get("bad_status") end
  end
  local e = summary.errors
  io.write(string.format(
    "BENCH_RESULT requests=%d duration_us=%d rps=%.1f p50_us=%.0f p99_us=%.0f max_us=%.0f " ..
    "non2xx=%d bad_status=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, summary.duration, summary.requests / summary.duration * 1e6,
    latency:percentile(50), latency:percentile(99), latency.max, n, bad,
    e.connect, e.read, e.write, e.timeout))
end
