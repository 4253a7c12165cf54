-- One wrk script for every scenario of bench/run.py. Environment:
--   BENCH_MODE     list | get | mix | me | create_delete | login | path
--   BENCH_PATH     the path every request GETs in `path` mode (e.g. /api/tasks?tag=work)
--   BENCH_ADDRS    optional "host:port,host:port": thread i sends to address i mod n (two
--                  instances behind the load tool, scale_out.py)
--   BENCH_USERS    file of "user_id access_token task_id email" lines (one user per connection)
--   BENCH_THREADS  wrk's -t, so each thread can take its own slice of the users
--   BENCH_PASSWORD the seeded users' password (login mode)
--
-- wrk does not tell a script which connection a request goes out on, so each thread rotates
-- through its slice round-robin, one user per request: with C users for C connections, the
-- requests in flight come from (almost always) C different users. See bench/README.md.

local mode = os.getenv("BENCH_MODE") or "list"
local path = os.getenv("BENCH_PATH") or "/api/tasks"
local threads = {}

local addrs = {}
for addr in (os.getenv("BENCH_ADDRS") or ""):gmatch("[^,]+") do
  local host, port = addr:match("^(.+):(%d+)$")
  addrs[#addrs + 1] = wrk.lookup(host, port)[1]
end

function setup(thread)
  thread:set("thread_index", #threads)
  if #addrs > 0 then thread.addr = addrs[#threads % #addrs + 1] end
  threads[#threads + 1] = thread
end

function init(args)
  local count = tonumber(os.getenv("BENCH_THREADS") or "1")
  local password = os.getenv("BENCH_PASSWORD") or ""
  users, by_id, pending, statuses, no_retry_after = {}, {}, {}, {}, 0
  n = 0
  local k = 0
  for line in io.lines(os.getenv("BENCH_USERS")) do
    local id, token, task, email = line:match("^(%S+) (%S+) (%S+) (%S+)$")
    if id then
      if k % count == thread_index then
        local user = {
          auth = "Bearer " .. token,
          task = task,
          login = '{"email":"' .. email .. '","password":"' .. password .. '"}',
        }
        users[#users + 1] = user
        by_id[id] = user
      end
      k = k + 1
    end
  end
  if #users == 0 then error("no users for thread " .. thread_index) end
end

local function get(path, user)
  return wrk.format("GET", path, { Authorization = user.auth })
end

local function post(path, headers, body)
  headers["Content-Type"] = "application/json"
  return wrk.format("POST", path, headers, body)
end

function request()
  if mode == "create_delete" and #pending > 0 then
    -- The DELETE for a task this thread created (with its owner's token).
    local task = table.remove(pending)
    return wrk.format("DELETE", "/api/tasks/" .. task.id, { Authorization = task.auth })
  end
  n = n % #users + 1
  local user = users[n]
  if mode == "list" then
    return get("/api/tasks", user)
  elseif mode == "get" then
    return get("/api/tasks/" .. user.task, user)
  elseif mode == "mix" then
    return get(n % 2 == 0 and "/api/tasks" or "/api/tasks/" .. user.task, user)
  elseif mode == "me" then
    return get("/api/auth/me", user)
  elseif mode == "path" then
    return get(path, user)
  elseif mode == "create_delete" then
    return post("/api/tasks", { Authorization = user.auth },
      '{"title":"bench task","description":"created by the benchmark","priority":"High"}')
  elseif mode == "login" then
    return post("/api/auth/login", {}, user.login)
  end
  error("unknown BENCH_MODE " .. mode)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status == 503 and not (headers["retry-after"] or headers["Retry-After"]) then
    no_retry_after = no_retry_after + 1
  end
  if mode == "create_delete" and status == 201 then
    local id, owner = body:match('"id"%s*:%s*"([%x%-]+)".-"user_id"%s*:%s*"([%x%-]+)"')
    local user = owner and by_id[owner]
    if user then pending[#pending + 1] = { id = id, auth = user.auth } end
  end
end

function done(summary, latency, requests)
  local totals, codes, missing = {}, {}, 0
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      totals[status] = (totals[status] or 0) + count
    end
    missing = missing + thread:get("no_retry_after")
  end
  for status, count in pairs(totals) do
    codes[#codes + 1] = string.format('"%d":%d', status, count)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"min":%d,"mean":%.1f,"max":%d,"p50":%d,"p90":%d,"p95":%d,"p99":%d,"p999":%d},' ..
    '"statuses":{%s},"503_without_retry_after":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.max, latency:percentile(50), latency:percentile(90),
    latency:percentile(95), latency:percentile(99), latency:percentile(99.9),
    table.concat(codes, ","), missing))
end
