#!/usr/bin/env bash
# Load benchmark of the release server with wrk, on SQLite and on PostgreSQL,
# plus the floor (bench/floor) measured in the same run. See bench/README.md.
#
# Knobs (environment): DURATION (10s), CONNECTIONS (64), THREADS (2),
# PATIENTS (2000), WARMUP (3s, 0 to skip), ROUNDS (3: interleaved hot-read rounds, 0 to skip),
# PORT (18080), FLOOR_PORT (18090),
# SKIP_PG=1, SKIP_FLOOR=1, SKIP_BUILD=1, BIN (server binary),
# PG_HOST/PG_PORT/PG_USER (127.0.0.1/5432/postgres).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
PATIENTS=${PATIENTS:-2000}
WARMUP=${WARMUP:-3s}
ROUNDS=${ROUNDS:-3}
PORT=${PORT:-18080}
FLOOR_PORT=${FLOOR_PORT:-18090}
PG_HOST=${PG_HOST:-127.0.0.1}
PG_PORT=${PG_PORT:-5432}
PG_USER=${PG_USER:-postgres}
BIN=${BIN:-$ROOT/target/release/oncology-registry}
FLOOR_BIN=$ROOT/bench/floor/target/release/bench-floor

rand() { # rand N [charset]: N random characters (set -o pipefail: head closes tr's pipe)
  LC_ALL=C tr -dc "${2:-A-Za-z0-9}" </dev/urandom 2>/dev/null | head -c "$1" || true
}

STAMP=$(date +%Y%m%d-%H%M%S)
RESULTS=$ROOT/bench/results/$STAMP
mkdir -p "$RESULTS"
TMP=$(mktemp -d)
TSV=$RESULTS/results.tsv
printf 'scenario\tdatabase\trps\tp50_ms\tp99_ms\terrors\trss_before_kb\trss_after_kb\n' >"$TSV"

# Secrets are fresh per run: nothing here is reused outside this machine.
JWT_SECRET=$(rand 48)
ADMIN_USERNAME=bench-admin
ADMIN_PASSWORD=$(rand 20)
PHYSICIAN=bench-physician
BENCH_PASSWORD=$(rand 20)
BENCH_RUN=$(rand 4 A-Z0-9) # keeps POSTed MRNs unique across runs
export JWT_SECRET ADMIN_USERNAME ADMIN_PASSWORD BENCH_PASSWORD BENCH_RUN
PG_DB=""
PIDS=()

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ -n $PG_DB ]]; then
    psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -qc "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT

# --- tools ----------------------------------------------------------------------
if ! command -v wrk >/dev/null; then
  echo "== installing wrk"
  if [[ $(id -u) -ne 0 ]]; then echo "wrk is missing; install it (apt-get install wrk)" >&2; exit 1; fi
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi

if [[ -z ${SKIP_BUILD:-} ]]; then
  echo "== building release binaries"
  cargo build --release --locked
  if [[ -z ${SKIP_FLOOR:-} ]]; then
    (cd bench/floor && cargo build --release --locked)
  fi
fi

# --- helpers --------------------------------------------------------------------
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

wait_http() { # wait_http URL PID: up to 60 s for a 2xx, giving up early if PID died
  local _
  for _ in $(seq 1 600); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

stop() { # stop PID: SIGTERM, then wait so the next server gets the CPU to itself
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  local p keep=()
  for p in "${PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
  PIDS=("${keep[@]+"${keep[@]}"}")
}

# bench NAME DB PID BASE_URL SCENARIO PATH: one wrk run, one row in $TSV
bench() {
  local name=$1 db=$2 pid=$3 url=$4 scenario=$5 path=$6 before after line
  before=$(rss_kb "$pid")
  echo "-- $db / $name: $scenario $path"
  BENCH_SCENARIO=$scenario BENCH_PATH=$path \
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s bench/wrk.lua "$url" \
    | tee "$RESULTS/wrk-$db-$name.txt"
  after=$(rss_kb "$pid")
  line=$(grep '^BENCH_RESULT' "$RESULTS/wrk-$db-$name.txt")
  # BENCH_RESULT k=v ... -> TSV row
  awk -v n="$name" -v d="$db" -v b="$before" -v a="$after" '{
      for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      printf "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", n, d, v["rps"], v["p50_ms"], v["p99_ms"],
             v["status_errors"] + v["socket_errors"], b, a
    }' <<<"$line" >>"$TSV"
}

warmup() { # warmup URL SCENARIO PATH: unrecorded run so caches and pools are warm
  [[ $WARMUP == 0 ]] && return 0
  BENCH_SCENARIO=$2 BENCH_PATH=$3 wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" -s bench/wrk.lua "$1" >/dev/null
}

# run_server DB_LABEL DATABASE_URL: start, seed, measure, stop
run_server() {
  local db=$1 url=$2 base="http://127.0.0.1:$PORT" pid
  echo "== $db: starting server"
  DATABASE_URL=$url BIND_ADDR=127.0.0.1:$PORT "$BIN" serve >"$RESULTS/server-$db.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  if ! wait_http "$base/health/ready" "$pid"; then
    echo "server did not become ready; log:" >&2
    tail -n 40 "$RESULTS/server-$db.log" >&2
    exit 1
  fi

  # The CLI writes to the same database while the server runs (as an operator would).
  printf '%s' "$BENCH_PASSWORD" | DATABASE_URL=$url "$BIN" create-user \
    --username "$PHYSICIAN" --role physician --full-name "Bench Physician" --password-stdin

  echo "== $db: seeding $PATIENTS patients"
  export BENCH_IDS=$TMP/ids-$db.txt
  export BENCH_TOKEN
  BENCH_TOKEN=$(python3 bench/seed.py "$base" "$PHYSICIAN" "$PATIENTS" "$BENCH_IDS")

  warmup "$base" get "/api/v1/patients/{id}"
  bench live "$db" "$pid" "$base" plain /health/live
  bench get_patient "$db" "$pid" "$base" get "/api/v1/patients/{id}"
  bench list_filtered "$db" "$pid" "$base" get "/api/v1/patients?ward=ONC-1&status=admitted&limit=20"
  # Last: it grows the table, which would skew the reads after it.
  bench create_patient "$db" "$pid" "$base" post /api/v1/patients
  stop "$pid"
}

run_floor() { # run_floor FLOOR_DB LABEL: same reads on the bare axum + sqlx floor
  local base="http://127.0.0.1:$FLOOR_PORT" pid label=$2
  echo "== $label: starting (reads $1)"
  FLOOR_DB=$1 FLOOR_BIND=127.0.0.1:$FLOOR_PORT "$FLOOR_BIN" >"$RESULTS/server-$label.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  wait_http "$base/hello" "$pid" || { cat "$RESULTS/server-$label.log" >&2; exit 1; }
  warmup "$base" get "/patients/{id}"
  if [[ $label == floor ]]; then
    bench floor_hello "$label" "$pid" "$base" plain /hello
    bench floor_json "$label" "$pid" "$base" plain /json
  fi
  bench floor_get_patient "$label" "$pid" "$base" get "/patients/{id}"
  stop "$pid"
}

# interleaved DB_LABEL SERVER_URL FLOOR_DB FLOOR_LABEL: the hot read of the server and of the
# floor, alternated ROUNDS times with both processes up (an idle one takes no CPU), so that drift
# of this shared machine hits both alike; the ratio of the medians is the figure to hold against
# the target.
interleaved() {
  local db=$1 label=$4 base="http://127.0.0.1:$PORT" floor="http://127.0.0.1:$FLOOR_PORT" spid fpid r
  DATABASE_URL=$2 BIND_ADDR=127.0.0.1:$PORT "$BIN" serve >"$RESULTS/server-$db-interleaved.log" 2>&1 &
  spid=$!
  PIDS+=("$spid")
  wait_http "$base/health/ready" "$spid" || { tail -n 40 "$RESULTS/server-$db-interleaved.log" >&2; exit 1; }
  FLOOR_DB=$3 FLOOR_BIND=127.0.0.1:$FLOOR_PORT "$FLOOR_BIN" >"$RESULTS/server-$label-interleaved.log" 2>&1 &
  fpid=$!
  PIDS+=("$fpid")
  wait_http "$floor/hello" "$fpid" || { cat "$RESULTS/server-$label-interleaved.log" >&2; exit 1; }
  warmup "$base" get "/api/v1/patients/{id}"
  warmup "$floor" get "/patients/{id}"
  for r in $(seq 1 "$ROUNDS"); do
    bench "get_patient_r$r" "$db" "$spid" "$base" get "/api/v1/patients/{id}"
    bench "floor_get_patient_r$r" "$label" "$fpid" "$floor" get "/patients/{id}"
  done
  stop "$fpid"
  stop "$spid"
}

# --- SQLite, then the floor on the very same file ------------------------------------
SQLITE_FILE=$TMP/bench.db
run_server sqlite "sqlite://$SQLITE_FILE?mode=rwc"
if [[ -z ${SKIP_FLOOR:-} ]]; then
  BENCH_IDS=$TMP/ids-sqlite.txt run_floor "$SQLITE_FILE" floor
  if [[ $ROUNDS -gt 0 ]]; then
    BENCH_IDS=$TMP/ids-sqlite.txt interleaved sqlite "sqlite://$SQLITE_FILE?mode=rwc" "$SQLITE_FILE" floor
  fi
fi

# --- PostgreSQL, in a database of its own -------------------------------------------
if [[ -z ${SKIP_PG:-} ]]; then
  PG_DB=bench_$(rand 8 a-z0-9)
  psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -v ON_ERROR_STOP=1 -qc "CREATE DATABASE $PG_DB"
  PG_URL="postgres://$PG_USER@$PG_HOST:$PG_PORT/$PG_DB"
  run_server postgres "$PG_URL"
  # The issue's 30 % is of a trivial handler; this floor is the same read with nothing but the
  # JWT check, against the same PostgreSQL database, so the server's overhead is visible apart
  # from the database's.
  if [[ -z ${SKIP_FLOOR:-} ]]; then
    BENCH_IDS=$TMP/ids-postgres.txt run_floor "$PG_URL" floor-postgres
    if [[ $ROUNDS -gt 0 ]]; then
      BENCH_IDS=$TMP/ids-postgres.txt interleaved postgres "$PG_URL" "$PG_URL" floor-postgres
    fi
  fi
fi

# --- report ----------------------------------------------------------------------
{
  echo "# bench $STAMP: wrk -t$THREADS -c$CONNECTIONS -d$DURATION, $PATIENTS seeded patients"
  echo "# $(git rev-parse --short HEAD 2>/dev/null || echo no-git) $(nproc) cores, $(uname -r)"
  python3 - "$TSV" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
mib = lambda kb: f"{int(kb or 0) / 1024:.1f} MiB"
head = ["scenario", "database", "req/s", "p50 ms", "p99 ms", "non-2xx/errors", "RSS before", "RSS after"]
table = [[r["scenario"], r["database"], f"{float(r['rps']):,.0f}", r["p50_ms"], r["p99_ms"],
          r["errors"], mib(r["rss_before_kb"]), mib(r["rss_after_kb"])] for r in rows]
widths = [max(len(str(x)) for x in col) for col in zip(head, *table)]
for line in [head, ["-" * w for w in widths], *table]:
    print("| " + " | ".join(str(x).ljust(w) for x, w in zip(line, widths)) + " |")
rps = {(r["scenario"], r["database"]): float(r["rps"]) for r in rows}
import statistics
hello = rps.get(("floor_hello", "floor"))
for db, label, name in (("sqlite", "floor", "SQLite"), ("postgres", "floor-postgres", "PostgreSQL")):
    main, floor = rps.get(("get_patient", db)), rps.get(("floor_get_patient", label))
    if main and floor:
        print(f"\nGET patient / floor ({name}), one run each: {main / floor:.2f}")
    srv = [float(r["rps"]) for r in rows
           if r["scenario"].startswith("get_patient_r") and r["database"] == db]
    flr = [float(r["rps"]) for r in rows
           if r["scenario"].startswith("floor_get_patient_r") and r["database"] == label]
    if srv and flr:
        ratio = statistics.median(srv) / statistics.median(flr)
        pairs = ", ".join(f"{a / b:.2f}" for a, b in zip(srv, flr))
        line = (f"GET patient / floor ({name}), median of {len(srv)} interleaved rounds: "
                f"{ratio:.2f} (rounds: {pairs})")
        if db == "sqlite":
            verdict = "meets" if ratio >= 0.8 else "BELOW"
            line += f"; {verdict} the 0.80 target of shared/PERF-NOTES.md"
        print(line)
    if db == "postgres" and hello:
        for scenario, rate in (("get_patient", main), ("floor_get_patient", floor)):
            if rate:
                print(f"{scenario} ({name}) / floor /hello: {rate / hello:.2f} "
                      "(the issue asks 0.30 of a trivial handler)")
EOF
} | tee "$RESULTS/summary.md"
echo "results in ${RESULTS#"$ROOT"/}"
