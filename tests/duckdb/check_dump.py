#!/usr/bin/env python3
"""Load a yuju-export dump into DuckDB, as an analyst would, and check it.

Usage: check_dump.py DUMP.csv DUMP.jsonl SUMMARY.json [DUMP.parquet]

Checks: the row counts match the run summary; the columns are the six
documented ones; the CSV and JSONL dumps hold exactly the same rows; the
Parquet dump (read with read_parquet) holds the CSV's rows in the same
order, with seq a BIGINT, the text columns VARCHAR and zstd-compressed
pages; and hostile content (quotes, commas, CR/LF, tabs, emoji, Chinese,
U+2028) reads back intact.
"""
import json
import sys

import duckdb

COLUMNS = ["customer_id", "chat_id", "seq", "sender_type", "message_type", "content"]
# Texts the simulator is known to send (src/simulator/data.rs).
HOSTILE = [
    '他说"明天到"，结果没到',
    "first line\nsecond line",
    "windows\r\nline end",
    "tab\tseparated\tvalues",
    "emoji 😀🎉👍🏽 and 汉字",
    "line\u2028separator and\u2029paragraph",
    'a, b, c, "d"',
    "=SUM(A1:A9)",
]


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def check_parquet(con, path):
    """The Parquet dump's types and codec, and its rows against the CSV's,
    row for row in file order (rowid follows the order rows were read)."""
    types = con.execute("SELECT column_name, column_type FROM (DESCRIBE p)").fetchall()
    want = [(c, "BIGINT" if c == "seq" else "VARCHAR") for c in COLUMNS]
    if types != want:
        fail(f"Parquet types {types}, expected {want}")
    codecs = {r[0] for r in con.execute("SELECT DISTINCT compression FROM parquet_metadata(?)", [path]).fetchall()}
    if codecs != {"ZSTD"}:
        fail(f"Parquet column chunks compressed with {codecs}, expected ZSTD")
    diff = con.execute(
        "SELECT count(*) FROM ((SELECT rowid, * FROM c EXCEPT ALL SELECT rowid, * FROM p) "
        "UNION ALL (SELECT rowid, * FROM p EXCEPT ALL SELECT rowid, * FROM c))"
    ).fetchone()[0]
    if diff:
        fail(f"the Parquet and CSV dumps differ in {diff} rows (content or order)")


def main():
    csv_path, jsonl_path, summary_path = sys.argv[1:4]
    parquet_path = sys.argv[4] if len(sys.argv) > 4 else None
    with open(summary_path, encoding="utf-8") as f:
        expected = json.load(f)["rows"]
    con = duckdb.connect()
    # DuckDB reads an empty CSV field as NULL by default; an analyst who
    # wants empty strings kept (as the JSONL has them) sets nullstr.
    types = ", ".join(f"'{c}': '{'BIGINT' if c == 'seq' else 'VARCHAR'}'" for c in COLUMNS)
    con.execute(
        f"CREATE TABLE c AS SELECT * FROM read_csv(?, header = true, quote = '\"', escape = '\"', "
        f"delim = ',', new_line = '\\n', nullstr = '\\N', columns = {{{types}}})",
        [csv_path],
    )
    con.execute("CREATE TABLE j AS SELECT * FROM read_json(?, format = 'newline_delimited')", [jsonl_path])
    tables = ["c", "j"]
    if parquet_path:
        con.execute("CREATE TABLE p AS SELECT * FROM read_parquet(?)", [parquet_path])
        tables.append("p")
        check_parquet(con, parquet_path)

    for table in tables:
        cols = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]
        if cols != COLUMNS:
            fail(f"{table}: columns {cols}")
        n = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        if n != expected:
            fail(f"{table}: {n} rows, the summary says {expected}")
    seq_type = con.execute("SELECT typeof(seq) FROM j LIMIT 1").fetchone()[0]
    if seq_type != "BIGINT":
        fail(f"JSONL seq is {seq_type}, not an integer")

    diff = con.execute(
        "SELECT count(*) FROM ((SELECT * FROM c EXCEPT ALL SELECT * FROM j) "
        "UNION ALL (SELECT * FROM j EXCEPT ALL SELECT * FROM c))"
    ).fetchone()[0]
    if diff:
        fail(f"the CSV and JSONL dumps differ in {diff} rows")

    for text in HOSTILE:
        for table in tables:
            n = con.execute(
                f"SELECT count(*) FROM {table} WHERE content = ? OR content LIKE ? || ' #%'",
                [text, text],
            ).fetchone()[0]
            if n == 0:
                fail(f"{table}: content {text!r} did not read back intact")
    print(
        f"ok: DuckDB {duckdb.__version__} read {expected} rows from {', '.join(tables)}, "
        "identical, hostile content intact"
    )


if __name__ == "__main__":
    main()
