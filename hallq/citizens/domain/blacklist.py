"""The blacklist rule (§3.9): N violations within a rolling window blacklist a citizen for D
days."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class BlacklistPolicy:
    violations: int
    window: timedelta
    duration: timedelta


def violations_in_window(
    violation_times: Sequence[datetime], now: datetime, *, window: timedelta
) -> int:
    """How many violations fall in (now − window, now]."""
    return sum(1 for moment in violation_times if now - window < moment <= now)


def blacklist_ends_at(
    violation_times: Sequence[datetime], now: datetime, *, policy: BlacklistPolicy
) -> datetime | None:
    """The end of the blacklisting these violations earn at ``now``, or None if they earn none."""
    if violations_in_window(violation_times, now, window=policy.window) >= policy.violations:
        return now + policy.duration
    return None
