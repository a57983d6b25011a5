-- wrk script shared by every scenario of bench/run.sh. Configured through the
-- environment because wrk gives each thread its own Lua state and `os.getenv`
-- is the one input every state can read the same way.
--
--   BENCH_SCENARIO  plain | get | post
--                   plain: GET BENCH_PATH, no auth (health, floor /hello, /json)
--                   get:   GET BENCH_PATH with the bearer token; a "{id}" in the
--                          path is replaced per request by a random line of BENCH_IDS
--                   post:  POST BENCH_PATH with a new patient (unique MRN) as JSON
--   BENCH_PATH      request path (and query)
--   BENCH_TOKEN     access token for get/post
--   BENCH_IDS       file with one patient id per line (get with "{id}")
--   BENCH_RUN       short upper-case tag that keeps MRNs unique across runs
--
-- done() (bench/result.lua) prints one machine-readable line (BENCH_RESULT ...) that
-- run.sh parses, so the numbers do not depend on wrk's human-readable layout.

local scenario = os.getenv("BENCH_SCENARIO") or "plain"
local path = os.getenv("BENCH_PATH") or "/"
local token = os.getenv("BENCH_TOKEN") or ""
local run_tag = os.getenv("BENCH_RUN") or "R"

-- setup() runs in the main state once per thread, before init(): give each
-- thread a small number so that MRNs built from (run, thread, counter) never collide.
local next_thread = 0
function setup(thread)
  next_thread = next_thread + 1
  thread:set("thread_no", next_thread)
end

local prefix, suffix -- path split around "{id}"
local ids, n_ids = {}, 0
local counter = 0
local fixed_request -- requests that never change are formatted once
local auth_headers, post_headers

function init(args)
  local no = thread_no or 0
  math.randomseed(os.time() * 1000 + no)
  auth_headers = { ["Authorization"] = "Bearer " .. token }

  if scenario == "plain" then
    fixed_request = wrk.format("GET", path)
  elseif scenario == "get" then
    local s, e = string.find(path, "{id}", 1, true)
    if not s then
      fixed_request = wrk.format("GET", path, auth_headers)
    else
      prefix, suffix = string.sub(path, 1, s - 1), string.sub(path, e + 1)
      local file = assert(io.open(assert(os.getenv("BENCH_IDS"), "BENCH_IDS not set"), "r"))
      for line in file:lines() do
        if line ~= "" then
          n_ids = n_ids + 1
          ids[n_ids] = line
        end
      end
      file:close()
      assert(n_ids > 0, "BENCH_IDS is empty")
    end
  elseif scenario == "post" then
    post_headers = {
      ["Authorization"] = "Bearer " .. token,
      ["Content-Type"] = "application/json",
    }
  else
    error("unknown BENCH_SCENARIO " .. scenario)
  end
end

-- Body of bench/seed.py's patient with only the MRN changed.
local body_fmt = '{"mrn":"%s","first_name":"Ada","last_name":"Lovelace",'
  .. '"birth_date":"1960-05-01","sex":"female","diagnosis":"Breast cancer",'
  .. '"icd10_code":"C50.9","ward":"ONC-1","bed":"12","phone":"+441632960123",'
  .. '"email":"ada@example.org","preferred_contact":"sms"}'

function request()
  if fixed_request then
    return fixed_request
  end
  if scenario == "get" then
    return wrk.format("GET", prefix .. ids[math.random(n_ids)] .. suffix, auth_headers)
  end
  -- post: e.g. "PAB3F-02-0000017" (run tag, thread, per-thread counter)
  counter = counter + 1
  local mrn = string.format("P%s-%02d-%07d", run_tag, thread_no or 0, counter)
  return wrk.format("POST", path, post_headers, string.format(body_fmt, mrn))
end

dofile("bench/result.lua")
