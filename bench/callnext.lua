-- wrk script: call-next loops. Run with -t N -c N (one connection per wrk thread), so every
-- thread owns its counters and strictly alternates request/response (wrk gives no connection id
-- to Lua, but each thread has its own Lua state).
-- BENCH_CALL_PLAN: one entry per thread, separated by "|"; an entry is "counter_id:token"
-- pairs separated by ";". Per counter the loop is call-next -> start -> call-next ...
-- (call-next finishes the ticket being served, then calls the next one).
-- BENCH_CALL_IDS: file that done() writes every ticket id a 200 call-next returned, one a line.
package.path = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "?.lua;" .. package.path
local result = require("wrk_result")

local plan = {}
local slot = 0
local pending = nil -- {counter, kind}
stats = {}          -- global so done() can read it with thread:get
called = {}

local threads = {}

function setup(thread)
  thread:set("id", #threads)
  threads[#threads + 1] = thread
end

local function bump(key) stats[key] = (stats[key] or 0) + 1 end

function init(args)
  local entries = {}
  for entry in string.gmatch(os.getenv("BENCH_CALL_PLAN") or "", "[^|]+") do
    entries[#entries + 1] = entry
  end
  local mine = entries[(id % #entries) + 1]
  for cid, token in string.gmatch(mine, "(%d+):([^;]+)") do
    local headers = {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}
    plan[#plan + 1] = {
      id = cid,
      need_start = false,
      call = wrk.format("POST", "/api/v1/counters/" .. cid .. "/call-next", headers, ""),
      start = wrk.format("POST", "/api/v1/counters/" .. cid .. "/start", headers, ""),
    }
  end
end

function request()
  slot = (slot % #plan) + 1
  local c = plan[slot]
  if c.need_start then
    pending = {c, "start"}
    return c.start
  end
  pending = {c, "call"}
  return c.call
end

function response(status, headers, body)
  local c, kind = pending[1], pending[2]
  bump(kind .. "_" .. status)
  if kind == "call" then
    if status == 200 then
      local tid = string.match(body, '"id": ?(%d+)')
      called[#called + 1] = tid
      c.need_start = true
    elseif status == 409 and string.find(body, "ticket_still_called", 1, true) then
      c.need_start = true
    end
  else
    c.need_start = false
  end
end

function done(summary, latency, requests)
  local total = result.collect(threads, "stats", "called", os.getenv("BENCH_CALL_IDS"), "w")
  result.write(summary, latency, total, false)
end
