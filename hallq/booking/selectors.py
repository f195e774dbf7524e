"""Reads of booking: remaining places, a citizen's appointments."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from django.db.models import Count, Q

from hallq.booking.models import ACTIVE_APPOINTMENT_STATES, Appointment, Slot


@dataclass(frozen=True, slots=True)
class SlotAvailability:
    slot_id: int
    service_id: int
    date: date
    starts_at: datetime
    ends_at: datetime
    quota: int
    remaining: int
    is_open: bool


def slots_with_remaining(
    *, service_ids: Sequence[int], dates: Sequence[date]
) -> list[SlotAvailability]:
    """Every materialised slot of these services and dates with its free places, in one query
    (the partial index ``slot_place_free`` counts only free places)."""
    rows = (
        Slot.objects.filter(service_id__in=service_ids, date__in=dates)
        .annotate(remaining=Count("places", filter=Q(places__appointment=None)))
        .order_by("service_id", "starts_at")
        .values_list(
            "pk", "service_id", "date", "starts_at", "ends_at", "quota", "remaining", "is_open"
        )
    )
    return [SlotAvailability(*row) for row in rows]


def materialised_dates(*, service_id: int, dates: Sequence[date]) -> set[date]:
    return set(
        Slot.objects.filter(service_id=service_id, date__in=dates)
        .values_list("date", flat=True)
        .distinct()
    )


def citizen_appointments(*, citizen_id: int) -> list[Appointment]:
    return list(
        Appointment.objects.filter(citizen_id=citizen_id)
        .select_related("service", "hall", "ticket")
        .order_by("-starts_at")[:100]
    )


def active_appointment_count(*, citizen_id: int, today: date) -> int:
    return Appointment.objects.filter(
        citizen_id=citizen_id, state__in=ACTIVE_APPOINTMENT_STATES, date__gte=today
    ).count()
