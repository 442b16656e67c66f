-- SPDX-License-Identifier: MIT
-- wrk script: POST /users with a login that is already taken (the first
-- script argument, default "taken"), over and over: a duplicate-login
-- flood, each answered 409. Run it beside another load to see what the
-- flood costs the others (a failing statement in a batch must cost only its
-- own request). Every non-2xx response is counted, 409s included.
--
--   wrk -t1 -c4 -d10s -s bench/post_taken.lua http://127.0.0.1:8080 -- taken

dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "wrk_common.lua")

function init(args)
  login = args[1] or "taken"
  non2xx, bad_status = 0, 0
  headers = {["Content-Type"] = "application/json"}
  body = string.format('{"login":"%s"}', login)
end

function request()
  return wrk.format("POST", "/users", headers, body)
end
