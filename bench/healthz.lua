-- SPDX-License-Identifier: MIT
-- wrk script: GET /healthz (no database touched): the HTTP-only ceiling of
-- the same server, the SQLite limit in bench/run.sh. Same per-request Lua
-- work as get_random.lua (request() + response()), so the load generator
-- costs the same on both sides of the ratio.
--
--   wrk -t2 -c32 -d10s --latency -s bench/healthz.lua http://127.0.0.1:8080

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  non2xx, bad_status = 0, 0
  math.randomseed(os.time() * 1000 + tid)
end

function request()
  math.random(1, 10000)   -- the same client work as get_random.lua
  return wrk.format("GET", "/healthz")
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
