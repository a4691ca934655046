#!/usr/bin/env bash
# The BigQuery benchmark (benches/bigquery.rs) against the bqemulator emulator: starts it as the
# tests do, makes the Python client's venv (the comparison), runs the bench, stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/vibe-piper/target}"
source scripts/services.sh
ensure_bqemulator
_vp_venv "${VP_VENV_DIR:-$HOME/.cache/vibe-piper/venvs}/bq-client" \
  google-cloud-bigquery google-cloud-bigquery-storage pyarrow
cargo bench --bench bigquery -- "$@"
