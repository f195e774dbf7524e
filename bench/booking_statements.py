"""SQL statements per booking request, counted in process (Django's test client).

Run by bench/booking_profile.py with the app's Python, in the app's directory, against a fresh
bench database that has the hot slot (quota 50) and the warm-up slot: books one place (a
winner), one more with an Idempotency-Key (as the booking page sends), fills the hot slot and
asks once more (a loser told "full") and again (the loser's token now remembered by the
process), and asks for a hall's week of availability: again at once (answered from the 2 s
cache), then once the cache has expired (computed; the first request materialised the slots).
Prints JSON: {"book": n, "book_with_key": n, "full": n, "full_again": n, "availability": n,
"availability_computed": n, "availability_bytes": n, ...}.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from hallq.booking.api import AVAILABILITY_FRESH_SECONDS  # noqa: E402


def statement_kind(sql: str) -> str:
    """``SELECT … FROM table`` (or the statement's first words): what a statement reads."""
    words = sql.split()
    verb = " ".join(words[:2]) if words[1:2] == ["DISTINCT"] else words[0]
    table = re.search(r'(?:FROM|INTO|UPDATE) "?(\w+)"?', sql)
    return f"{verb} {table.group(1)}" if table else " ".join(sql.split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=Path, required=True)
    parser.add_argument("--hot-slot", type=int, required=True)
    parser.add_argument("--quota", type=int, required=True)
    parser.add_argument("--other-slot", type=int, required=True)
    parser.add_argument("--hall", type=int, required=True)
    args = parser.parse_args()
    tokens = args.tokens.read_text().split()
    client = Client()

    def book(citizen: int, slot: int, key: str | None = None) -> tuple[int, list[str]]:
        headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
        with CaptureQueriesContext(connection) as queries:
            response = client.post(
                "/api/v1/appointments",
                data=json.dumps({"slot_id": slot}),
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {tokens[citizen]}",
                **headers,
            )
        return response.status_code, [q["sql"] for q in queries.captured_queries]

    book(0, args.other_slot)  # the first request of a process loads and caches more
    status, winner = book(1, args.other_slot)
    assert status == 201, status
    status, keyed = book(2, args.other_slot, key="bench-key-2")
    assert status == 201, status
    for citizen in range(3, 3 + args.quota):
        book(citizen, args.hot_slot)
    status, loser = book(3 + args.quota, args.hot_slot)
    assert status == 409, status
    status, loser_again = book(3 + args.quota, args.hot_slot)
    assert status == 409, status
    path = f"/api/v1/halls/{args.hall}/availability?days=7"
    client.get(path)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200, response.status_code
    availability = [q["sql"] for q in queries.captured_queries]
    time.sleep(AVAILABILITY_FRESH_SECONDS + 0.1)
    with CaptureQueriesContext(connection) as queries:
        computed = client.get(path)
    assert computed.status_code == 200, computed.status_code
    availability_computed = [q["sql"] for q in queries.captured_queries]
    same = collections.Counter(statement_kind(sql) for sql in availability_computed)
    print(
        json.dumps(
            {
                "book": len(winner),
                "book_with_key": len(keyed),
                "full": len(loser),
                "full_again": len(loser_again),
                "availability": len(availability),
                "availability_computed": len(availability_computed),
                "availability_bytes": len(response.content),
                "book_statements": [statement_kind(sql) for sql in winner],
                "availability_repeated": [[sql, n] for sql, n in same.most_common(3)],
            }
        )
    )


if __name__ == "__main__":
    main()
