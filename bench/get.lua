-- wrk script: GET BENCH_PATH (the framework's floor: what one plain request costs).
package.path = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "?.lua;" .. package.path
local result = require("wrk_result")
local threads = {}
statuses = {}

function setup(thread)
  threads[#threads + 1] = thread
end

function init(args)
  wrk.path = os.getenv("BENCH_PATH") or "/healthz"
end

function response(status, headers, body)
  local key = "s" .. status
  statuses[key] = (statuses[key] or 0) + 1
end

function done(summary, latency, requests)
  local total = result.collect(threads, "statuses")
  result.write(summary, latency, total, true)
end
