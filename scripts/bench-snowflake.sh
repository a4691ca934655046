#!/usr/bin/env bash
# The Snowflake benchmark (benches/snowflake.rs) against the fakesnow emulator: starts it (and
# finds the ADBC driver) as the tests do, runs the bench, stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/vibe-piper/target}"
source scripts/services.sh
ensure_fakesnow
ensure_adbc_snowflake
# The Python connector with its Arrow extra, for the read comparison (fetch_arrow_all).
_vp_venv "${VP_VENV_DIR:-$HOME/.cache/vibe-piper/venvs}/sf-connector" "snowflake-connector-python[pandas]<5"
cargo bench --bench snowflake -- "$@"
