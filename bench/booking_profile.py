"""Where a booking's time goes: SQL statements per request (in process) and py-spy on one
server process under the spread load, and under a hot slot's losers (the answer "full")."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from typing import Any

from booking_data import (
    AVAILABILITY_HALL,
    HOT_QUOTA,
    SERVER_ENV,
    TOKENS_FILE,
    add_hot_slots,
    add_spread_slots,
    fresh_booking_db,
    tokens,
)
from booking_load import booking_request, burst, drain, run_spread_wrk, spread_env
from hallq_bench import (
    APP_DIR,
    BENCH_DIR,
    DB,
    INSTRUCTION_COUNT,
    INSTRUCTION_WARM_UP,
    PYTHON,
    WORK,
    Server,
    app_env,
    callgrind_per_request,
    event_loop_policy,
    log,
    py_spy_record,
    summarise_profile,
)

PROFILE_SECONDS = float(os.environ.get("BENCH_PROFILE_SECONDS", "10"))


def phase_instructions() -> dict[str, Any]:
    """Instructions per booking and per answer "full", in process under callgrind
    (bench/instructions.py, as hallq_bench's ``instructions`` phase): a figure the machine's
    speed does not move. Bookings of the warm-up slot (room for 600), each by another citizen,
    then the hot slot booked full and as many more citizens asking for it."""
    fresh_booking_db()
    hot, warm = add_hot_slots()
    everyone = tokens()
    count, warm_up = INSTRUCTION_COUNT, INSTRUCTION_WARM_UP
    out: dict[str, Any] = {"count": count}
    for load, slot, quota, citizens in (
        ("book", warm, 0, everyone[: count + warm_up]),
        ("full", hot, HOT_QUOTA, everyone[-(HOT_QUOTA + count + warm_up) :]),
    ):
        listed = WORK / f"instructions-{load}-tokens.txt"
        listed.write_text("\n".join(citizens) + "\n")
        arguments = ["--load", load, "--count", str(count), "--warm", str(warm_up)]
        arguments += ["--tokens", str(listed), "--slot", str(slot), "--quota", str(quota)]
        started = time.monotonic()
        out[load] = callgrind_per_request(
            load, arguments, app_env(DB, redis=True, **SERVER_ENV), count
        )
        log(
            f"RESULT booking_instructions {load}={out[load] / 1e6:.2f}M "
            f"({time.monotonic() - started:.0f} s under valgrind)"
        )
    return out


def phase_statements() -> dict[str, Any]:
    """SQL statements of one booking, one "full" answer and one week of availability
    (bench/booking_statements.py): what each request pays however fast the machine is."""
    fresh_booking_db()
    hot, warm = add_hot_slots()
    arguments = ["--tokens", str(TOKENS_FILE), "--hot-slot", str(hot), "--quota", str(HOT_QUOTA)]
    arguments += ["--other-slot", str(warm), "--hall", str(AVAILABILITY_HALL)]
    res = subprocess.run(
        [PYTHON, str(BENCH_DIR / "booking_statements.py"), *arguments],
        cwd=APP_DIR,
        env=app_env(DB, redis=False, **SERVER_ENV),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    out: dict[str, Any] = json.loads(res.stdout.strip().splitlines()[-1])
    log(
        f"RESULT booking_statements book={out['book']} full={out['full']} "
        f"availability={out['availability']} availability_bytes={out['availability_bytes']}"
    )
    return out


def phase_profile() -> dict[str, Any]:
    """py-spy --gil (Python CPU only) on the one server process under the spread load."""
    fresh_booking_db()
    groups = add_spread_slots()
    raw = WORK / "profile-booking.txt"
    with Server(1, True, "booking-profile", **SERVER_ENV) as server:
        run_spread_wrk(2, spread_env(groups, None, 0), "booking-profile-warmup")
        drain()
        spy = py_spy_record(server.workers()[0], raw, PROFILE_SECONDS)
        res = run_spread_wrk(PROFILE_SECONDS + 1, spread_env(groups, None, 1), "booking-profile")
        spy.wait(timeout=60)
    empty: dict[str, Any] = {"samples": 0, "own": [], "app_inclusive": []}
    summary = summarise_profile(raw) if raw.exists() else empty
    summary["rate_while_profiled"] = res["statuses"].get("201", 0) / res["seconds"]
    log(
        f"profile booking: {summary['samples']} samples, top app frames: "
        f"{summary['app_inclusive'][:6]}"
    )
    return summary


def phase_profile_hot() -> dict[str, Any]:
    """py-spy --gil on the one server process while citizens keep being told "full": the hot
    slot filled first, then every other citizen of the template tries it once, over 200
    connections, for longer than the profile lasts."""
    fresh_booking_db()
    hot, warm = add_hot_slots()
    everyone = tokens()
    raw = WORK / "profile-booking-hot.txt"
    event_loop_policy()
    with Server(1, True, "booking-profile-hot", **SERVER_ENV) as server:
        asyncio.run(burst([booking_request(t, warm) for t in everyone[-300:]], 50))
        asyncio.run(burst([booking_request(t, hot) for t in everyone[: 2 * HOT_QUOTA]], 50))
        spy = py_spy_record(server.workers()[0], raw, PROFILE_SECONDS)
        started = time.monotonic()
        records = asyncio.run(
            burst([booking_request(t, hot) for t in everyone[2 * HOT_QUOTA : -300]], 200)
        )
        seconds = time.monotonic() - started
        spy.wait(timeout=60)
    empty: dict[str, Any] = {"samples": 0, "own": [], "app_inclusive": []}
    summary = summarise_profile(raw) if raw.exists() else empty
    full = sum(1 for r in records if r["status"] == 409 and r["code"] == "slot_full")
    if full < 0.9 * len(records):
        raise RuntimeError(f'the profiled load was mostly not "full": {full} of {len(records)}')
    summary["rate_while_profiled"] = len(records) / seconds
    log(
        f"profile booking hot: {summary['samples']} samples, {summary['rate_while_profiled']:.0f} "
        f"answers/s, top app frames: {summary['app_inclusive'][:6]}"
    )
    return summary
