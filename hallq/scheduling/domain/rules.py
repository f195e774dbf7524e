"""A service's booking rules, as the domain uses them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from hallq.scheduling.domain.window import BookingWindow


@dataclass(frozen=True, slots=True)
class Rules:
    window: BookingWindow
    cancel_cutoff: timedelta  # cancelling is free until this long before the slot starts
    check_in_before: timedelta  # check-in opens this long before the slot starts
    check_in_after: timedelta  # and closes this long after it ends
    reminder_before: timedelta  # the reminder goes out this long before the slot starts
