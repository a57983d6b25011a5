#!/usr/bin/env bash
# Renders the ER diagram of the schema the real migrations produce to er.png at
# the repository root (or to $1).
#
#   tools/er-diagram.sh            # migrate a fresh temp SQLite file, draw it
#   ER_DB=some.db tools/er-diagram.sh   # draw an existing SQLite file instead
#   ER_DOT=er.dot tools/er-diagram.sh   # also keep the DOT source
#
# SQLite is used because it needs no server and the migrations target both
# engines with the same tables; PostgreSQL-only details (e.g. native enum or
# uuid types) show up here as SQLite's spelling of them.
set -euo pipefail

cd "$(dirname "$0")/.."
OUT=${1:-er.png}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

if ! command -v dot >/dev/null; then
  if [[ $(id -u) -eq 0 ]]; then
    echo "installing graphviz (for dot)"
    apt-get update -qq && apt-get install -y -qq --no-install-recommends graphviz >/dev/null
  else
    echo "dot not found: install graphviz (apt-get install graphviz)" >&2
    exit 1
  fi
fi

DB=${ER_DB:-}
if [[ -z $DB ]]; then
  DB=$TMP/er.db
  echo "applying migrations to $DB"
  # JWT_SECRET only in case configuration loading insists on one; `migrate`
  # issues no tokens, so a throwaway value is fine.
  DATABASE_URL="sqlite://$DB?mode=rwc" \
    JWT_SECRET=${JWT_SECRET:-er-diagram-throwaway-secret-not-used-for-anything} \
    cargo run --release --quiet -- migrate
fi

python3 tools/er_diagram.py "$DB" >"$TMP/er.dot"
[[ -n ${ER_DOT:-} ]] && cp "$TMP/er.dot" "$ER_DOT"
dot -Tpng -Gdpi=110 "$TMP/er.dot" -o "$OUT"
echo "wrote $OUT"
