-- SPDX-License-Identifier: MIT
-- wrk script: POST /users with a login no other request of any run uses:
-- "w" .. nonce .. "t" .. thread .. "n" .. counter (wrk threads share nothing,
-- so thread number + per-thread counter is unique within a run; the nonce,
-- the first script argument, separates runs against the same database).
-- Every non-2xx response (a 409 would mean a login clash) is counted, and
-- done() prints one machine-readable BENCH_RESULT line for bench/run.sh.
--
--   wrk -t2 -c32 -d10s --latency -s bench/post_unique.lua http://127.0.0.1:8080 -- NONCE

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

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
