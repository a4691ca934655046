#!/usr/bin/env bash
# Runs the whole test suite against real services: starts what is not running, then nextest.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/vibe-piper/target}"
source scripts/services.sh
ensure_postgres
ensure_mysql
# Private PostgreSQL and MariaDB servers that take TLS only, with password and certificate logins.
ensure_tls_postgres
ensure_tls_mariadb
# The Snowflake emulator and the ADBC driver, each in a virtualenv of its own.
ensure_fakesnow
ensure_adbc_snowflake
# The BigQuery emulator (REST and the Storage API), in a virtualenv of its own.
ensure_bqemulator
# The S3 emulator (moto), for object storage sources.
ensure_moto
if ! command -v cargo-nextest >/dev/null 2>&1; then
  cargo install --locked cargo-nextest
fi
cargo nextest run --no-fail-fast "$@"
