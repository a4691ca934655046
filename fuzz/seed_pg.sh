#!/usr/bin/env bash
# Writes the pg_copy seed corpus: real binary COPY streams from a PostgreSQL server, one per
# column kind of connector/postgres/fuzz.rs (byte 0: the column pick, byte 1: the split point).
# Usage: bash fuzz/seed_pg.sh [psql connection options]   (default: -h 127.0.0.1 -U postgres test)
set -euo pipefail
cd "$(dirname "$0")"
conn=("$@")
[ $# -eq 0 ] && conn=(-h 127.0.0.1 -U postgres test)
out=corpus/pg_copy
queries=(
  "SELECT v FROM (VALUES (true), (false), (NULL::boolean)) t(v)"
  "SELECT v::int2 FROM (VALUES (-32768), (0), (32767), (NULL)) t(v)"
  "SELECT v::int4 FROM (VALUES (-2147483648), (1), (NULL)) t(v)"
  "SELECT v::int8 FROM (VALUES (-9223372036854775808), (42), (NULL)) t(v)"
  "SELECT v::float4 FROM (VALUES ('1.5'), ('NaN'), ('-Infinity'), (NULL)) t(v)"
  "SELECT v::float8 FROM (VALUES ('1e300'), ('-0'), (NULL)) t(v)"
  "SELECT v::text FROM (VALUES ('héllo'), (''), (NULL)) t(v)"
  "SELECT v::char(5) FROM (VALUES ('ab'), (NULL)) t(v)"
  "SELECT v::jsonb FROM (VALUES ('{\"a\": [1, 2]}'), (NULL)) t(v)"
  "SELECT v::uuid FROM (VALUES ('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'), (NULL)) t(v)"
  "SELECT v::bytea FROM (VALUES ('\\x00ff'), (NULL)) t(v)"
  "SELECT v::date FROM (VALUES ('2024-02-29'), ('infinity'), ('4713-01-01 BC'), (NULL)) t(v)"
  "SELECT v::timestamp FROM (VALUES ('2024-02-29 23:59:59.5'), ('-infinity'), (NULL)) t(v)"
  "SELECT v::timestamptz FROM (VALUES ('2024-02-29 23:59:59.5+02'), (NULL)) t(v)"
  "SELECT v::time FROM (VALUES ('23:59:59.999999'), (NULL)) t(v)"
  "SELECT v::interval FROM (VALUES ('1 year 2 mons 3 days 04:05:06.7'), ('-1 day'), (NULL)) t(v)"
  "SELECT v::numeric FROM (VALUES ('1234567890123456789012345678.0123456789'), ('-0.0000000001'), ('NaN'), (NULL)) t(v)"
  "SELECT v::numeric(12,2) FROM (VALUES ('9999999999.99'), ('-0.01'), (NULL)) t(v)"
  "SELECT v::int4[] FROM (VALUES ('{1,NULL,3}'), ('{}'), ('{{1,2},{3,4}}'), (NULL)) t(v)"
  "SELECT v::text[] FROM (VALUES ('{a,\"b c\",NULL}'), (NULL)) t(v)"
  "SELECT v::xml::text FROM (VALUES ('<a>1</a>'), (NULL)) t(v)"
)
tmp=$(mktemp)
for i in "${!queries[@]}"; do
  psql "${conn[@]}" -q -c "\\copy (${queries[$i]}) TO '$tmp' WITH (FORMAT binary)"
  { printf "\\x$(printf %02x "$i")\\x80"; cat "$tmp"; } > "$out/seed-$i"
done
# Streams that decode whole, for the columns above whose seed ends in a value with no Arrow form.
extra=(
  "11|SELECT v::date FROM (VALUES ('2024-02-29'), ('0001-01-01'), (NULL)) t(v)"
  "12|SELECT v::timestamp FROM (VALUES ('2024-02-29 23:59:59.5'), ('1900-01-01'), (NULL)) t(v)"
  "16|SELECT v::numeric FROM (VALUES ('1234567890123456789012345678.0123456789'), ('-0.0000000001'), (NULL)) t(v)"
  "18|SELECT v::int4[] FROM (VALUES ('{1,NULL,3}'), ('{}'), (NULL)) t(v)"
)
for e in "${extra[@]}"; do
  i=${e%%|*}
  psql "${conn[@]}" -q -c "\\copy (${e#*|}) TO '$tmp' WITH (FORMAT binary)"
  { printf "\\x$(printf %02x "$i")\\x80"; cat "$tmp"; } > "$out/seed-$i-whole"
done
# Four columns at once (pick 21: columns 0, 3, 6, 9 of the list).
psql "${conn[@]}" -q -c "\\copy (SELECT true, 7::int8, 'x'::text, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid) TO '$tmp' WITH (FORMAT binary)"
{ printf '\x15\x40'; cat "$tmp"; } > "$out/seed-multi"
rm -f "$tmp"
