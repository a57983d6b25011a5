-- wrk script of bench/exams.sh: POST /api/v1/patients/{id}/exams {"exam_type": EXAM_TYPE}, a
-- random patient of EXAM_IDS (one id a line) per request, as the physician of EXAM_TOKEN.
-- done() prints a BENCH_RESULT line like wrk.lua's; status_errors counts answers >= 300.

local token = os.getenv("EXAM_TOKEN") or ""
local body = string.format('{"exam_type": %s}', os.getenv("EXAM_TYPE") or "1001")
local ids, n_ids = {}, 0
local headers

function init(args)
  math.randomseed(os.time())
  headers = { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }
  for line in io.lines(assert(os.getenv("EXAM_IDS"))) do
    if line ~= "" then n_ids = n_ids + 1; ids[n_ids] = line end
  end
end

function request()
  local id = ids[math.random(n_ids)]
  return wrk.format("POST", "/api/v1/patients/" .. id .. "/exams", headers, body)
end

local bad = 0
function response(status, hdrs, body)
  if status >= 300 then bad = bad + 1 end
end

function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  io.write(string.format(
    "BENCH_RESULT requests=%d rps=%.1f p50_ms=%.3f p99_ms=%.3f status_errors=%d socket_errors=%d\n",
    summary.requests, summary.requests / secs, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
