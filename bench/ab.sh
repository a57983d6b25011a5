#!/usr/bin/env bash
# A/B of two server binaries on the hot read (authenticated GET /api/v1/patients/{id}): both
# serve one seeded SQLite file at once and take turns under wrk, ROUNDS times, with the floor
# (bench/floor) as a third turn when it is built. Each turn reports requests/s, p99 and the
# server's CPU time per request (user + system from /proc). On this shared 2-core machine the
# throughput of a single turn drifts by a third; CPU per request, compared turn by turn, is the
# steadier figure for "did this change make the read cheaper". The busiest database thread's
# CPU per request is the last column: on the server that is the single writer committing the
# read audit batches, a cost the floor does not have, and steadier still.
#
#   bench/ab.sh OLD_BINARY NEW_BINARY
#
# Knobs: DURATION (8s), CONNECTIONS (64), THREADS (2), PATIENTS (2000), ROUNDS (5),
# PORT (18280; B on PORT+1, the floor on PORT+2), SKIP_FLOOR=1.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

[[ $# -eq 2 ]] || { echo "usage: bench/ab.sh OLD_BINARY NEW_BINARY" >&2; exit 2; }
A=$(realpath "$1")
B_BIN=$(realpath "$2")
DURATION=${DURATION:-8s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
PATIENTS=${PATIENTS:-2000}
ROUNDS=${ROUNDS:-5}
PORT=${PORT:-18280}
FLOOR_BIN=$ROOT/bench/floor/target/release/bench-floor

BIN=$A
source bench/common.sh
bench_setup ab
DB=sqlite
bench_database ab
start_server
A_PID=$PID
printf '%s' "$BENCH_PASSWORD" | DATABASE_URL=$URL "$BIN" create-user --username bench-physician \
  --role physician --full-name "Bench Physician" --password-stdin >/dev/null
export BENCH_IDS=$TMP/ids.txt BENCH_TOKEN
BENCH_TOKEN=$(python3 bench/seed.py "$BASE" bench-physician "$PATIENTS" "$BENCH_IDS")

# The second server and the floor read the same file; bench_cleanup stops only $PID.
OTHERS=()
trap 'kill "${OTHERS[@]}" 2>/dev/null || true; bench_cleanup' EXIT
DATABASE_URL=$URL BIND_ADDR=127.0.0.1:$((PORT + 1)) "$B_BIN" serve >"$RESULTS/server-b.log" 2>&1 &
B_PID=$!
OTHERS+=("$B_PID")
TURNS=("A $A_PID http://127.0.0.1:$PORT /api/v1/patients/{id}"
       "B $B_PID http://127.0.0.1:$((PORT + 1)) /api/v1/patients/{id}")
if [[ -z ${SKIP_FLOOR:-} && -x $FLOOR_BIN ]]; then
  FLOOR_DB=$TMP/ab.db FLOOR_BIND=127.0.0.1:$((PORT + 2)) "$FLOOR_BIN" >"$RESULTS/floor.log" 2>&1 &
  OTHERS+=("$!")
  TURNS+=("floor $! http://127.0.0.1:$((PORT + 2)) /patients/{id}")
fi
for turn in "${TURNS[@]}"; do
  read -r _ _ url _ <<<"$turn"
  for _ in $(seq 1 600); do curl -fsS -o /dev/null "$url/health/live" 2>/dev/null && break
    curl -fsS -o /dev/null "$url/hello" 2>/dev/null && break; sleep 0.1; done
done

TSV=$RESULTS/results.tsv
printf 'round\tbinary\treq_per_s\tp99_ms\terrors\tcpu_us_per_req\tbusiest_db_thread_us_per_req\n' >"$TSV"
# turn ROUND LABEL PID URL PATH [DURATION]
turn() {
  local before out db_before busiest
  db_before=$(db_ticks "$3")
  before=$(ticks "$3")
  out=$(BENCH_SCENARIO=get BENCH_PATH=$5 wrk -t"$THREADS" -c"$CONNECTIONS" -d"${6:-$DURATION}" \
    -s bench/wrk.lua "$4" | grep '^BENCH_RESULT')
  # The busiest connection thread: on the server, the one writer, committing the audit batches.
  busiest=$(busiest_ticks "$db_before" "$(db_ticks "$3")")
  awk -v r="$1" -v n="$2" -v t="$(( $(ticks "$3") - before ))" -v w="$busiest" -v hz="$HZ" '{
      for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      n_req = v["requests"] > 0 ? v["requests"] : 1
      printf "%s\t%s\t%.0f\t%s\t%d\t%.1f\t%.1f\n", r, n, v["rps"], v["p99_ms"],
             v["status_errors"] + v["socket_errors"], t * 1e6 / hz / n_req, w * 1e6 / hz / n_req }' <<<"$out"
}
for t in "${TURNS[@]}"; do turn warmup $t 3s >/dev/null; done
for r in $(seq 1 "$ROUNDS"); do
  for t in "${TURNS[@]}"; do turn "$r" $t | tee -a "$TSV"; done
done

python3 - "$TSV" "$A" "$B_BIN" <<'EOF' | tee "$RESULTS/summary.md"
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
print(f"A = {sys.argv[2]}\nB = {sys.argv[3]}")
for name in ["A", "B", "floor"]:
    mine = [r for r in rows if r["binary"] == name]
    if not mine:
        continue
    cpu = [float(r["cpu_us_per_req"]) for r in mine]
    rps = [float(r["req_per_s"]) for r in mine]
    db = [float(r["busiest_db_thread_us_per_req"]) for r in mine]
    print(f"{name:5}  CPU per request median {statistics.median(cpu):6.1f} us "
          f"(rounds: {', '.join(f'{c:.0f}' for c in cpu)}), req/s median {statistics.median(rps):,.0f}, "
          f"busiest database thread {statistics.median(db):.1f} us")
a = {r["round"]: float(r["cpu_us_per_req"]) for r in rows if r["binary"] == "A"}
b = {r["round"]: float(r["cpu_us_per_req"]) for r in rows if r["binary"] == "B"}
wins = sum(1 for k in a if k in b and b[k] < a[k])
print(f"B used less CPU per request than A in {wins} of {len(a)} rounds")
EOF
echo "results in ${RESULTS#"$ROOT"/}"
