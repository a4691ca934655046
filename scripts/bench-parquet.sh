#!/usr/bin/env bash
# The extraction-to-Parquet benchmark (benches/parquet.rs, issue 13): makes the peers' venvs
# (ConnectorX + pyarrow; DuckDB with its postgres scanner, whose extension ships as a PyPI
# package, so nothing is downloaded at run time), starts the S3 emulator moto as the tests do,
# runs the bench, stops moto.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/vibe-piper/target}"
source scripts/services.sh
ensure_postgres
ensure_moto
venvs="${VP_VENV_DIR:-$HOME/.cache/vibe-piper/venvs}"
_vp_venv "$venvs/cx-pyarrow" connectorx pyarrow
_vp_venv "$venvs/duckdb-postgres" "duckdb==1.5.5" "duckdb-extension-postgres-scanner==1.5.5"
cargo bench --bench parquet -- "$@"
