-- SPDX-License-Identifier: MIT
-- sysbench script (bench/run.sh): the MariaDB limit for GET /users/{id}:
-- the same SELECT by primary key, as a server-side prepared statement
-- (binary protocol, like usersvc), id uniform in 1..10000.
--
--   sysbench bench/mysql_select.lua --db-driver=mysql --mysql-host=127.0.0.1 \
--     --mysql-port=PORT --mysql-user=U --mysql-password=P --mysql-db=DB \
--     --threads=32 --time=10 run

function thread_init(thread_id)
  drv = sysbench.sql.driver()
  con = drv:connect()
  stmt = con:prepare("SELECT id, login, first_name, last_name, created_at, updated_at " ..
                     "FROM users WHERE id = ?")
  id = stmt:bind_create(sysbench.sql.type.BIGINT)
  stmt:bind_param(id)
end

function event()
  id:set(sysbench.rand.uniform(1, 10000))
  stmt:execute()
end

function thread_done()
  stmt:close()
  con:disconnect()
end
