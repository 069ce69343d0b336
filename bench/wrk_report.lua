-- wrk script of bench/suite.py: runs the workload script named by WRK_SCRIPT, if any, and prints
-- wrk's summary as one JSON object: requests, duration, answers other than 2xx/3xx, socket
-- errors, and latency percentiles in microseconds.
local workload = os.getenv("WRK_SCRIPT")
if workload and workload ~= "" then dofile(workload) end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests": %d, "duration_s": %f, "non_2xx": %d, "errors": %d, ' ..
                         '"p50_us": %d, "p99_us": %d, "p999_us": %d}\n',
                         summary.requests, summary.duration / 1e6, e.status, e.connect + e.read + e.write + e.timeout,
                         latency:percentile(50), latency:percentile(99), latency:percentile(99.9)))
end
