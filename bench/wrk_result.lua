-- The RESULT line every wrk script of the bench prints from done(), parsed by hallq_bench.py.
-- Loaded with require() after each script puts its own folder on package.path.
local M = {}

-- Adds up every thread's table `counts_name`, and writes every thread's list `lines_name` to
-- the file `path` (opened with `mode`) when a path is given.
function M.collect(threads, counts_name, lines_name, path, mode)
  local total = {}
  local out = path and io.open(path, mode) or nil
  for _, thread in ipairs(threads) do
    for k, v in pairs(thread:get(counts_name)) do total[k] = (total[k] or 0) + v end
    if out and lines_name then
      for _, line in ipairs(thread:get(lines_name)) do out:write(line, "\n") end
    end
  end
  if out then out:close() end
  return total
end

-- counts: name -> number; strip: drop each name's first character (a type marker).
function M.write(summary, latency, counts, strip)
  local parts = {}
  for k, v in pairs(counts) do
    parts[#parts + 1] = (strip and string.sub(k, 2) or k) .. "=" .. v
  end
  table.sort(parts)
  io.write(string.format(
    "RESULT requests=%d duration_us=%d p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f " ..
    "errors_connect=%d errors_read=%d errors_write=%d errors_timeout=%d errors_status=%d statuses=%s\n",
    summary.requests, summary.duration,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.timeout, summary.errors.status, table.concat(parts, ";")))
end

return M
