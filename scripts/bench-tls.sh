#!/usr/bin/env bash
# The extraction benchmark (benches/extract.rs) with TLS and without, on the same servers, one
# run each: the machine's PostgreSQL (which offers TLS) with sslmode=disable, then
# sslmode=require; a private MariaDB with TLS that also lets plain TCP in (scripts/services.sh)
# with ssl-mode=DISABLED, then REQUIRED. The engine's contenders (c, d, and g: through ConnectorX)
# get the option; the floor (a) runs without TLS, ConnectorX direct (b) with its own default
# (PostgreSQL: prefer).
#
#   bash scripts/bench-tls.sh [--scale 1]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/vibe-piper/target}"
source scripts/services.sh
scale=1
if [ "${1:-}" = "--scale" ]; then scale="$2"; fi
ensure_postgres
cargo bench --bench extract --no-run
for options in sslmode=disable sslmode=require; do
  echo "== postgres, $options"
  VP_BENCH_OPTIONS="$options" cargo bench --bench extract -- --source postgres --scale "$scale" \
    --runs 1 --phases c,d,g
done
VP_TLS_MYSQL_REQUIRE_SECURE=OFF VP_TLS_MYSQL_BUFFER_POOL=1G ensure_tls_mariadb
export VP_MYSQL_URL="mysql://vp_native:n%40tive%3Apw%2F%25@localhost:$VP_TLS_MYSQL_PORT"
for options in ssl-mode=DISABLED ssl-mode=REQUIRED; do
  echo "== mariadb, $options"
  VP_BENCH_OPTIONS="$options" cargo bench --bench extract -- --source mysql --scale "$scale" \
    --runs 1 --phases c,d,g
done
