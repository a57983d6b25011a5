#!/usr/bin/env bash
# Vital-signs benchmark of the release server (issue "Vital signs"): charted sets per second
# through the single, batch and CSV import endpoints, ward overview and chart list latency for
# a ward of 40 patients with 30 days of 4-hourly observations, and the same reads again after
# the database has grown to about a million sets. SQLite by default; DB=postgres for PostgreSQL.
#
# Knobs: DURATION (10s), CONNECTIONS (64; batches use 4, rounds also 16 and 32, the overview is
# also read with 4), THREADS (2), BATCH (1000 sets per batch request),
# GROW (1000000 sets added before the second round; 0 skips), PORT (18180), DB (sqlite|postgres),
# SKIP_BUILD=1, BIN, PG_HOST/PG_PORT/PG_USER.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
BATCH=${BATCH:-1000}
GROW=${GROW:-1000000}
PORT=${PORT:-18180}

source bench/common.sh
bench_setup vitals
ADMIN_USERNAME=bench-admin
ADMIN_PASSWORD=$(rand 20)
export ADMIN_USERNAME ADMIN_PASSWORD
[[ -n ${SKIP_BUILD:-} ]] || cargo build --release --locked
bench_database vitals
# Imports of 100,000 lines need more than the default request timeout and body limit.
start_server REQUEST_TIMEOUT_SECONDS=300
printf '%s' "$BENCH_PASSWORD" | DATABASE_URL=$URL "$BIN" create-user --username bench-nurse \
  --role nurse --full-name "Bench Nurse" --password-stdin

rss() { awk '/^VmRSS:/ {print $2}' "/proc/$PID/status"; }
TSV=$RESULTS/results.tsv
printf 'scenario\tsets_per_s\treq_per_s\tp50_ms\tp99_ms\terrors\trss_mib\tcpu_ms_per_req\tdb_thread_ms_per_req\n' >"$TSV"
row() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t-\t-\n' "$@" >>"$TSV"; }

# Besides throughput and latency, each wrk scenario reports the server's CPU per request and that
# of its busiest database thread (on SQLite the one writer, the serial part of every write).
wrk_run() { # wrk_run NAME SETS_PER_REQUEST [CONNECTIONS]: env VITALS_* set by the caller
  local out=$RESULTS/wrk-$1.txt line c=${3:-$CONNECTIONS} before db_before busiest
  before=$(ticks "$PID")
  db_before=$(db_ticks "$PID")
  wrk -t"$THREADS" -c"$c" -d"$DURATION" --timeout 60s --latency -s bench/vitals.lua "$BASE" >"$out"
  busiest=$(busiest_ticks "$db_before" "$(db_ticks "$PID")")
  line=$(grep '^BENCH_RESULT' "$out")
  awk -v n="$1" -v k="$2" -v m="$(( $(rss) / 1024 ))" -v t="$(( $(ticks "$PID") - before ))" \
      -v w="$busiest" -v hz="$HZ" '{
      for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      n_req = v["requests"] > 0 ? v["requests"] : 1
      # PostgreSQL has no driver threads of its own to measure.
      db = w > 0 ? sprintf("%.2f", w * 1e3 / hz / n_req) : "-"
      printf "%s\t%.0f\t%.1f\t%s\t%s\t%d\t%s\t%.2f\t%s\n", n, v["rps"] * k, v["rps"], v["p50_ms"],
             v["p99_ms"], v["status_errors"] + v["socket_errors"], m, t * 1e3 / hz / n_req, db }' \
    <<<"$line" >>"$TSV"
  tail -n 1 "$TSV"
}

echo "== ward BENCH-1: 40 patients, 30 days of 4-hourly sets by CSV import"
TOKEN=$(python3 bench/vitals.py patients "$BASE" bench-nurse 40 BENCH-1 W1 "$TMP/ids.txt" "$TMP/mrns.txt")
export VITALS_TOKEN=$TOKEN VITALS_IDS=$TMP/ids.txt
python3 bench/vitals.py csv "$TMP/ward.csv" "$TMP/mrns.txt" 30 4
line=$(python3 bench/vitals.py import "$BASE" "$TOKEN" "$TMP/ward.csv")
echo "$line"
row import_ward_7200 "$(sed -E 's/.*rows_per_s=([0-9]+).*/\1/' <<<"$line")" - - - 0 "$(( $(rss) / 1024 ))"

PATIENT=$(head -n 1 "$TMP/ids.txt")
read_round() { # read_round SUFFIX
  VITALS_SCENARIO=get VITALS_PATH=/api/v1/wards/BENCH-1/overview wrk_run "ward_overview$1" 0
  # A ward has a handful of screens polling it, not 64: the latency they see.
  VITALS_SCENARIO=get VITALS_PATH=/api/v1/wards/BENCH-1/overview wrk_run "ward_overview_c4$1" 0 4
  VITALS_SCENARIO=get VITALS_PATH="/api/v1/patients/$PATIENT/vital-signs?limit=50" wrk_run "chart_list$1" 0
  VITALS_SCENARIO=get VITALS_PATH="/api/v1/patients/$PATIENT/vital-signs/insights?window=24h" wrk_run "insights_24h$1" 0
}
read_round ""

echo "== writes"
VITALS_SCENARIO=single wrk_run single 1
python3 bench/vitals.py batch "$TMP/batch.json" "$TMP/ids.txt" "$BATCH"
# Batches queue on SQLite's single writer; with 4 clients their groups (see
# src/services/vital_signs_commit.rs) stay small. This one charts 25 sets
# per patient per request, all at the same instant, so every request adds to the hours of
# context the next one reads: the worst case, not a ward's.
VITALS_SCENARIO=batch VITALS_BODY=$TMP/batch.json wrk_run "batch_$BATCH" "$BATCH" 4
# An integration engine's round: one set for each of 1,000 patients per request.
python3 bench/vitals.py patients "$BASE" bench-nurse "$BATCH" BENCH-3 W3 "$TMP/ids3.txt" "$TMP/mrns3.txt" >/dev/null
python3 bench/vitals.py batch "$TMP/round.json" "$TMP/ids3.txt" "$BATCH"
VITALS_SCENARIO=batch VITALS_BODY=$TMP/round.json wrk_run "batch_round_$BATCH" "$BATCH" 4
# The same rounds as the issue's ward data has them: every request a new 4-hourly round of one
# set for each of 1,000 patients, in time order, none sent twice (an integration engine catching
# up, or a year of rounds replayed). Enough rounds for 60 requests/s over the whole run.
python3 bench/vitals.py patients "$BASE" bench-nurse "$BATCH" BENCH-4 W4 "$TMP/ids4.txt" "$TMP/mrns4.txt" >/dev/null
python3 bench/vitals.py rounds "$TMP/rounds.txt" "$TMP/ids4.txt" "$(( ${DURATION%s} * 60 ))" 4
VITALS_SCENARIO=rounds VITALS_BODIES=$TMP/rounds.txt VITALS_THREADS=$THREADS \
  wrk_run "batch_rounds_4h_$BATCH" "$BATCH" 4
# The same with 16 clients, as an integration engine with many channels: more batches queue
# at once, so the group commit charts bigger groups.
python3 bench/vitals.py patients "$BASE" bench-nurse "$BATCH" BENCH-6 W6 "$TMP/ids6.txt" "$TMP/mrns6.txt" >/dev/null
python3 bench/vitals.py rounds "$TMP/rounds6.txt" "$TMP/ids6.txt" "$(( ${DURATION%s} * 100 ))" 4
VITALS_SCENARIO=rounds VITALS_BODIES=$TMP/rounds6.txt VITALS_THREADS=$THREADS \
  wrk_run "batch_rounds_4h_${BATCH}_c16" "$BATCH" 16
# Sustained throughput: enough clients that a full group of sets always waits for the writer,
# so more clients add latency but no throughput (64 gave no more than 32 in the twelfth session).
python3 bench/vitals.py patients "$BASE" bench-nurse "$BATCH" BENCH-7 W7 "$TMP/ids7.txt" "$TMP/mrns7.txt" >/dev/null
python3 bench/vitals.py rounds "$TMP/rounds7.txt" "$TMP/ids7.txt" "$(( ${DURATION%s} * 100 ))" 4
VITALS_SCENARIO=rounds VITALS_BODIES=$TMP/rounds7.txt VITALS_THREADS=$THREADS \
  wrk_run "batch_rounds_4h_${BATCH}_c32" "$BATCH" 32
# A ward screen reading while an integration engine sends rounds: the read audits its access,
# and that commit queues behind the charting for SQLite's one writer. Rounds for another 1,000
# patients, with 4 connections reading one chart beside them.
python3 bench/vitals.py patients "$BASE" bench-nurse "$BATCH" BENCH-5 W5 "$TMP/ids5.txt" "$TMP/mrns5.txt" >/dev/null
python3 bench/vitals.py rounds "$TMP/rounds5.txt" "$TMP/ids5.txt" "$(( ${DURATION%s} * 60 ))" 4
VITALS_SCENARIO=rounds VITALS_BODIES=$TMP/rounds5.txt VITALS_THREADS=1 \
  wrk -t1 -c4 -d"$DURATION" --timeout 60s --latency -s bench/vitals.lua "$BASE" >"$RESULTS/wrk-rounds-beside-reads.txt" &
ROUNDS_PID=$!
VITALS_SCENARIO=get VITALS_PATH="/api/v1/patients/$(head -n 1 "$TMP/ids5.txt")" \
  wrk_run chart_read_beside_rounds 0 4
wait "$ROUNDS_PID"
awk -v k="$BATCH" '/^BENCH_RESULT/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
  printf "rounds_beside_reads\t%.0f\t%.1f\t%s\t%s\t%d\t-\t-\t-\n", v["rps"] * k, v["rps"], v["p50_ms"],
         v["p99_ms"], v["status_errors"] + v["socket_errors"] }' "$RESULTS/wrk-rounds-beside-reads.txt" >>"$TSV"
tail -n 1 "$TSV"

echo "== CSV import of 100,000 lines (1,000 patients on ward BENCH-2)"
python3 bench/vitals.py patients "$BASE" bench-nurse 1000 BENCH-2 W2 "$TMP/ids2.txt" "$TMP/mrns2.txt" >/dev/null
# 1000 patients x 100 rounds of 4-hourly sets = 100,000 lines.
python3 bench/vitals.py csv "$TMP/big.csv" "$TMP/mrns2.txt" 16.67 4
line=$(python3 bench/vitals.py import "$BASE" "$TOKEN" "$TMP/big.csv")
echo "$line"
row import_100k "$(sed -E 's/.*rows_per_s=([0-9]+).*/\1/' <<<"$line")" - - - 0 "$(( $(rss) / 1024 ))"

if [[ $GROW -gt 0 ]]; then
  echo "== growing the database by $GROW sets (same ward BENCH-2 patients, older rounds)"
  rounds=$(( GROW / 1000 ))
  done_rounds=100
  while [[ $done_rounds -lt $rounds ]]; do
    # Older rounds each time: 100 rounds (16.67 days) further back per file.
    python3 - "$TMP/mrns2.txt" "$TMP/grow.csv" "$done_rounds" <<'PY'
import datetime, random, sys
sys.path.insert(0, "bench")
from vitals import COLUMNS, observation
mrns = [m.strip() for m in open(sys.argv[1]) if m.strip()]
offset = int(sys.argv[3])
rng = random.Random(offset)
now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
with open(sys.argv[2], "w") as f:
    f.write(",".join(COLUMNS) + "\n")
    for step in range(offset + 100, offset, -1):
        at = (now - datetime.timedelta(hours=4 * step)).isoformat().replace("+00:00", "Z")
        for mrn in mrns:
            o = observation(rng)
            f.write(",".join([mrn, at] + [str(o[c]).lower() if isinstance(o[c], bool) else str(o[c]) for c in COLUMNS[2:]]) + "\n")
PY
    python3 bench/vitals.py import "$BASE" "$TOKEN" "$TMP/grow.csv" | tee -a "$RESULTS/grow.txt"
    done_rounds=$(( done_rounds + 100 ))
  done
  read_round "_after_growth"
fi

{
  echo "# vitals bench $STAMP on $DB: wrk -t$THREADS -c$CONNECTIONS -d$DURATION; $(git rev-parse --short HEAD) $(nproc) cores"
  python3 - "$TSV" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
head = ["scenario", "sets/s", "req/s", "p50 ms", "p99 ms", "errors", "RSS MiB", "CPU ms/req", "DB thread ms/req"]
keys = ["scenario", "sets_per_s", "req_per_s", "p50_ms", "p99_ms", "errors", "rss_mib", "cpu_ms_per_req", "db_thread_ms_per_req"]
table = [[r[k] for k in keys] for r in rows]
widths = [max(len(str(x)) for x in col) for col in zip(head, *table)]
for line in [head, ["-" * w for w in widths], *table]:
    print("| " + " | ".join(str(x).ljust(w) for x, w in zip(line, widths)) + " |")
PY
} | tee "$RESULTS/summary.md"
echo "results in ${RESULTS#"$ROOT"/}"
