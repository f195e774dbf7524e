"""When a date can be booked, checked in for and cancelled (PRODUCT.md §3.3, §3.6–3.7)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from hallq.scheduling.domain.zones import local_instant


@dataclass(frozen=True, slots=True)
class BookingWindow:
    """Dates from ``min_days_ahead`` to ``max_days_ahead`` after today (0 is today) can be
    booked; the furthest of them opens at ``release_time`` (hall-local), so each date opens
    ``max_days_ahead`` days before it, at that time."""

    min_days_ahead: int
    max_days_ahead: int
    release_time: time

    def __post_init__(self) -> None:
        if not 0 <= self.min_days_ahead <= self.max_days_ahead:
            raise ValueError("a booking window needs 0 <= min_days_ahead <= max_days_ahead")


class Refusal(StrEnum):
    PAST = "past"
    TOO_SOON = "too_soon"  # closer than min_days_ahead
    TOO_FAR = "too_far"  # further than max_days_ahead
    NOT_YET_OPEN = "not_yet_open"  # in range, but before today's release time
    SLOT_STARTED = "slot_started"


def date_opens_at(d: date, *, window: BookingWindow, zone: ZoneInfo) -> datetime:
    """The instant date ``d`` becomes bookable: the release time, ``max_days_ahead`` days
    before it."""
    return local_instant(d - timedelta(days=window.max_days_ahead), window.release_time, zone)


def date_refusal(
    d: date, now: datetime, *, window: BookingWindow, zone: ZoneInfo
) -> Refusal | None:
    """Why date ``d`` cannot be booked at ``now``, or None when it can."""
    days_ahead = (d - now.astimezone(zone).date()).days
    if days_ahead < 0:
        return Refusal.PAST
    if days_ahead < window.min_days_ahead:
        return Refusal.TOO_SOON
    if days_ahead > window.max_days_ahead:
        return Refusal.TOO_FAR
    if now < date_opens_at(d, window=window, zone=zone):
        return Refusal.NOT_YET_OPEN
    return None


def slot_refusal(
    starts_at: datetime, now: datetime, *, window: BookingWindow, zone: ZoneInfo
) -> Refusal | None:
    """Why the slot starting at ``starts_at`` cannot be booked at ``now``, or None: its date's
    refusal, or, on a same-day booking, that it has started."""
    refusal = date_refusal(starts_at.astimezone(zone).date(), now, window=window, zone=zone)
    if refusal is None and now >= starts_at:
        return Refusal.SLOT_STARTED
    return refusal


def bookable_dates(now: datetime, *, window: BookingWindow, zone: ZoneInfo) -> list[date]:
    """The hall-local dates that can be booked at ``now``, earliest first."""
    today = now.astimezone(zone).date()
    candidates = (
        today + timedelta(days=ahead)
        for ahead in range(window.min_days_ahead, window.max_days_ahead + 1)
    )
    return [d for d in candidates if now >= date_opens_at(d, window=window, zone=zone)]


def check_in_window(
    starts_at: datetime, ends_at: datetime, *, before: timedelta, after: timedelta
) -> tuple[datetime, datetime]:
    """When an appointment can be checked in at the kiosk: (opens, closes), §3.7."""
    return starts_at - before, ends_at + after


def cancel_deadline(starts_at: datetime, *, cutoff: timedelta) -> datetime:
    """The instant after which cancelling is late and, when a cut-off is set, counts as a
    violation (§3.6, §3.8)."""
    return starts_at - cutoff
