#!/usr/bin/env python3
"""Load a yuju-export dump into DuckDB, as an analyst would, and check it.

Usage: check_dump.py DUMP.csv DUMP.jsonl SUMMARY.json [DUMP.parquet]
       check_dump.py --extra DUMP.csv DUMP.jsonl

Checks: the row counts match the run summary; the columns are the six
documented ones; the CSV and JSONL dumps hold exactly the same rows; the
Parquet dump (read with read_parquet) holds the CSV's rows in the same
order, with seq a BIGINT, the text columns VARCHAR and zstd-compressed
pages; and hostile content (quotes, commas, CR/LF, tabs, emoji, Chinese,
U+2028) reads back intact. With --extra (dumps of every column, `extra` and
`chat_extra` included): DuckDB reads the undocumented fields with
json_extract from both formats, and they equal what Python's json module
reads from the JSONL.
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


def check_extra(csv_path, jsonl_path):
    """`extra` and `chat_extra` load as JSON and json_extract reads them."""
    con = duckdb.connect()
    types = {c: "BIGINT" if c == "seq" else "VARCHAR" for c in COLUMNS}
    types.update({"extra": "JSON", "chat_extra": "JSON"})
    spec = "{" + ", ".join(f"'{c}': '{t}'" for c, t in types.items()) + "}"
    con.execute(
        f"CREATE TABLE c AS SELECT * FROM read_csv(?, header = true, quote = '\"', escape = '\"', "
        f"delim = ',', new_line = '\\n', nullstr = '\\N', columns = {spec})",
        [csv_path],
    )
    con.execute(
        f"CREATE TABLE j AS SELECT * FROM read_json(?, format = 'newline_delimited', columns = {spec})",
        [jsonl_path],
    )
    with open(jsonl_path, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]

    def key(r):
        return (r[0], r[1], r[2])

    want = sorted(
        (
            r["customer_id"],
            r["chat_id"],
            r["seq"],
            r["extra"].get("time"),
            r["extra"].get("msg_id"),
            r["chat_extra"].get("create_time"),
            r["extra"],
        )
        for r in rows
    )
    if not any(w[3] is not None for w in want) or not any(w[5] is not None for w in want):
        fail("the dump holds no undocumented time or create_time: nothing to check")
    for table in ["c", "j"]:
        got = con.execute(
            "SELECT customer_id, chat_id, seq, json_extract_string(extra, '$.time'), "
            "json_extract_string(extra, '$.msg_id'), json_extract_string(chat_extra, '$.create_time'), "
            f"CAST(json_extract(extra, '$') AS VARCHAR) FROM {table}"
        ).fetchall()
        got = sorted((*g[:6], json.loads(g[6])) for g in got)
        if got != want:
            bad = next(g for g, w in zip(got, want) if g != w) if len(got) == len(want) else None
            fail(f"{table}: extra/chat_extra read back differently ({len(got)} rows vs {len(want)}): {bad}")
        # The README's query: a message time as a timestamp.
        n = con.execute(
            f"SELECT count(to_timestamp(json_extract_string(extra, '$.time')::BIGINT)) FROM {table}"
        ).fetchone()[0]
        if n != sum(1 for w in want if w[3] is not None):
            fail(f"{table}: {n} message times converted")
    print(f"ok: DuckDB {duckdb.__version__} read extra and chat_extra of {len(want)} rows with json_extract")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--extra"]:
        check_extra(*sys.argv[2:4])
    else:
        main()
