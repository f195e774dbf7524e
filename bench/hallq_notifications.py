"""The notification benchmarks: `bash bench/run.sh notifications` (part of `make bench`), or
`bash bench/notifications.sh` for this part alone.

The issue's benchmark section, against hallq's WeChat stand-in (a fresh one per run, with a
WeChat user per ticket: bench/notifications_sandbox.py) and real `manage.py serve` and
`manage.py worker` processes on PostgreSQL:

  latency     counter "call next" → the call message accepted by the stand-in, p50/p99
              (target p99 ≤ 1 s), the worker in the web process and in its own
  throughput  delivery by one worker and by two (target ≥ 500 messages/s), each message once
  peak        1,000 bound tickets in one hall, 10 counters calling for 60 s: no pre-call, call
              (or recall, or evaluation invitation) missed or sent twice

Tickets are issued at the kiosk and bound the way a citizen binds one: the ticket's WeChat QR
code is asked for and "scanned" at the stand-in, which sends the SCAN event to hallq's callback.
Knobs: BENCH_NOTIFY_PARTS (latency,throughput,peak), BENCH_NOTIFY_LATENCY_MODES
(inprocess,worker), BENCH_NOTIFY_LATENCY_CALLS (300), BENCH_NOTIFY_LATENCY_RATE (10/s),
BENCH_NOTIFY_MESSAGES (20000), BENCH_NOTIFY_WORKERS (1,2), BENCH_NOTIFY_PEAK_TICKETS (1000),
BENCH_NOTIFY_PEAK_SECONDS (60), BENCH_NOTIFY_PEAK_RATE (tickets ÷ seconds; 0 = back to back),
BENCH_NOTIFY_PEAK_WORKERS (2), BENCH_NOTIFY_PEAK_RECALL_EVERY (10), BENCH_NOTIFY_PROFILE (set:
py-spy on the first worker during throughput and peak, summarised per loop), BENCH_SANDBOX_PORT
(18290). A trial run that leaves bench/RESULTS.md alone: `bash bench/notifications.sh --no-write`.
"""

from __future__ import annotations

import os
from typing import Any

from notifications_load import (
    LATENCY_MODES,
    THROUGHPUT_WORKERS,
    phase_latency,
    phase_peak,
    phase_throughput,
)
from notifications_report import detail_lines, summary_rows

__all__ = ["detail_lines", "run", "summary_rows"]

PARTS = os.environ.get("BENCH_NOTIFY_PARTS", "latency,throughput,peak").split(",")


def run(demo: Any, redis_pid: int | None, attempt: Any) -> dict[str, Any]:
    """Every part named in BENCH_NOTIFY_PARTS. ``attempt(name, fn, *args)`` is
    hallq_bench.main's: a part that fails is recorded as failed and the others still run."""
    out: dict[str, Any] = {"parts": PARTS}
    if "latency" in PARTS:
        out["latency"] = [
            r
            for mode in LATENCY_MODES
            if (r := attempt(f"notifications latency {mode}", phase_latency, demo, mode, redis_pid))
        ]
    if "throughput" in PARTS:
        out["throughput"] = [
            r
            for n in THROUGHPUT_WORKERS
            if (r := attempt(f"notifications throughput {n}w", phase_throughput, n, redis_pid))
        ]
    if "peak" in PARTS:
        out["peak"] = attempt("notifications peak", phase_peak, demo, redis_pid)
    return out
