"""Estimated wait (PRODUCT.md §4.6) and hall busyness (§4.7)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass


def typical_service_seconds(recent: Sequence[float], default_seconds: float) -> float:
    """A robust central service time from recent samples.

    The median of the recent samples, pulled toward the service's configured average while
    there are few of them (fewer than 10 weigh proportionally), so one very long or very short
    case does not swing every citizen's estimate.
    """
    if not recent:
        return default_seconds
    median = statistics.median(recent)
    weight = min(len(recent), 10) / 10
    return weight * median + (1 - weight) * default_seconds


def estimate_wait_seconds(
    people_ahead: int,
    open_counters: int,
    service_seconds: float,
    idle_counters: int = 0,
) -> int | None:
    """Seconds until this ticket is called, or None when no counter is open for its service.

    Idle counters take the first tickets at once. The rest of the ``people_ahead`` are shared
    among the ``open_counters``; this ticket is called when a counter frees up after its share,
    on average half a service into the last round.
    """
    if open_counters <= 0:
        return None
    if people_ahead < idle_counters:
        return 0
    rounds = (people_ahead - idle_counters) / open_counters
    return math.ceil((rounds + 0.5) * service_seconds)


@dataclass(frozen=True, slots=True)
class Busyness:
    waiting: int
    open_counters: int
    idle: bool  # "idle — no booking needed" (seed 004)


def busyness(waiting: int, open_counters: int, busy_threshold: float) -> Busyness:
    """A hall or service is idle when its waiting count per open counter is below the threshold."""
    per_counter = waiting / open_counters if open_counters else math.inf if waiting else 0.0
    return Busyness(waiting=waiting, open_counters=open_counters, idle=per_counter < busy_threshold)
