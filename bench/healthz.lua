-- SPDX-License-Identifier: MIT
-- wrk script: GET /healthz (no database touched): the HTTP-only ceiling of
-- the same server, the SQLite limit in bench/run.sh. Same per-request Lua
-- work as get_random.lua (request() + response()), so the load generator
-- costs the same on both sides of the ratio. With the argument "close" each
-- request says "Connection: close", so every request opens a new connection:
-- over HTTPS a full TLS handshake (bench/run.sh reports handshakes/s).
--
--   wrk -t2 -c32 -d10s --latency -s bench/healthz.lua http://127.0.0.1:8080
--   wrk -t2 -c32 -d10s --latency -s bench/healthz.lua https://127.0.0.1:8443 -- close

dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "wrk_common.lua")

function init(args)
  headers = args[1] == "close" and {["Connection"] = "close"} or nil
  non2xx, bad_status = 0, 0
  math.randomseed(os.time() * 1000 + tid)
end

function request()
  math.random(1, 10000)   -- the same client work as get_random.lua
  return wrk.format("GET", "/healthz", headers)
end
