-- wrk script: POST /api/v1/halls/{hall}/tickets spread over every hall x service with the
-- halls' kiosk tokens. Targets come from the env var BENCH_ISSUE_TARGETS, one
-- "hall_id:service_id:token" per entry, separated by commas (written by bench/run.sh).
-- Each wrk thread walks the list from a different offset; response() counts status codes and
-- keeps "id number" of every 201, which done() writes to BENCH_ISSUE_IDS (if set): wrk stops at
-- its deadline with requests in flight, so the DB may hold up to one ticket per connection more
-- than the 201s counted -- the ids tell exactly which.
package.path = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "?.lua;" .. package.path
local result = require("wrk_result")

local targets = {}
local counter = 0
statuses = {}
issued = {}
local threads = {}

local function load_targets()
  local raw = os.getenv("BENCH_ISSUE_TARGETS") or ""
  local list = {}
  for hall, service, token in string.gmatch(raw, "(%d+):(%d+):([^,]+)") do
    list[#list + 1] = wrk.format("POST", "/api/v1/halls/" .. hall .. "/tickets",
      {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"},
      '{"service_id":' .. service .. ',"channel":"kiosk"}')
  end
  return list
end

function setup(thread)
  thread:set("id", #threads)
  threads[#threads + 1] = thread
end

function init(args)
  targets = load_targets()
  counter = id or 0
end

function request()
  counter = counter + 1
  return targets[(counter % #targets) + 1]
end

function response(status, headers, body)
  local key = "s" .. status
  statuses[key] = (statuses[key] or 0) + 1
  if status == 201 then
    local tid, number = string.match(body, '^{"id": ?(%d+).-"number": ?"(%w+)"')
    issued[#issued + 1] = (tid or "?") .. " " .. (number or "?")
  end
end

function done(summary, latency, requests)
  local total = result.collect(threads, "statuses", "issued", os.getenv("BENCH_ISSUE_IDS"), "a")
  result.write(summary, latency, total, true)
end
