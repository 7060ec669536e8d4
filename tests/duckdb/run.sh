#!/usr/bin/env bash
# A real consumer: install DuckDB (its Python package), make a dump from the
# simulator in CSV, JSONL and Parquet with the built binary, and load them
# into DuckDB.
# Usage: tests/duckdb/run.sh [path/to/yuju-export]
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${1:-target/debug/yuju-export}
work=$(mktemp -d)
trap 'kill $(cat "$work"/*.pid 2>/dev/null) 2>/dev/null || true; rm -rf "$work"' EXIT
source tests/lib.sh

# Python tools live in a virtual environment; an install is tried twice.
venv=$(venv_with duckdb duckdb)
export PATH="$venv/bin:$PATH"

addr=$(start_mock "$bin" "$work/mock.log" --key duckdb-key --contacts 400)

# The customers: the simulator's contact list, as `contacts` writes it.
YUJU_API_KEY=duckdb-key "$bin" contacts --base-url "http://$addr" --out "$work/contacts.csv" -q
ids="$work/ids.txt"
tail -n +2 "$work/contacts.csv" | cut -d, -f1 > "$ids"
[[ $(wc -l < "$ids") -eq 400 ]] || { echo "the contact list does not hold 400 IDs"; exit 1; }

for fmt in csv jsonl parquet; do
  YUJU_API_KEY=duckdb-key "$bin" export --base-url "http://$addr" --ids "$ids" \
    --out "$work/dump.$fmt" --summary "$work/summary.$fmt.json" --progress never -q
done
python tests/duckdb/check_dump.py "$work/dump.csv" "$work/dump.jsonl" "$work/summary.csv.json" \
  "$work/dump.parquet"

# Answers that drift from the documentation, with the undocumented fields
# kept in the extra columns.
awk '!/^#/ && n++ < 100' "$ids" > "$work/plain-ids.txt"
{ cat "$work/plain-ids.txt"; sed 's/^/drift-/' "$work/plain-ids.txt"; } > "$work/drift-ids.txt"
for fmt in csv jsonl; do
  YUJU_API_KEY=duckdb-key "$bin" export --base-url "http://$addr" --ids "$work/drift-ids.txt" \
    --out "$work/drift.$fmt" --progress never -q \
    --columns customer_id,chat_id,seq,sender_type,message_type,content,extra,chat_extra 2> "$work/drift.$fmt.log" \
    || { cat "$work/drift.$fmt.log"; exit 1; }
done
python tests/duckdb/check_dump.py --extra "$work/drift.csv" "$work/drift.jsonl"

# Nightly runs with --state and --lookback against dated chats: docs/scheduling.md's
# query removes the overlap's duplicates.
dated=$(start_mock "$bin" "$work/dated.log" --key duckdb-key --chat-dates 2026-03-01..2026-03-11)
mkdir "$work/nights"
for end in 2026-03-04 2026-03-07 2026-03-11; do
  YUJU_API_KEY=duckdb-key "$bin" export --base-url "http://$dated" --ids "$ids" \
    --state "$work/nights/state.json" --start 2026-03-01 --end "$end" --lookback 1d \
    --tz UTC --out "$work/nights/chats-{start}.csv" --progress never -q
done
YUJU_API_KEY=duckdb-key "$bin" export --base-url "http://$dated" --ids "$ids" \
  --start 2026-03-01 --end 2026-03-11 --tz UTC --out "$work/nights/whole.csv" --progress never -q
python tests/duckdb/check_lookback.py "$work/nights"
