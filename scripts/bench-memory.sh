#!/usr/bin/env bash
# The memory budget, measured with the release CLI in one run: a sort of a 128-byte text column
# of a 3 M-row Parquet file, and a 1 M-group aggregate over it, with no limit and under 256, 128
# and 64 MB. For each: wall time, peak resident memory (GNU time's %M) and a checksum of the
# output, which must be the same under every limit. The baseline is `SELECT 1`'s peak.
#
#   bash scripts/bench-memory.sh [ROWS]      (VP_BENCH_BIN=path: that binary, no release build)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/vibe-piper/target}"
rows="${1:-3000000}"
bin="${VP_BENCH_BIN:-}"
if [ -z "$bin" ]; then
  cargo build --release --bin vibe-piper
  bin="$CARGO_TARGET_DIR/release/vibe-piper"
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/data" "$work/spill"
"$bin" extract -q --memory-limit unlimited --output "$work/data/t.parquet" --query \
  "SELECT value AS id, repeat(md5(CAST(value % 1000000 AS VARCHAR)), 4) AS s FROM generate_series(1, $rows)"
src="f=file://$work/data/"
measure() { # label limit sql
  local out
  out=$( { /usr/bin/time -f "%e %M" "$bin" sql --quiet --memory-limit "$2" --temp-directory "$work/spill" \
      --source "$src" --format csv "$3" | md5sum | cut -c1-12; } 2>&1 )
  # out: "<checksum>\n<seconds> <KB>" (time writes to stderr after the pipe ends)
  local sum secs kb
  sum=$(echo "$out" | grep -E '^[0-9a-f]{12}$' | head -1)
  read -r secs kb < <(echo "$out" | grep -E '^[0-9.]+ [0-9]+$' | tail -1)
  printf '%-10s %-10s %8s s %8.1f MB  %s\n' "$1" "$2" "$secs" "$(awk "BEGIN{print $kb/1024}")" "$sum"
}
echo "rows=$rows, parquet $(du -h "$work/data/t.parquet" | cut -f1)"
measure baseline unlimited "SELECT 1"
for limit in unlimited 256MB 128MB 64MB; do
  measure sort "$limit" "SELECT id FROM f.t ORDER BY s, id"
done
for limit in unlimited 256MB 128MB 64MB; do
  measure aggregate "$limit" "SELECT s, count(*) AS n FROM f.t GROUP BY s ORDER BY s"
done
