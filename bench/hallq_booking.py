"""The booking benchmarks: `bash bench/run.sh booking` (part of `make bench`), or
`bash bench/booking.sh` for this part alone.

The issue's benchmark section: the physical limit on this machine is pgbench running the bare
booking transaction; hallq's HTTP booking is measured in the same run and reported against it.

  pgbench       (booking_pgbench.py, bench/pgbench/*.sql) the conditional quota UPDATE + INSERT
                over 2,000 slots (200 clients, fewer when max_connections is lower) and on one
                hot slot (32 clients); hallq's own place claim (SKIP LOCKED) + INSERT + UPDATE on
                the hot slot with places to spare, and with 50 places (then "full")
  spread        (booking_load.py) POST /api/v1/appointments at 200 connections (wrk +
                bench/booking.lua), every request another citizen, a random slot of 2,000 (15
                services × 7 days); ≥ 0.5 × the pgbench spread figure, p99 < 100 ms
  hot           one slot of quota 50 at 09:00 tomorrow, 5,000 attempts by 5,000 citizens at once
                (an asyncio client timing each); exactly 50 booked, the losers told "full" with
                p99 < 200 ms, answers/s ≥ the pgbench hot-row figure
  availability  GET /api/v1/halls/1/availability?days=7 (5 services) at 50 connections; p99 < 50 ms
  statements    (booking_profile.py) SQL statements of one booking, one "full", one availability
  profile       py-spy --gil on one process under the spread load, and under a hot slot's
                losers (18,000 more citizens told "full" over 200 connections)

Each on 1 and 2 `manage.py serve` processes (BENCH_BOOKING_PROCESSES), from a fresh copy of a
template database with 20,000 registered citizens and their tokens (booking_data.py).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from booking_data import (
    PARTS,
    PROCESS_COUNTS,
    drop_booking_template,
    make_booking_template,
)
from booking_load import phase_availability, phase_hot, phase_spread
from booking_pgbench import phase_pgbench
from booking_profile import (
    phase_instructions,
    phase_profile,
    phase_profile_hot,
    phase_statements,
)
from booking_report import detail_lines, summary_rows
from hallq_bench import PY_SPY

__all__ = ["detail_lines", "run", "summary_rows"]


def run(redis_pid: int | None, attempt: Any) -> dict[str, Any]:
    """Every part named in BENCH_BOOKING_PARTS. ``attempt(name, fn, *args)`` is
    hallq_bench.main's: a part that fails is recorded as failed and the others still run."""
    out: dict[str, Any] = {"parts": PARTS}
    make_booking_template()
    try:
        if "pgbench" in PARTS:
            out["pgbench"] = attempt("booking pgbench", phase_pgbench)
        baselines = out.get("pgbench") or {}
        spread_tps = (baselines.get("spread") or {}).get("tps")
        hot_tps = (baselines.get("hot") or {}).get("tps")
        for part, phase, baseline in (
            ("spread", phase_spread, (spread_tps,)),
            ("hot", phase_hot, (hot_tps,)),
            ("availability", phase_availability, ()),
        ):
            if part in PARTS:
                out[part] = [
                    r
                    for n in PROCESS_COUNTS
                    if (r := attempt(f"booking {part} {n}p", phase, n, redis_pid, *baseline))
                ]
        if "statements" in PARTS:
            out["statements"] = attempt("booking statements", phase_statements)
        if "instructions" in PARTS and shutil.which("valgrind"):
            out["instructions"] = attempt("booking instructions", phase_instructions)
        if "profile" in PARTS and Path(PY_SPY).exists():
            out["profile"] = attempt("booking profile", phase_profile)
            out["profile_hot"] = attempt("booking profile hot", phase_profile_hot)
    finally:
        drop_booking_template()
    return out
