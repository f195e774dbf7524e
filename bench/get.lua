-- wrk script: GET BENCH_PATH (the framework's floor: what one plain request costs).
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
  local total = {}
  for _, thread in ipairs(threads) do
    for k, v in pairs(thread:get("statuses")) do total[k] = (total[k] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(total) do parts[#parts + 1] = string.sub(k, 2) .. "=" .. v end
  table.sort(parts)
  io.write(string.format(
    "RESULT requests=%d duration_us=%d p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f " ..
    "errors_connect=%d errors_read=%d errors_write=%d errors_timeout=%d errors_status=%d statuses=%s\n",
    summary.requests, summary.duration,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.timeout, summary.errors.status, table.concat(parts, ";")))
end
