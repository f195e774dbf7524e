"""Counters calling over HTTP, one keep-alive connection each (raw asyncio, as the SSE latency
run of bench/hallq_bench.py), and the hall they call in: its counters opened and its tickets
issued and bound."""

from __future__ import annotations

import asyncio
import math
import re
import time
from typing import Any

from hallq_bench import (
    Demo,
    HttpConn,
    event_loop_policy,
    log,
    open_counters,
    staff_tokens,
)
from notifications_stack import (
    DRAIN_SECONDS,
    HALL,
    Sandbox,
    counter_plan,
    issue_and_bind,
    services_for,
    wait_drained,
)


async def counter_loop(
    counter_id: int,
    token: str,
    slots: list[float] | None,
    deadline: float,
    recall_every: int,
    records: list[dict[str, Any]],
) -> dict[str, int]:
    """One counter: at each slot (monotonic times; None: back to back until the deadline)
    finish the ticket being served and call the next; every ``recall_every``-th called ticket
    is recalled once, halfway to the next slot. Stops when nobody is left for the counter."""
    conn = await HttpConn().connect()
    statuses: dict[str, int] = {}
    current: int | None = None
    called = 0

    async def post(action: str) -> tuple[int, bytes, float]:
        status, body, sent = await conn.post(f"/api/v1/counters/{counter_id}/{action}", token)
        statuses[f"{action}_{status}"] = statuses.get(f"{action}_{status}", 0) + 1
        return status, body, sent

    try:
        k = 0
        while True:
            if slots is not None:
                if k >= len(slots):
                    break
                await asyncio.sleep(max(0.0, slots[k] - time.monotonic()))
            if time.monotonic() >= deadline:
                break
            if current is not None:
                await post("finish")
                current = None
            wall = time.time()
            status, body, sent = await post("call-next")
            if status == 204:
                break
            if status == 200:
                match = re.search(rb'"id": ?(\d+)', body)
                assert match is not None, body
                current = int(match.group(1))
                called += 1
                records.append(
                    {
                        "ticket": current,
                        "counter": counter_id,
                        "wall": wall,
                        "rtt": time.monotonic() - sent,
                    }
                )
                if recall_every and called % recall_every == 0:
                    if slots is not None and k + 1 < len(slots):
                        await asyncio.sleep(max(0.0, (slots[k + 1] - time.monotonic()) / 2))
                    await post("recall")
            k += 1
        if current is not None:
            await post("finish")
    finally:
        conn.close()
    return statuses


def counters_call(
    counters: list[int], token: str, rate: float, calls: int, seconds: float, recall_every: int
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Every counter calls in turn at ``rate`` calls/s in all (0: as fast as each can), at most
    ``calls`` in all and for at most ``seconds``. Records each 200 call-next."""
    event_loop_policy()
    records: list[dict[str, Any]] = []

    async def run() -> list[dict[str, int]]:
        start = time.monotonic() + 0.2
        per_counter = math.ceil(calls / len(counters))
        loops = []
        for j, counter_id in enumerate(counters):
            slots = (
                [start + (k * len(counters) + j) / rate for k in range(per_counter)]
                if rate > 0
                else None
            )
            loops.append(
                counter_loop(counter_id, token, slots, start + seconds, recall_every, records)
            )
        return await asyncio.gather(*loops)

    statuses: dict[str, int] = {}
    for part in asyncio.run(run()):
        for key, n in part.items():
            statuses[key] = statuses.get(key, 0) + n
    return records, statuses


def setup_hall(demo: Demo, sandbox: Sandbox, tickets: int) -> tuple[list[int], str, dict[str, Any]]:
    """Open the hall's counters, issue and bind ``tickets`` tickets, let their bind-time
    pre-calls go out. Returns the calling counters, a staff token, and the binding's figures."""
    tokens = staff_tokens(demo)
    open_counters(demo, tokens, halls=[HALL])
    counters, weights = counter_plan(demo)
    setup = issue_and_bind(demo, sandbox, services_for(tickets, weights))
    setup["drained_s"] = wait_drained(DRAIN_SECONDS)
    bound = setup["tickets"]
    log(
        f"notifications: {len(bound)} tickets issued and bound in {setup['seconds']:.1f} s "
        f"({setup['rate']:.0f}/s; QR {setup['qr_kinds']}, scans {setup['scan_statuses']}, "
        f"bound in the DB {setup['bound_in_db']})"
    )
    if setup["bound_in_db"] != len(bound):
        raise RuntimeError(f"only {setup['bound_in_db']} of {len(bound)} tickets got bound")
    return counters, tokens[HALL], setup


def setup_summary(setup: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in setup.items() if k != "tickets"}
