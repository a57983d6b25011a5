#!/usr/bin/env bash
# ECG benchmark of the release server (issue "ECG waveforms"): uploads per second of a routine
# 12-lead x 5000-sample recording (the first 5 s of PTB s0010 at 1 kHz), each analysed and
# stored with its insights, then the latency of reading the stored insights, the metadata and
# the samples back. SQLite by default; DB=postgres for PostgreSQL.
#
# Knobs: DURATION (10s), CONNECTIONS (16; reads also with 4), THREADS (2), PATIENTS (40),
# SAMPLES (5000 per lead), PORT (18190), DB (sqlite|postgres), SKIP_BUILD=1, BIN,
# PG_HOST/PG_PORT/PG_USER.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-16}
THREADS=${THREADS:-2}
PATIENTS=${PATIENTS:-40}
SAMPLES=${SAMPLES:-5000}
PORT=${PORT:-18190}
PTB=${PTB:-$ROOT/../shared/data/ptb-s0010/s0010_re.dat}

source bench/common.sh
bench_setup ecg
[[ -n ${SKIP_BUILD:-} ]] || cargo build --release --locked --bin oncology-registry --example ws_stream
bench_database ecg
start_server
printf '%s' "$BENCH_PASSWORD" | DATABASE_URL=$URL "$BIN" create-user --username bench-nurse \
  --role nurse --full-name "Bench Nurse" --password-stdin

rss() { awk '/^VmRSS:/ {print $2}' "/proc/$PID/status"; }
TSV=$RESULTS/results.tsv
printf 'scenario\treq_per_s\tp50_ms\tp99_ms\terrors\trss_mib\tcpu_ms_per_req\n' >"$TSV"
# The server's CPU time (user + system) in clock ticks.
ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
HZ=$(getconf CLK_TCK)

wrk_run() { # wrk_run NAME [CONNECTIONS]: env ECG_* set by the caller
  local out=$RESULTS/wrk-$1.txt line c=${2:-$CONNECTIONS} before
  before=$(ticks)
  wrk -t"$THREADS" -c"$c" -d"$DURATION" --timeout 60s --latency -s bench/ecg.lua "$BASE" >"$out"
  line=$(grep '^BENCH_RESULT' "$out")
  awk -v n="$1" -v m="$(( $(rss) / 1024 ))" -v t="$(( $(ticks) - before ))" -v hz="$HZ" '{
      for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      printf "%s\t%.1f\t%s\t%s\t%d\t%s\t%.2f\n", n, v["rps"], v["p50_ms"], v["p99_ms"],
             v["status_errors"] + v["socket_errors"], m, t * 1000 / hz / (v["requests"] > 0 ? v["requests"] : 1) }' <<<"$line" >>"$TSV"
  tail -n 1 "$TSV"
}

TOKEN=$(python3 bench/vitals.py patients "$BASE" bench-nurse "$PATIENTS" ECG-1 E1 "$TMP/ids.txt" "$TMP/mrns.txt")
export ECG_TOKEN=$TOKEN ECG_IDS=$TMP/ids.txt
# The first SAMPLES samples of PTB s0010's 12 standard leads (WFDB format 16: little-endian
# 16-bit samples, the 12 leads interleaved).
python3 - "$PTB" "$SAMPLES" "$TMP/ecg.json" <<'PY'
import json, struct, sys
data, samples, out = open(sys.argv[1], "rb").read(), int(sys.argv[2]), sys.argv[3]
frames = struct.iter_unpack("<12h", data)
rows = [next(frames)[:12] for _ in range(samples)]
names = ["i", "ii", "iii", "avr", "avl", "avf", "v1", "v2", "v3", "v4", "v5", "v6"]
json.dump({"sampling_rate_hz": 1000, "leads": [
    {"name": n, "number_of_samples": samples, "signal": [r[i] for r in rows]}
    for i, n in enumerate(names)]}, open(out, "w"), separators=(",", ":"))
PY
echo "upload body: $(wc -c <"$TMP/ecg.json") bytes"

echo "== uploads (12 leads x $SAMPLES samples)"
ECG_SCENARIO=upload ECG_BODY=$TMP/ecg.json wrk_run "upload_12x$SAMPLES"

ECG=$(curl -fsS "$BASE/api/v1/patients/$(head -n 1 "$TMP/ids.txt")/ecgs?limit=1" \
  -H "authorization: Bearer $TOKEN" | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')
echo "== reads of ECG $ECG"
for c in 4 "$CONNECTIONS"; do
  ECG_SCENARIO=get ECG_PATH="/api/v1/ecgs/$ECG/insights" wrk_run "insights_c$c" "$c"
  ECG_SCENARIO=get ECG_PATH="/api/v1/ecgs/$ECG" wrk_run "metadata_c$c" "$c"
done
ECG_SCENARIO=get ECG_PATH="/api/v1/ecgs/$ECG?include=signals" wrk_run "signals_c4" 4
ECG_SCENARIO=get ECG_PATH="/api/v1/patients/$(head -n 1 "$TMP/ids.txt")/ecgs?limit=20" wrk_run "list_20_c4" 4

if [[ $DB == sqlite ]]; then
  stored=$(python3 - "$TMP/ecg.db" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
n, size, samples = c.execute("SELECT COUNT(*), SUM(LENGTH(signal)), SUM(number_of_samples) FROM ecg_lead").fetchone()
print(f"{n} leads stored, {size / samples:.2f} bytes per sample")
PY
)
  echo "$stored" | tee "$RESULTS/storage.txt"
fi

# Holter: the 24-hour trend export uploaded (import time, each upload to a fresh patient), then
# its whole day replayed over one WebSocket (the stream's points per second).
TRENDS=${TRENDS:-$ROOT/../shared/data/holter-trends/synthetic-24h.xml}
echo "== trend imports and the WebSocket stream"
tail -n 10 "$TMP/ids.txt" | while read -r id; do
  curl -fsS -o /dev/null -w '%{time_total}\n' -H "authorization: Bearer $TOKEN" \
    -H 'content-type: application/xml' --data-binary @"$TRENDS" \
    "$BASE/api/v1/patients/$id/ecg-trends?timezone=Europe/Rome"
done | sort -n | awk '{t[NR] = $1 * 1000} END { printf "trend_import_24h\t%d uploads, median %.1f ms, max %.1f ms\n", NR, t[int((NR + 1) / 2)], t[NR] }' \
  | tee "$RESULTS/trends.txt"
"$TARGET/release/examples/ws_stream" "127.0.0.1:$PORT" "$TOKEN" "$(tail -n 1 "$TMP/ids.txt")" \
  2030-01-07T12:49:01Z 86400 "${STREAM_ROUNDS:-20}" | tee -a "$RESULTS/trends.txt"

{
  echo "# ecg bench $STAMP on $DB: wrk -t$THREADS -c$CONNECTIONS -d$DURATION; $(git rev-parse --short HEAD) $(nproc) cores"
  python3 - "$TSV" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
head = ["scenario", "req/s", "p50 ms", "p99 ms", "errors", "RSS MiB", "server CPU ms/req"]
table = [[r["scenario"], r["req_per_s"], r["p50_ms"], r["p99_ms"], r["errors"], r["rss_mib"], r["cpu_ms_per_req"]] for r in rows]
widths = [max(len(str(x)) for x in col) for col in zip(head, *table)]
for line in [head, ["-" * w for w in widths], *table]:
    print("| " + " | ".join(str(x).ljust(w) for x, w in zip(line, widths)) + " |")
PY
  cat "$RESULTS/trends.txt"
} | tee "$RESULTS/summary.md"
echo "results in ${RESULTS#"$ROOT"/}"
