-- The BENCH_RESULT line every wrk script of bench/ prints when a run ends (loaded with dofile
-- by wrk.lua, vitals.lua, ecg.lua and exams.lua; wrk runs from the repository root):
-- requests, requests/s, p50 and p99 in ms, HTTP errors (responses >= 400) and socket errors.
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH_RESULT requests=%d rps=%.1f p50_ms=%.3f p99_ms=%.3f status_errors=%d socket_errors=%d\n",
    summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    e.status, e.connect + e.read + e.write + e.timeout))
end
