"""HTTP load on hallq's booking: bookings spread over 2,000 slots (wrk + bench/booking.lua),
the hot slot at release (an asyncio client that times every request), and a hall's week of
availability (wrk + bench/get.lua). Each run on a fresh copy of the booking template, against
real `manage.py serve` processes, checked in SQL afterwards."""

from __future__ import annotations

import asyncio
import bisect
import json
import os
import re
import statistics
import time
from pathlib import Path
from typing import Any

from booking_data import (
    AVAILABILITY_HALL,
    HOT_QUOTA,
    HOT_WARMUP_ATTEMPTS,
    SERVER_ENV,
    SPREAD_SLOTS,
    TOKENS_FILE,
    add_hot_slots,
    add_spread_slots,
    fresh_booking_db,
    scalar,
    tokens,
)
from hallq_bench import (
    HOST,
    PORT,
    WORK,
    CpuMeter,
    PgSampler,
    Server,
    cpu_text,
    db,
    event_loop_policy,
    http,
    log,
    pct,
    run_wrk,
)

SPREAD_CONNECTIONS = 200
SPREAD_WRK_THREADS = 2
SPREAD_SECONDS = float(os.environ.get("BENCH_BOOKING_SECONDS", "20"))
HOT_ATTEMPTS = int(os.environ.get("BENCH_BOOKING_HOT_ATTEMPTS", "5000"))
HOT_CONNECTIONS = int(os.environ.get("BENCH_BOOKING_HOT_CONNECTIONS", "200"))
AVAILABILITY_CONNECTIONS = 50
AVAILABILITY_SECONDS = float(os.environ.get("BENCH_BOOKING_AVAILABILITY_SECONDS", "10"))
AVAILABILITY_PATH = f"/api/v1/halls/{AVAILABILITY_HALL}/availability?days=7"

TARGETS = {
    "spread_ratio": 0.5,
    "spread_p99_ms": 100.0,
    "hot_loser_p99_ms": 200.0,
    "availability_p99_ms": 50.0,
}


def drain(budget: float = 30.0) -> float:
    """Wait for the requests a warm-up left in flight (wrk stops with one per connection, and
    a busy server may take seconds to answer 200 of them): a /healthz queues behind them, so
    once it is answered at once they are gone. Returns the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < budget:
        asked = time.monotonic()
        status, _ = http("GET", "/healthz")
        if status == 200 and time.monotonic() - asked < 0.05:
            break
    return time.monotonic() - started


def socket_errors(res: dict[str, Any]) -> int:
    errors = ("errors_connect", "errors_read", "errors_write", "errors_timeout")
    return int(sum(res[key] for key in errors))


# --- spread: every request another citizen, a random slot of 2,000 ------------------------------


def spread_env(groups: Path, ids: Path | None, round_: int) -> dict[str, str]:
    """bench/booking.lua's settings; ``round_`` moves every citizen to another (service, date)
    so that a run after the warm-up never meets the warm-up's bookings."""
    env = {
        "BENCH_BOOKING_TOKENS": str(TOKENS_FILE),
        "BENCH_BOOKING_SLOTS": str(groups),
        "BENCH_BOOKING_ROUND": str(round_),
        "BENCH_WRK_THREADS": str(SPREAD_WRK_THREADS),
    }
    if ids is not None:
        env["BENCH_BOOKING_IDS"] = str(ids)
    return env


def run_spread_wrk(seconds: float, env: dict[str, str], tag: str) -> dict[str, Any]:
    return run_wrk("booking.lua", SPREAD_WRK_THREADS, SPREAD_CONNECTIONS, seconds, env, tag)


def verify_bookings(ids_file: Path, responses_201: int, in_flight_limit: int) -> dict[str, Any]:
    """Nothing overbooked, every appointment holding exactly one place of its slot, every 201
    an appointment the database has; the database may hold up to one appointment per
    connection more than the 201s counted (wrk stops with requests in flight)."""
    # The template's history (booking_data.HISTORY) is of past days; this run books today's
    # and later slots only, so its appointments are those of today and later, in any state.
    with db() as conn:
        appointments = {
            row[0]
            for row in conn.execute("SELECT id FROM booking_appointment WHERE date >= current_date")
        }
        overbooked = scalar(
            conn,
            "SELECT count(*) FROM (SELECT s.id FROM booking_slot s JOIN booking_appointment a "
            "ON a.slot_id = s.id AND a.state IN ('booked', 'checked_in') "
            "GROUP BY s.id, s.quota HAVING count(*) > s.quota) x",
        )
        places_over_quota = scalar(
            conn,
            "SELECT count(*) FROM booking_slotplace p JOIN booking_slot s ON s.id = p.slot_id "
            "WHERE p.number > s.quota",
        )
        without_place = scalar(
            conn,
            "SELECT count(*) FROM booking_appointment a WHERE a.date >= current_date "
            "AND NOT EXISTS (SELECT 1 FROM booking_slotplace p "
            "WHERE p.appointment_id = a.id AND p.slot_id = a.slot_id)",
        )
        taken = scalar(
            conn,
            "SELECT count(*) FROM booking_slotplace p JOIN booking_slot s ON s.id = p.slot_id "
            "WHERE p.appointment_id IS NOT NULL AND s.date >= current_date",
        )
    logged = ids_file.read_text().split() if ids_file.exists() else []
    ids = [int(x) for x in logged if x.isdigit()]
    unknown = sum(1 for i in ids if i not in appointments)
    in_flight = len(appointments) - len(set(ids))
    ok = (
        overbooked == 0
        and places_over_quota == 0
        and without_place == 0
        and taken == len(appointments)
        and unknown == 0
        and len(logged) == len(ids) == len(set(ids)) == responses_201
        and 0 <= in_flight <= in_flight_limit
    )
    return {
        "ok": ok,
        "appointments": len(appointments),
        "responses_201": responses_201,
        "ids_logged": len(logged),
        "ids_not_in_db": unknown,
        "in_flight_at_stop": in_flight,
        "overbooked_slots": overbooked,
        "places_over_quota": places_over_quota,
        "appointments_without_place": without_place,
        "places_taken": taken,
    }


def phase_spread(
    processes: int, redis_pid: int | None, pgbench_tps: float | None
) -> dict[str, Any]:
    fresh_booking_db()
    groups = add_spread_slots()
    ids_file = WORK / f"booked-{processes}p.txt"
    ids_file.unlink(missing_ok=True)
    tag = f"booking-spread-{processes}p"
    with Server(processes, True, tag, **SERVER_ENV) as server:
        warm = run_spread_wrk(2, spread_env(groups, ids_file, 0), f"{tag}-warmup")
        drained = drain()
        with CpuMeter(server, redis_pid) as meter, PgSampler() as pg:
            res = run_spread_wrk(SPREAD_SECONDS, spread_env(groups, ids_file, 1), tag)
        time.sleep(0.5)  # the requests in flight at wrk's stop finish before counting
    created = warm["statuses"].get("201", 0) + res["statuses"].get("201", 0)
    check = verify_bookings(ids_file, created, 2 * SPREAD_CONNECTIONS)
    ok201 = res["statuses"].get("201", 0)
    rate = ok201 / res["seconds"]
    ratio = rate / pgbench_tps if pgbench_tps else None
    out = {
        "processes": processes,
        "connections": SPREAD_CONNECTIONS,
        "slots": SPREAD_SLOTS,
        "rate": rate,
        "pgbench_tps": pgbench_tps,
        "ratio": ratio,
        "p50_ms": res["p50_ms"],
        "p90_ms": res["p90_ms"],
        "p99_ms": res["p99_ms"],
        "max_ms": res["max_ms"],
        "requests": int(res["requests"]),
        "warmup_drained_s": drained,
        "other_statuses": {k: v for k, v in res["statuses"].items() if k != "201"},
        "socket_errors": socket_errors(res),
        "verify": check,
        "cpu": meter.report(),
        "pg": pg.report(),
    }
    out["met"] = bool(
        ok201 > 0
        and ratio is not None
        and ratio >= TARGETS["spread_ratio"]
        and out["p99_ms"] < TARGETS["spread_p99_ms"]
        and check["ok"]
    )
    log(
        f"RESULT booking_spread processes={processes} rate={rate:.0f} "
        f"p50_ms={out['p50_ms']:.0f} p99_ms={out['p99_ms']:.0f} "
        f"pgbench_tps={pgbench_tps or 0:.0f} ratio={ratio or 0:.2f} verify_ok={check['ok']} "
        f"met={out['met']} | {cpu_text(out['cpu'])}"
    )
    return out


# --- the hot slot at release: 5,000 citizens at once, every request timed -----------------------


def booking_request(token: str, slot_id: int) -> bytes:
    body = f'{{"slot_id":{slot_id}}}'.encode()
    head = (
        f"POST /api/v1/appointments HTTP/1.1\r\nHost: {HOST}:{PORT}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    status = int(head[0].split()[1])
    headers = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        return status, await reader.readexactly(int(headers["content-length"]))
    body = b""
    while size := int((await reader.readline()).strip(), 16):  # chunked
        body += await reader.readexactly(size)
        await reader.readline()
    await reader.readline()
    return status, body


async def burst(requests: list[bytes], connections: int) -> list[dict[str, Any]]:
    """Send every request once over ``connections`` keep-alive connections, all opened before
    the first request leaves, each sending its next request when it has the answer. Returns
    status, error code, sent and received (monotonic seconds) of each; status 0 = the
    connection failed (it is opened again for the next request)."""
    pending = iter(range(len(requests)))
    records: list[dict[str, Any]] = [{} for _ in requests]
    go = asyncio.Event()
    opened = [await asyncio.open_connection(HOST, PORT) for _ in range(connections)]

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await go.wait()
        for index in pending:
            sent = time.monotonic()
            try:
                writer.write(requests[index])
                status, body = await read_response(reader)
            except (OSError, asyncio.IncompleteReadError, ValueError) as error:
                records[index] = {
                    "status": 0,
                    "code": type(error).__name__,
                    "sent": sent,
                    "received": time.monotonic(),
                }
                writer.close()
                reader, writer = await asyncio.open_connection(HOST, PORT)
                continue
            code = re.search(rb'"code": ?"(\w+)"', body) if status != 201 else None
            records[index] = {
                "status": status,
                "code": code.group(1).decode() if code else "",
                "sent": sent,
                "received": time.monotonic(),
            }
        writer.close()

    tasks = [asyncio.create_task(connection(reader, writer)) for reader, writer in opened]
    go.set()
    await asyncio.gather(*tasks)
    return records


def hot_slot_state(slot_id: int) -> tuple[int, int]:
    """(appointments, taken places) of the slot."""
    with db() as conn:
        booked = scalar(
            conn, "SELECT count(*) FROM booking_appointment WHERE slot_id = %s", (slot_id,)
        )
        taken = scalar(
            conn,
            "SELECT count(*) FROM booking_slotplace WHERE slot_id = %s "
            "AND appointment_id IS NOT NULL",
            (slot_id,),
        )
    return booked, taken


def milliseconds(records: list[dict[str, Any]], q: float) -> float:
    return pct([(r["received"] - r["sent"]) * 1000 for r in records], q)


def unevenness(records: list[dict[str, Any]]) -> float:
    """p99 of each answer's wait over the median wait of the answers sent within 100 ms of it:
    1.0 when every request waits alike, whatever the machine's speed; higher when some wait
    longer than others sent at the same moment (a busy process, thread or queue)."""
    ordered = sorted(records, key=lambda r: r["sent"])
    sent = [r["sent"] for r in ordered]
    waits = [r["received"] - r["sent"] for r in ordered]
    ratios = []
    for index, moment in enumerate(sent):
        low, high = bisect.bisect_left(sent, moment - 0.1), bisect.bisect_right(sent, moment + 0.1)
        ratios.append(waits[index] / statistics.median(waits[low:high]))
    return pct(ratios, 99) if ratios else float("nan")


def phase_hot(
    processes: int, redis_pid: int | None, pgbench_hot_tps: float | None
) -> dict[str, Any]:
    fresh_booking_db()
    hot, warm = add_hot_slots()
    everyone = tokens()
    if len(everyone) < HOT_ATTEMPTS + HOT_WARMUP_ATTEMPTS:
        raise RuntimeError(
            f"{len(everyone)} citizens: the hot slot needs {HOT_ATTEMPTS + HOT_WARMUP_ATTEMPTS}"
        )
    attempts = [booking_request(t, hot) for t in everyone[:HOT_ATTEMPTS]]
    warmup = [booking_request(t, warm) for t in everyone[-HOT_WARMUP_ATTEMPTS:]]
    event_loop_policy()
    with Server(processes, True, f"booking-hot-{processes}p", **SERVER_ENV) as server:
        warm_records = asyncio.run(burst(warmup, 50))
        with CpuMeter(server, redis_pid) as meter, PgSampler() as pg:
            records = asyncio.run(burst(attempts, HOT_CONNECTIONS))
    if os.environ.get("BENCH_HOT_RECORDS"):  # every answer's times, for a look at the tail
        Path(f"{os.environ['BENCH_HOT_RECORDS']}-{processes}p.json").write_text(json.dumps(records))
    booked, taken = hot_slot_state(hot)
    winners, losers = [], []
    others: dict[str, int] = {}
    for r in records:
        if r["status"] == 201:
            winners.append(r)
        elif r["status"] == 409 and r["code"] == "slot_full":
            losers.append(r)
        else:
            others[f"{r['status']}_{r['code']}"] = others.get(f"{r['status']}_{r['code']}", 0) + 1
    first_sent = min(r["sent"] for r in records)
    by_connection_start = sorted(records, key=lambda r: r["sent"])
    first_wave = by_connection_start[:HOT_CONNECTIONS]
    loser_ids = {id(r) for r in losers}
    later_losers = [r for r in by_connection_start[HOT_CONNECTIONS:] if id(r) in loser_ids]
    elapsed = max(r["received"] for r in records) - first_sent
    last_winner = max((r["received"] for r in winners), default=float("nan"))
    out = {
        "processes": processes,
        "connections": HOT_CONNECTIONS,
        "attempts": len(records),
        "quota": HOT_QUOTA,
        "seconds": elapsed,
        "rate": len(records) / elapsed,
        "pgbench_hot_tps": pgbench_hot_tps,
        "winners": len(winners),
        "losers_full": len(losers),
        "other_answers": others,
        "booked_in_db": booked,
        "places_taken": taken,
        "overbooked": max(0, booked - HOT_QUOTA),
        "winner_p50_ms": milliseconds(winners, 50),
        "winner_p99_ms": milliseconds(winners, 99),
        "loser_p50_ms": milliseconds(losers, 50),
        "loser_p99_ms": milliseconds(losers, 99),
        "loser_max_ms": milliseconds(losers, 100),
        # Where the tail comes from: the first wave (the first answer of each connection,
        # sent all at once; the winners' transactions among them) and, after it, how far a
        # loser's wait strays from the median of the losers sent within 100 ms of it.
        "first_wave_p50_ms": milliseconds(first_wave, 50),
        "first_wave_max_ms": milliseconds(first_wave, 100),
        "after_first_wave_loser_p99_ms": milliseconds(later_losers, 99),
        "loser_to_neighbours_p99": unevenness(later_losers),
        "all_p50_ms": milliseconds(records, 50),
        "all_p99_ms": milliseconds(records, 99),
        "last_winner_after_ms": (last_winner - first_sent) * 1000,
        "warmup_answers": sorted({f"{r['status']} {r['code']}" for r in warm_records}),
        "cpu": meter.report(),
        "pg": pg.report(),
    }
    out["verify_ok"] = (
        booked == taken == len(winners) == HOT_QUOTA
        and not others
        and len(losers) == len(records) - HOT_QUOTA
    )
    out["met"] = bool(
        out["verify_ok"]
        and out["loser_p99_ms"] < TARGETS["hot_loser_p99_ms"]
        and pgbench_hot_tps is not None
        and out["rate"] >= pgbench_hot_tps
    )
    log(
        f"RESULT booking_hot processes={processes} rate={out['rate']:.0f} booked={booked} "
        f"overbooked={out['overbooked']} winners={len(winners)} losers_full={len(losers)} "
        f"others={others} winner_p50_ms={out['winner_p50_ms']:.0f} "
        f"winner_p99_ms={out['winner_p99_ms']:.0f} loser_p50_ms={out['loser_p50_ms']:.0f} "
        f"loser_p99_ms={out['loser_p99_ms']:.0f} first_wave_max_ms={out['first_wave_max_ms']:.0f} "
        f"after_first_wave_loser_p99_ms={out['after_first_wave_loser_p99_ms']:.0f} "
        f"loser_to_neighbours_p99={out['loser_to_neighbours_p99']:.2f} "
        f"pgbench_hot_tps={pgbench_hot_tps or 0:.0f} "
        f"met={out['met']} | {cpu_text(out['cpu'])}"
    )
    return out


# --- a hall's week of availability ---------------------------------------------------------------


def phase_availability(processes: int, redis_pid: int | None) -> dict[str, Any]:
    fresh_booking_db()
    tag = f"booking-availability-{processes}p"
    env = {"BENCH_PATH": AVAILABILITY_PATH}
    with Server(processes, True, tag, **SERVER_ENV) as server:
        status, body = http("GET", AVAILABILITY_PATH)  # the first look materialises the slots
        if status != 200:
            raise RuntimeError(f"availability answered {status}: {body}")
        run_wrk("get.lua", 1, AVAILABILITY_CONNECTIONS, 2, env, f"{tag}-warmup")
        drained = drain()
        with CpuMeter(server, redis_pid) as meter, PgSampler() as pg:
            res = run_wrk("get.lua", 1, AVAILABILITY_CONNECTIONS, AVAILABILITY_SECONDS, env, tag)
    ok = res["statuses"].get("200", 0)
    out = {
        "processes": processes,
        "connections": AVAILABILITY_CONNECTIONS,
        "services": len({day["service_id"] for day in body}),
        "days": len(body),
        "slots": sum(len(day["slots"]) for day in body),
        "rate": ok / res["seconds"],
        "p50_ms": res["p50_ms"],
        "p90_ms": res["p90_ms"],
        "p99_ms": res["p99_ms"],
        "max_ms": res["max_ms"],
        "non_200": int(res["requests"]) - ok,
        "warmup_drained_s": drained,
        "socket_errors": socket_errors(res),
        "cpu": meter.report(),
        "pg": pg.report(),
    }
    out["met"] = bool(
        ok > 0 and out["p99_ms"] < TARGETS["availability_p99_ms"] and out["non_200"] == 0
    )
    log(
        f"RESULT booking_availability processes={processes} rate={out['rate']:.0f} "
        f"p50_ms={out['p50_ms']:.0f} p99_ms={out['p99_ms']:.0f} slots={out['slots']} "
        f"non_200={out['non_200']} met={out['met']} | {cpu_text(out['cpu'])}"
    )
    return out
