-- SPDX-License-Identifier: MIT
-- What every wrk script of bench/run.sh shares: thread numbering (each
-- thread gets "tid"), counting every non-2xx response (wrk's own "Non-2xx"
-- line only counts status >= 400), and one machine-readable BENCH_RESULT
-- line from done() that bench/run.sh parses. A script loads it first with
--   dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "wrk_common.lua")
-- and then defines init(args), which must set non2xx and bad_status to 0,
-- and request().

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
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
