-- wrk script: POST /api/v1/appointments, each request as another citizen, each booking a random
-- slot. Written for bench/booking_load.py, which passes:
--   BENCH_BOOKING_TOKENS  a file of citizens' bearer tokens, one a line
--   BENCH_BOOKING_SLOTS   a file of slot ids, one line per (service, date), ids comma-separated
--   BENCH_BOOKING_IDS     (optional) where done() writes the appointment id of every 201
--   BENCH_BOOKING_ROUND   an offset so that a second run (after a warm-up) books other days
--   BENCH_WRK_THREADS     wrk's -t
-- Thread t of T takes the citizens t, t+T, t+2T, ... in turn. A citizen may hold one appointment
-- per service and day, so each pass over the citizens moves every citizen to the next
-- (service, date) group: nobody is ever refused for their own limits until every citizen has
-- booked every group once. The slot within the group is random.
package.path = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "?.lua;" .. package.path
local result = require("wrk_result")

local tokens = {}
local groups = {}
local per_thread = 0
local threads_total = 1
local round = 0
local counter = 0
statuses = {}
booked = {}
local threads = {}

local function lines(path)
  local out = {}
  for line in io.lines(path) do
    if line ~= "" then out[#out + 1] = line end
  end
  return out
end

function setup(thread)
  thread:set("id", #threads)
  threads[#threads + 1] = thread
end

function init(args)
  tokens = lines(os.getenv("BENCH_BOOKING_TOKENS"))
  for _, line in ipairs(lines(os.getenv("BENCH_BOOKING_SLOTS"))) do
    local group = {}
    for slot in string.gmatch(line, "%d+") do group[#group + 1] = slot end
    groups[#groups + 1] = group
  end
  threads_total = tonumber(os.getenv("BENCH_WRK_THREADS") or "1")
  round = tonumber(os.getenv("BENCH_BOOKING_ROUND") or "0")
  per_thread = math.floor(#tokens / threads_total)
  math.randomseed((id or 0) * 7919 + round * 104729 + os.time())
end

function request()
  local n = counter
  counter = counter + 1
  local citizen = (id or 0) + threads_total * (n % per_thread)
  local pass = math.floor(n / per_thread) + round
  local group = groups[((citizen + pass) % #groups) + 1]
  local slot = group[math.random(#group)]
  return wrk.format("POST", "/api/v1/appointments",
    {["Authorization"] = "Bearer " .. tokens[citizen + 1], ["Content-Type"] = "application/json"},
    '{"slot_id":' .. slot .. '}')
end

function response(status, headers, body)
  local key = "s" .. status
  if status == 201 then
    local appointment = string.match(body, '^{"id": ?(%d+)')
    booked[#booked + 1] = (appointment or "?")
  else
    local code = string.match(body or "", '"code": ?"([%w_]+)"')
    if code then key = key .. "_" .. code end
  end
  statuses[key] = (statuses[key] or 0) + 1
end

function done(summary, latency, requests)
  local total = result.collect(threads, "statuses", "booked", os.getenv("BENCH_BOOKING_IDS"), "a")
  result.write(summary, latency, total, true)
end
