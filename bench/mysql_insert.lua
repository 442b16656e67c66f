-- SPDX-License-Identifier: MIT
-- sysbench script (bench/run.sh): the MariaDB limits for POST /users.
--   --insert-mode=returning  INSERT ... RETURNING (MariaDB 10.5+): one round trip,
--                            the best the server offers (the limit in the report)
--   --insert-mode=select     INSERT, then SELECT ... WHERE id = LAST_INSERT_ID():
--                            the two statements usersvc sends today
-- Logins are unique: "s" .. nonce .. "t" .. thread .. "n" .. counter.

sysbench.cmdline.options = {
  nonce = {"prefix that makes this run's logins unique", "x"},
  ["insert-mode"] = {"returning or select", "returning"},
}

local COLS = "id, login, first_name, last_name, created_at, updated_at"

function thread_init(thread_id)
  tid = thread_id
  counter = 0
  drv = sysbench.sql.driver()
  con = drv:connect()
  local sql = "INSERT INTO users (login, first_name, last_name, created_at, updated_at) " ..
              "VALUES (?, 'Bench', 'User', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))"
  if sysbench.opt.insert_mode == "returning" then
    ins = con:prepare(sql .. " RETURNING " .. COLS)
  elseif sysbench.opt.insert_mode == "select" then
    ins = con:prepare(sql)
    sel = con:prepare("SELECT " .. COLS .. " FROM users WHERE id = LAST_INSERT_ID()")
  else
    error("--insert-mode must be returning or select")
  end
  login = ins:bind_create(sysbench.sql.type.VARCHAR, 30)
  ins:bind_param(login)
end

function event()
  counter = counter + 1
  login:set(string.format("s%st%dn%d", sysbench.opt.nonce, tid, counter))
  ins:execute()
  if sel then
    sel:execute()
  end
end

function thread_done()
  ins:close()
  if sel then sel:close() end
  con:disconnect()
end
