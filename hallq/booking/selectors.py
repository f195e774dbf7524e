"""Reads of booking: remaining places, a citizen's appointments, and what a booking decides on.

The two reads of every booking request (``slot_to_book`` before the transaction,
``citizen_bookings`` under the citizen's lock, which also claims the place) are raw SQL: a rush
of bookings is CPU-bound in the web process, and compiling the ORM's queries cost more than the
database's work. Columns come back through the models' fields (``column_value``), as the ORM
would return them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from django.db import connection
from django.db.models import Count, Q

from hallq.booking.locks import free_place_claim_sql
from hallq.booking.models import (
    ACTIVE_APPOINTMENT_STATES,
    Appointment,
    IdempotencyRecord,
    Slot,
    SlotPlace,
)
from hallq.citizens.models import BlacklistEntry, CitizenToken, CitizenWechat
from hallq.citizens.selectors import SignedInCitizen, UncheckedToken, token_checked
from hallq.common.db import attach_related, column_value, fetch_all, instance_from_row
from hallq.halls.selectors import service_with_hall

# The largest id a bigint column holds: a larger slot id in a request names no slot.
MAX_ID = 2**63 - 1


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
        # Without the model's ordering, which DISTINCT would otherwise include: one row a date.
        .order_by()
        .values_list("date", flat=True)
        .distinct()
    )


def citizen_appointments(*, citizen_id: int) -> list[Appointment]:
    return list(
        Appointment.objects.filter(citizen_id=citizen_id)
        .select_related("service", "hall", "ticket")
        .order_by("-starts_at")[:100]
    )


@dataclass(frozen=True, slots=True)
class SlotToBook:
    """What a booking request reads before it opens a transaction, in one statement."""

    slot: Slot | None  # with its service and hall; None when there is no such slot
    # Whether a place was free when read: "full" is answered on this without taking any lock.
    # The place claimed inside the transaction (in ``citizen_bookings``) is what decides.
    has_free_place: bool
    # The appointment an earlier request with the same Idempotency-Key booked (committed).
    earlier_appointment_id: int | None
    # Who is booking: the signed-in citizen given, or the one an unexpired token was found
    # for (remembered from then on, ``token_checked``); None when an ``UncheckedToken`` was not.
    citizen: SignedInCitizen | None


def slot_to_book(
    *,
    slot_id: int,
    citizen: SignedInCitizen | UncheckedToken,
    idempotency_key: str | None,
    now: datetime,
) -> SlotToBook:
    """The slot, whether a place of it is free, and the answer already given to this key;
    for an ``UncheckedToken``, also its citizen, found in the same statement and remembered."""
    if not 0 < slot_id <= MAX_ID:
        slot_id = 0
    quote = connection.ops.quote_name
    slot_and_answer = (
        "r.appointment_id, s.id, s.hall_id, s.service_id, s.date, s.starts_at, s.ends_at, "  # noqa: S608 - the models' tables
        "s.quota, s.is_open, EXISTS (SELECT 1 FROM "
        f"{SlotPlace._meta.db_table} p WHERE p.slot_id = s.id AND p.appointment_id IS NULL) "
        "FROM (SELECT 1 AS one) o "
    )
    if isinstance(citizen, UncheckedToken):
        sql = (
            f"SELECT t.citizen_id, t.expires_at, {slot_and_answer}"
            f"LEFT JOIN {CitizenToken._meta.db_table} t "
            "ON t.token_hash = %s AND t.expires_at > %s "
            f"LEFT JOIN {Slot._meta.db_table} s ON s.id = %s "
            f"LEFT JOIN {IdempotencyRecord._meta.db_table} r "
            f"ON r.citizen_id = t.citizen_id AND r.{quote('key')} = %s"
        )
        when = connection.ops.adapt_datetimefield_value(now)
        ((citizen_id, expires_at, *rest),) = fetch_all(
            sql, [citizen.digest, when, slot_id, idempotency_key]
        )
        if citizen_id is None:  # no such token, or expired: nothing more is looked at
            return SlotToBook(
                slot=None, has_free_place=False, earlier_appointment_id=None, citizen=None
            )
        row = tuple(rest)
        expiry = column_value(CitizenToken, "expires_at", expires_at)
        who = token_checked(citizen.digest, citizen_id, expiry)
    else:
        sql = (
            f"SELECT {slot_and_answer}"
            f"LEFT JOIN {Slot._meta.db_table} s ON s.id = %s "
            f"LEFT JOIN {IdempotencyRecord._meta.db_table} r "
            f"ON r.citizen_id = %s AND r.{quote('key')} = %s"
        )
        (row,) = fetch_all(sql, [slot_id, citizen.pk, idempotency_key])
        who = citizen
    earlier, found, hall_id, service_id, day, starts_at, ends_at, quota, is_open, free = row
    slot = None
    service = service_with_hall(service_id) if found is not None else None
    if service is not None:
        slot = instance_from_row(
            Slot, [found, hall_id, service_id, day, starts_at, ends_at, quota, is_open]
        )
        attach_related(slot, "service", service)
        if service.hall_id == hall_id:
            attach_related(slot, "hall", service.hall)
    return SlotToBook(
        slot=slot,
        has_free_place=bool(free),
        earlier_appointment_id=earlier,
        citizen=who,
    )


@dataclass(frozen=True, slots=True)
class CitizenBookings:
    """A citizen's standing for one booking, read in one statement under their row lock."""

    blacklisted_until: datetime | None
    # An active appointment of the same service on the same day (one is allowed, §3.4).
    same_service_and_day: bool
    active: int  # active appointments from today on (K are allowed)
    openid: str  # the WeChat the booking's notice goes to, "" for none
    earlier_appointment_id: int | None  # booked by an earlier request with the same key
    place_id: int | None  # the free place claimed for the booking, None when none is free


def citizen_bookings(
    *,
    citizen_id: int,
    service_id: int,
    day: date,
    today: date,
    now: datetime,
    idempotency_key: str | None,
    slot_id: int,
) -> CitizenBookings:
    """The blacklist (as ``citizens.selectors.blacklisted_until``), the same-day rule, the
    active count, the WeChat to notify and an earlier answer, in one statement, which also
    claims a free place of ``slot_id`` (``booking.locks.free_place_claim_sql``; held until the
    transaction ends, whether or not the booking goes ahead).

    Must run after the citizen's lock, as a statement of its own: under READ COMMITTED a
    statement sees what was committed when it began, so reads inside the locking statement
    itself would miss a booking committed while it waited for the lock.
    """
    quote = connection.ops.quote_name
    # The states in the text, not as parameters: one plan serves every execution
    # (docs/decisions/0006), and it can use the partial index of active appointments only if
    # the states it asks for are in it.
    states = ", ".join(f"'{state.value}'" for state in ACTIVE_APPOINTMENT_STATES)
    appointments = Appointment._meta.db_table
    sql = (
        f"WITH claim AS ({free_place_claim_sql()}) SELECT "  # noqa: S608 - the models' tables
        f"(SELECT MAX(ends_at) FROM {BlacklistEntry._meta.db_table} WHERE citizen_id = %s "
        "AND lifted_at IS NULL AND starts_at <= %s AND ends_at > %s), "
        f"(SELECT COUNT(*) FROM {appointments} WHERE citizen_id = %s AND service_id = %s "
        f"AND date = %s AND state IN ({states})), "
        f"(SELECT COUNT(*) FROM {appointments} WHERE citizen_id = %s AND date >= %s "
        f"AND state IN ({states})), "
        f"(SELECT openid FROM {CitizenWechat._meta.db_table} WHERE citizen_id = %s "
        "ORDER BY bound_at DESC LIMIT 1), "
        f"(SELECT appointment_id FROM {IdempotencyRecord._meta.db_table} WHERE citizen_id = %s "
        f"AND {quote('key')} = %s), "
        "(SELECT id FROM claim)"
    )
    at = connection.ops.adapt_datetimefield_value(now)
    params = [
        slot_id,
        *(citizen_id, at, at),
        *(citizen_id, service_id, connection.ops.adapt_datefield_value(day)),
        *(citizen_id, connection.ops.adapt_datefield_value(today)),
        citizen_id,
        *(citizen_id, idempotency_key),
    ]
    ((until, same_day, active_count, openid, earlier, place_id),) = fetch_all(sql, params)
    return CitizenBookings(
        blacklisted_until=column_value(BlacklistEntry, "ends_at", until),
        same_service_and_day=same_day > 0,
        active=active_count,
        openid=openid or "",
        earlier_appointment_id=earlier,
        place_id=place_id,
    )
