-- wrk script for scripts/bench_feed.py: POSTs one fixed body (a GraphQL JSON request,
-- or a GraphQL multipart upload) and prints one parseable result line.
--
--   BENCH_BODY_FILE     file holding the request body (sent byte for byte)
--   BENCH_CONTENT_TYPE  its Content-Type (default application/json)
--   BENCH_TOKEN         bearer token, if any
--
-- Counts, besides wrk's own errors, the 200 answers that carry GraphQL `errors`
-- (a rate limit or a broken query answers 200), so such runs are not mistaken for
-- fast ones. Latencies are wrk's (microseconds, recorded per request).

local body_file = assert(os.getenv("BENCH_BODY_FILE"), "BENCH_BODY_FILE is not set")
local file = assert(io.open(body_file, "rb"))
wrk.body = file:read("*a")
file:close()
wrk.method = "POST"
wrk.headers["Content-Type"] = os.getenv("BENCH_CONTENT_TYPE") or "application/json"
local token = os.getenv("BENCH_TOKEN")
if token and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  graphql_errors = 0
  first_error = ""
end

function response(status, headers, body)
  if status == 200 and string.find(body, '"errors"', 1, true) then
    graphql_errors = graphql_errors + 1
    if first_error == "" then
      first_error = string.sub(body, 1, 300)
    end
  end
end

function done(summary, latency, requests)
  local gql, sample = 0, ""
  for _, thread in ipairs(threads) do
    gql = gql + thread:get("graphql_errors")
    if sample == "" then
      sample = thread:get("first_error")
    end
  end
  local e = summary.errors
  io.write(string.format(
    "WRK_RESULT requests=%d duration_us=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d "
      .. "status_errors=%d connect_errors=%d read_errors=%d write_errors=%d timeouts=%d graphql_errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.status, e.connect, e.read, e.write, e.timeout, gql))
  if sample ~= "" then
    io.write("WRK_FIRST_GRAPHQL_ERROR " .. string.gsub(sample, "\n", " ") .. "\n")
  end
end
