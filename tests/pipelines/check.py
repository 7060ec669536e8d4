"""Checks of tests/pipelines/run.sh: a loaded table against the export's
rows, the windows a run asked for, the bookmarks states hold.

Usage:
  check.py table LOADED.jsonl TRUTH.jsonl
  check.py window REQUESTS START END
  check.py bookmark MELTANO_STATE WINDOW_END
  check.py in-progress SINGER_STATE
  check.py resumed SINGER_STATE REQUESTS IDS
"""
import json
import re
import sys

COLUMNS = ["customer_id", "chat_id", "seq", "sender_type", "message_type", "content", "extra", "chat_extra"]


def fail(message):
    print(f"FAIL: {message}")
    sys.exit(1)


def rows(path):
    out = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            r = json.loads(line)
            row = {c: r.get(c) for c in COLUMNS}
            for c in ("extra", "chat_extra"):
                if isinstance(row[c], str):
                    row[c] = json.loads(row[c])
                if row[c] == {}:
                    row[c] = None
            key = (row["customer_id"], row["chat_id"], int(row["seq"]))
            row["seq"] = int(row["seq"])
            if key in out:
                fail(f"{path}:{n}: {key} twice")
            out[key] = row
    return out


def table(loaded_path, truth_path):
    loaded, truth = rows(loaded_path), rows(truth_path)
    if not truth:
        fail(f"{truth_path} is empty")
    missing = sorted(set(truth) - set(loaded))
    extra = sorted(set(loaded) - set(truth))
    if missing or extra:
        fail(f"{len(missing)} rows missing (first {missing[:3]}), {len(extra)} not in the truth (first {extra[:3]})")
    differ = [k for k in truth if truth[k] != loaded[k]]
    if differ:
        k = differ[0]
        fail(f"{len(differ)} rows differ, first {k}: {loaded[k]} != {truth[k]}")
    with_extra = sum(1 for r in truth.values() if r["extra"])
    if with_extra == 0:
        fail("no row carries extra: the drift customers are missing")
    print(f"{loaded_path}: {len(loaded)} rows equal the export's, {with_extra} with extra intact")


def requests(path):
    pattern = re.compile(r'^request customer_id="([^"]*)" start_time="([^"]*)" end_time="([^"]*)"')
    with open(path, encoding="utf-8") as f:
        return [pattern.match(line).groups() for line in f if line.startswith("request ")]


def window(path, start, end):
    seen = {(s, e) for _, s, e in requests(path)}
    if seen != {(start, end)}:
        fail(f"the run asked for {sorted(seen)}, not only {start}..{end}")
    print(f"the second run asked only for {start} .. {end} ({len(requests(path))} requests)")


def bookmark(path, expected):
    with open(path, encoding="utf-8") as f:
        state = json.loads(f.read())
    got = state["singer_state"]["bookmarks"]["chat_messages"]
    if got != {"window_end": expected}:
        fail(f"Meltano's state holds {got}, not the bookmark {expected}")
    print(f"Meltano's state holds the bookmark {expected}")


def in_progress(path):
    with open(path, encoding="utf-8") as f:
        state = json.load(f)
    progress = state["bookmarks"]["chat_messages"].get("in_progress")
    if not progress or progress["committed"] == 0:
        fail(f"the target's last state is not mid-window: {state}")
    print(f"killed mid-window: {progress['committed']} customers committed")


def resumed(state_path, requests_path, ids_path):
    with open(state_path, encoding="utf-8") as f:
        committed = json.load(f)["bookmarks"]["chat_messages"]["in_progress"]["committed"]
    with open(ids_path, encoding="utf-8") as f:
        ids = [line.strip() for line in f if line.strip() and not line.startswith("#")]
    asked = {c for c, _, _ in requests(requests_path)}
    if not asked <= set(ids[committed:]):
        fail(f"the resumed sync fetched customers the state had counted: {sorted(asked - set(ids[committed:]))[:3]}")
    print(f"the resumed sync fetched {len(asked)} customers, none of the {committed} the state counted")


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    {"table": table, "window": window, "bookmark": bookmark, "in-progress": in_progress, "resumed": resumed}[command](*args)
