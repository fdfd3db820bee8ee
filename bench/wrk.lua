-- wrk script for the keydesk benchmarks (bench/run.sh).
--
-- Without KEYDESK_BENCH_BODY: plain GETs of the URL (e.g. /healthz).
-- With KEYDESK_BENCH_BODY: POSTs that JSON body to the URL's path (/v1/verify).
-- With KEYDESK_BENCH_KEYS_FILE: POST /v1/verify cycling through the secrets in
-- that file, one per line (many different keys, all cache hits after warm-up).
--
-- done() prints one machine-readable line, "WRK_JSON {...}", with the counts
-- and latency percentiles in microseconds.

local body = os.getenv("KEYDESK_BENCH_BODY")
local keys_file = os.getenv("KEYDESK_BENCH_KEYS_FILE")
local bodies = nil
local counter = 0

if keys_file ~= nil and keys_file ~= "" then
  bodies = {}
  for line in io.lines(keys_file) do
    if line ~= "" then
      bodies[#bodies + 1] = '{"key":"' .. line .. '"}'
    end
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
elseif body ~= nil and body ~= "" then
  wrk.method = "POST"
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end

if bodies ~= nil then
  function setup(thread)
    -- Each thread starts at another key.
    counter = counter + 1
    thread:set("offset", counter * 7)
  end

  function init(args)
    counter = tonumber(offset) or 0
  end

  function request()
    counter = counter + 1
    return wrk.format(nil, nil, nil, bodies[(counter % #bodies) + 1])
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect_errors":%d,' ..
    '"read_errors":%d,"write_errors":%d,"status_errors":%d,"timeouts":%d,' ..
    '"mean_us":%.1f,"stdev_us":%.1f,"max_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency.mean, latency.stdev, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9)))
end
