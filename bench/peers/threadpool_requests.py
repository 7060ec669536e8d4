#!/usr/bin/env python3
"""What an analyst would write instead of yuju-export: a thread pool of
`requests` sessions, rows written with the csv module in input order.

Usage: threadpool_requests.py IDS OUT  (env: YUJU_API_KEY, YUJU_BASE_URL, CONCURRENCY)

Like most such scripts it keeps input order (executor.map) but holds every
pending result in memory, and it has no retries, rate limiting or resume.
"""
import csv
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import requests

KEY = os.environ["YUJU_API_KEY"]
URL = os.environ["YUJU_BASE_URL"].rstrip("/") + "/v1/openapi/chat/record"
local = threading.local()


def session():
    if not hasattr(local, "s"):
        local.s = requests.Session()
    return local.s


def fetch(customer_id):
    body = {"customer_id": customer_id, "days": "30", "start_time": "", "end_time": "",
            "chat_source": [], "chat_robot": [], "seat_member": []}
    r = session().post(URL, params={"apiKey": KEY}, json=body, timeout=30)
    r.raise_for_status()
    rows = []
    for chat in r.json().get("Data") or []:
        for seq, m in enumerate(chat.get("messages") or []):
            rows.append([customer_id, chat.get("chat_id", ""), seq, m.get("sender_type", ""),
                         m.get("message_type", ""), m.get("content", "")])
    return rows


def main():
    ids_path, out_path = sys.argv[1], sys.argv[2]
    with open(ids_path, encoding="utf-8-sig") as f:
        ids = [l.strip() for l in f if l.strip() and not l.strip().startswith("#")]
    with open(out_path, "w", newline="", encoding="utf-8") as out, \
            ThreadPoolExecutor(max_workers=int(os.environ.get("CONCURRENCY", "8"))) as pool:
        w = csv.writer(out, lineterminator="\n")
        w.writerow(["customer_id", "chat_id", "seq", "sender_type", "message_type", "content"])
        for rows in pool.map(fetch, ids):
            w.writerows(rows)


if __name__ == "__main__":
    main()
