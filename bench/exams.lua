-- wrk script of bench/exams.sh: POST /api/v1/patients/{id}/exams {"exam_type": EXAM_TYPE}, a
-- random patient of EXAM_IDS (one id a line) per request, as the physician of EXAM_TOKEN.
-- done() (bench/result.lua) prints the BENCH_RESULT line; status_errors counts answers >= 400.

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

dofile("bench/result.lua")
