#!/usr/bin/env bash
# Exams benchmark of the release server (issue "Exams"): exam registrations per second
# (`POST /api/v1/patients/{id}/exams {"exam_type": 1001}` as a physician, across patients), then
# the results inbox's throughput: FILES started exams get a result file each, all renamed into
# RESULTS_DIR/completed/ at once, timed until every one is in processed/ (files per second,
# each applied through the result intake with its lab value, notification and audit event).
# SQLite by default; DB=postgres for PostgreSQL.
#
# Knobs: DURATION (10s), CONNECTIONS (16), THREADS (2), PATIENTS (40), FILES (500; at most the
# exams registered by the wrk run), RESULTS_POLL_MILLIS (100: the worker's sleep when the inbox
# is empty; it does not sleep while files keep coming), PORT (18191), DB (sqlite|postgres),
# SKIP_BUILD=1, BIN, PG_HOST/PG_PORT/PG_USER.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-16}
THREADS=${THREADS:-2}
PATIENTS=${PATIENTS:-40}
FILES=${FILES:-500}
PORT=${PORT:-18191}

source bench/common.sh
bench_setup exams
EXAM_TOKEN_SECRET=$(rand 48)
RESULT_TOKEN_SECRET=$(rand 48)
RESULT_TOKEN_ISSUER=bench-exam-execution-system
RESULTS_DIR=$TMP/results
RESULTS_POLL_MILLIS=${RESULTS_POLL_MILLIS:-100}
export EXAM_TOKEN_SECRET RESULT_TOKEN_SECRET RESULT_TOKEN_ISSUER RESULTS_DIR RESULTS_POLL_MILLIS
[[ -n ${SKIP_BUILD:-} ]] || cargo build --release --locked --bin oncology-registry
bench_database exams
start_server
for role in physician technician; do
  printf '%s' "$BENCH_PASSWORD" | DATABASE_URL=$URL "$BIN" create-user --username "bench-$role" \
    --role "$role" --full-name "Bench ${role^}" --password-stdin
done

rss() { awk '/^VmRSS:/ {print $2}' "/proc/$PID/status"; }
# The server's CPU time (user + system) in clock ticks.
ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
HZ=$(getconf CLK_TCK)
TSV=$RESULTS/results.tsv
printf 'scenario\treq_per_s\tp50_ms\tp99_ms\terrors\trss_mib\tcpu_ms_per_req\n' >"$TSV"

# Admitted patients to order for (physicians register patients too).
TOKEN=$(python3 bench/vitals.py patients "$BASE" bench-physician "$PATIENTS" ONC-1 EX "$TMP/ids.txt" "$TMP/mrns.txt")

echo "== exam registrations (POST /patients/{id}/exams across $PATIENTS patients)"
out=$RESULTS/wrk-register.txt
before=$(ticks)
EXAM_TOKEN=$TOKEN EXAM_IDS=$TMP/ids.txt EXAM_TYPE=1001 \
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --timeout 60s --latency -s bench/exams.lua "$BASE" >"$out"
awk -v m="$(( $(rss) / 1024 ))" -v t="$(( $(ticks) - before ))" -v hz="$HZ" '/^BENCH_RESULT/ {
    for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    printf "register_exam\t%.1f\t%s\t%s\t%d\t%s\t%.2f\n", v["rps"], v["p50_ms"], v["p99_ms"],
           v["status_errors"] + v["socket_errors"], m, t * 1000 / hz / (v["requests"] > 0 ? v["requests"] : 1) }' "$out" >>"$TSV"
tail -n 1 "$TSV"

echo "== results inbox ($FILES files, RESULTS_POLL_MILLIS=$RESULTS_POLL_MILLIS)"
before=$(ticks)
python3 bench/exams.py inbox "$BASE" bench-technician "$FILES" "$RESULTS_DIR" | tee "$RESULTS/inbox.txt"
# Starting the exams is part of this window too: the CPU figure is an upper bound per file.
echo "server CPU over start + inbox: $(( ($(ticks) - before) * 1000 / HZ )) ms for $FILES files" | tee -a "$RESULTS/inbox.txt"
processed=$(curl -fsS "$BASE/api/v1/exam-results/inbox?outcome=processed&limit=1&offset=0" \
  -H "authorization: Bearer $TOKEN" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')
echo "inbox list: $processed entries processed" | tee -a "$RESULTS/inbox.txt"

{
  echo "# exams bench $STAMP on $DB: wrk -t$THREADS -c$CONNECTIONS -d$DURATION; $(git rev-parse --short HEAD) $(nproc) cores"
  python3 - "$TSV" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
head = ["scenario", "req/s", "p50 ms", "p99 ms", "errors", "RSS MiB", "server CPU ms/req"]
table = [[r["scenario"], r["req_per_s"], r["p50_ms"], r["p99_ms"], r["errors"], r["rss_mib"], r["cpu_ms_per_req"]] for r in rows]
widths = [max(len(str(x)) for x in col) for col in zip(head, *table)]
for line in [head, ["-" * w for w in widths], *table]:
    print("| " + " | ".join(str(x).ljust(w) for x, w in zip(line, widths)) + " |")
PY
  cat "$RESULTS/inbox.txt"
} | tee "$RESULTS/summary.md"
echo "results in ${RESULTS#"$ROOT"/}"
