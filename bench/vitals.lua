-- wrk script of bench/vitals.sh, configured through the environment (see wrk.lua for why):
--   VITALS_SCENARIO  single | batch | get
--     single: POST /api/v1/patients/{id}/vital-signs, a random id of VITALS_IDS per request
--     batch:  POST /api/v1/vital-signs/batch with the body in VITALS_BODY
--     get:    GET VITALS_PATH
--   VITALS_TOKEN     access token
-- done() prints a BENCH_RESULT line like wrk.lua's.

local scenario = os.getenv("VITALS_SCENARIO") or "get"
local token = os.getenv("VITALS_TOKEN") or ""
local ids, n_ids, fixed = {}, 0, nil
local headers

local single_body = '{"heart_rate":84,"systolic_bp":124,"diastolic_bp":76,"respiratory_rate":16,'
  .. '"temperature_c":36.9,"spo2":97,"on_oxygen":false,"consciousness":"alert"}'

function init(args)
  math.randomseed(os.time())
  headers = { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }
  if scenario == "single" then
    for line in io.lines(assert(os.getenv("VITALS_IDS"))) do
      if line ~= "" then n_ids = n_ids + 1; ids[n_ids] = line end
    end
  elseif scenario == "batch" then
    local f = assert(io.open(assert(os.getenv("VITALS_BODY")), "r"))
    local body = f:read("*a")
    f:close()
    fixed = wrk.format("POST", "/api/v1/vital-signs/batch", headers, body)
  else
    fixed = wrk.format("GET", assert(os.getenv("VITALS_PATH")), headers)
  end
end

function request()
  if fixed then return fixed end
  local id = ids[math.random(n_ids)]
  return wrk.format("POST", "/api/v1/patients/" .. id .. "/vital-signs", headers, single_body)
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
