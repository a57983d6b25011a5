-- wrk script of bench/ecg.sh, configured through the environment (see wrk.lua for why):
--   ECG_SCENARIO  upload | get
--     upload: POST /api/v1/patients/{id}/ecgs with the body in ECG_BODY, a random id of
--             ECG_IDS per request
--     get:    GET ECG_PATH
--   ECG_TOKEN     access token
-- done() (bench/result.lua) prints the BENCH_RESULT line; status_errors counts answers >= 400.

local scenario = os.getenv("ECG_SCENARIO") or "get"
local token = os.getenv("ECG_TOKEN") or ""
local ids, n_ids, fixed, body = {}, 0, nil, nil
local headers

function init(args)
  math.randomseed(os.time())
  headers = { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }
  if scenario == "upload" then
    for line in io.lines(assert(os.getenv("ECG_IDS"))) do
      if line ~= "" then n_ids = n_ids + 1; ids[n_ids] = line end
    end
    local f = assert(io.open(assert(os.getenv("ECG_BODY")), "r"))
    body = f:read("*a")
    f:close()
  else
    fixed = wrk.format("GET", assert(os.getenv("ECG_PATH")), headers)
  end
end

function request()
  if fixed then return fixed end
  local id = ids[math.random(n_ids)]
  return wrk.format("POST", "/api/v1/patients/" .. id .. "/ecgs", headers, body)
end

dofile("bench/result.lua")
