#!/usr/bin/env bash
# The Snowflake benchmark (benches/snowflake.rs) against the fakesnow emulator: starts it (and
# finds the ADBC driver) as the tests do, runs the bench, stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/vibe-piper/target}"
source scripts/services.sh
ensure_fakesnow
ensure_adbc_snowflake
cargo bench --bench snowflake -- "$@"
