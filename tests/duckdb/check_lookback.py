#!/usr/bin/env python3
"""Check the DuckDB query of docs/scheduling.md for --lookback overlaps.

Usage: check_lookback.py DIR

DIR holds nightly dumps `chats-{start}.csv` made with --state and
--lookback (so consecutive windows overlap) and `whole.csv`, one run over
the whole span. The query from docs/scheduling.md, run over the nightly files,
must keep each (chat_id, seq) once and give exactly the rows of the whole
run; the nightly files alone must hold some rows twice (the overlap).
"""
import sys

import duckdb

# The query of docs/scheduling.md (section "Late chats: --lookback"), with its path.
QUERY = """
SELECT * EXCLUDE (filename)
FROM read_csv('{dir}/chats-*.csv', header = true, nullstr = '\\N', filename = true)
QUALIFY row_number() OVER (PARTITION BY chat_id, seq ORDER BY filename DESC) = 1
"""


def fail(msg):
    print(f"check_lookback: {msg}", file=sys.stderr)
    sys.exit(1)


def main():
    d = sys.argv[1]
    con = duckdb.connect()
    nightly = con.execute(
        f"SELECT count(*) FROM read_csv('{d}/chats-*.csv', header = true, nullstr = '\\N')"
    ).fetchone()[0]
    deduplicated = con.execute(f"SELECT count(*) FROM ({QUERY.format(dir=d)})").fetchone()[0]
    whole = con.execute(
        f"SELECT count(*) FROM read_csv('{d}/whole.csv', header = true, nullstr = '\\N')"
    ).fetchone()[0]
    if nightly <= whole:
        fail(f"the nightly files hold {nightly} rows, no overlap with the {whole} of one run")
    if deduplicated != whole:
        fail(f"the query keeps {deduplicated} rows, one run over the span has {whole}")
    differ = con.execute(
        f"""SELECT count(*) FROM (
              (SELECT * FROM ({QUERY.format(dir=d)})
               EXCEPT ALL
               SELECT * FROM read_csv('{d}/whole.csv', header = true, nullstr = '\\N'))
            )"""
    ).fetchone()[0]
    if differ:
        fail(f"{differ} rows of the query are not in the whole run")
    print(f"lookback ok: {nightly} nightly rows, {deduplicated} after the documented query")


main()
