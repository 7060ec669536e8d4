#!/usr/bin/env bash
# A real consumer: install DuckDB (its Python package), make a dump from the
# simulator in CSV, JSONL and Parquet with the built binary, and load them
# into DuckDB.
# Usage: tests/duckdb/run.sh [path/to/yuju-export]
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${1:-target/debug/yuju-export}
work=$(mktemp -d)
trap 'kill "${mock_pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

python3 -m pip install --quiet --disable-pip-version-check duckdb

"$bin" mock --addr 127.0.0.1:0 --key duckdb-key 2> "$work/mock.log" &
mock_pid=$!
addr=""
for _ in $(seq 1 100); do
  addr=$(grep -o 'listening on [0-9.:]*' "$work/mock.log" | awk '{print $3}' || true)
  [[ -n "$addr" ]] && break
  sleep 0.1
done
[[ -n "$addr" ]] || { echo "the simulator did not start"; cat "$work/mock.log"; exit 1; }

"$bin" demo --customers 400 --dir "$work/demo" --progress never > /dev/null 2>&1 || true
ids="$work/demo/ids.txt"
[[ -s "$ids" ]] || { echo "no sample IDs"; exit 1; }

for fmt in csv jsonl parquet; do
  YUJU_API_KEY=duckdb-key "$bin" export --base-url "http://$addr" --ids "$ids" \
    --out "$work/dump.$fmt" --summary "$work/summary.$fmt.json" --progress never -q
done
python3 tests/duckdb/check_dump.py "$work/dump.csv" "$work/dump.jsonl" "$work/summary.csv.json" \
  "$work/dump.parquet"
