-- wrk script of bench/vitals.sh, configured through the environment (see wrk.lua for why):
--   VITALS_SCENARIO  single | batch | get
--     single: POST /api/v1/patients/{id}/vital-signs, a random id of VITALS_IDS per request
--     batch:  POST /api/v1/vital-signs/batch with the body in VITALS_BODY
--     rounds: POST /api/v1/vital-signs/batch with the bodies of VITALS_BODIES (one per line) in
--             turn, each sent once: thread t of n sends lines t, t+n, t+2n, ... (VITALS_THREADS
--             = n), so rounds arrive roughly in time order and none twice; a thread that has
--             sent all of its share stops (give it more lines than the run can send)
--     get:    GET VITALS_PATH
--   VITALS_TOKEN     access token
-- done() (bench/result.lua) prints the BENCH_RESULT line; status_errors counts answers >= 400.

local scenario = os.getenv("VITALS_SCENARIO") or "get"
local token = os.getenv("VITALS_TOKEN") or ""
local ids, n_ids, fixed = {}, 0, nil
local headers
local bodies, n_bodies, next_body = {}, 0, 0
local thread_count = tonumber(os.getenv("VITALS_THREADS") or "1")
local thread_counter = 0

function setup(thread)
  thread:set("thread_index", thread_counter)
  thread_counter = thread_counter + 1
end

local single_body = '{"heart_rate":84,"systolic_bp":124,"diastolic_bp":76,"respiratory_rate":16,'
  .. '"temperature_c":36.9,"spo2":97,"on_oxygen":false,"consciousness":"alert"}'

function init(args)
  math.randomseed(os.time())
  headers = { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }
  if scenario == "single" then
    for line in io.lines(assert(os.getenv("VITALS_IDS"))) do
      if line ~= "" then n_ids = n_ids + 1; ids[n_ids] = line end
    end
  elseif scenario == "rounds" then
    -- Only this thread's share is kept: each line is a whole request body.
    local line_no = 0
    for line in io.lines(assert(os.getenv("VITALS_BODIES"))) do
      if line ~= "" then
        if line_no % thread_count == thread_index then
          n_bodies = n_bodies + 1
          bodies[n_bodies] = wrk.format("POST", "/api/v1/vital-signs/batch", headers, line)
        end
        line_no = line_no + 1
      end
    end
    next_body = 1
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
  if scenario == "rounds" then
    local body = bodies[next_body]
    if body == nil then
      -- Every round sent: nothing left that would not repeat one.
      wrk.thread:stop()
      return wrk.format("GET", "/health/live")
    end
    next_body = next_body + 1
    return body
  end
  local id = ids[math.random(n_ids)]
  return wrk.format("POST", "/api/v1/patients/" .. id .. "/vital-signs", headers, single_body)
end

dofile("bench/result.lua")
