# Shared by ecg.sh, exams.sh and vitals.sh, sourced from the repository root after each script
# has set its own knobs: random secrets, the results and temporary directories, the database (a
# SQLite file, or a fresh PostgreSQL database dropped at exit), wrk, and the server, started
# and stopped at exit. Not run on its own.

DB=${DB:-sqlite}
PG_HOST=${PG_HOST:-127.0.0.1}
PG_PORT=${PG_PORT:-5432}
PG_USER=${PG_USER:-postgres}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=${BIN:-$TARGET/release/oncology-registry}

rand() { LC_ALL=C tr -dc "${2:-A-Za-z0-9}" </dev/urandom 2>/dev/null | head -c "$1" || true; }

# bench_setup NAME: results in bench/results/NAME-<time>, a temporary directory, a random
# JWT secret and bench password (exported), cleanup at exit, wrk installed if missing.
bench_setup() {
  STAMP=$(date +%Y%m%d-%H%M%S)
  RESULTS=$ROOT/bench/results/$1-$STAMP
  mkdir -p "$RESULTS"
  TMP=$(mktemp -d)
  JWT_SECRET=$(rand 48)
  BENCH_PASSWORD=$(rand 20)
  export JWT_SECRET BENCH_PASSWORD
  PG_DB=""
  PID=""
  trap bench_cleanup EXIT
  command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
}

bench_cleanup() {
  [[ -n $PID ]] && { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }
  [[ -n $PG_DB ]] && psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -qc "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" || true
  rm -rf "$TMP"
}

# bench_database NAME: URL of a fresh database, $TMP/NAME.db on SQLite.
bench_database() {
  if [[ $DB == postgres ]]; then
    PG_DB=bench_$(rand 8 a-z0-9)
    psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -v ON_ERROR_STOP=1 -qc "CREATE DATABASE $PG_DB"
    URL="postgres://$PG_USER@$PG_HOST:$PG_PORT/$PG_DB"
  else
    URL="sqlite://$TMP/$1.db?mode=rwc"
  fi
}

# start_server [VAR=value ...]: the server on 127.0.0.1:$PORT over $URL with these extra
# settings, its log in $RESULTS/server.log; returns once it is ready (PID, BASE set).
start_server() {
  BASE=http://127.0.0.1:$PORT
  env DATABASE_URL="$URL" BIND_ADDR="127.0.0.1:$PORT" "$@" "$BIN" serve >"$RESULTS/server.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 600); do curl -fsS -o /dev/null "$BASE/health/ready" 2>/dev/null && break; sleep 0.1; done
}

# CPU time of a process in clock ticks (user + system), for CPU per request around a wrk run.
HZ=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# Per-thread ticks of the driver's connection threads, "tid ticks" per line.
db_ticks() {
  local t
  for t in /proc/"$1"/task/*; do
    [[ $(cat "$t/comm" 2>/dev/null) == sqlx-sqlite-wor* ]] && awk '{print $1, $14 + $15}' "$t/stat"
  done
  return 0
}
# busiest_ticks BEFORE AFTER: the largest per-thread difference of two db_ticks listings.
busiest_ticks() {
  awk 'NR == FNR { b[$1] = $2; next } { d = $2 - b[$1]; if (d > m) m = d } END { print m + 0 }' \
    <(printf '%s\n' "$1") <(printf '%s\n' "$2")
}
