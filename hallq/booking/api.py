"""/api/v1: slots with remaining places, appointments, and check-in at the kiosk (§3, §11)."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from ninja import Field, Header, Router, Schema, Status
from ninja.errors import AuthenticationError
from pydantic import BaseModel, TypeAdapter

from hallq.booking import services
from hallq.booking.models import (
    ACTIVE_APPOINTMENT_STATES,
    Appointment,
    AppointmentState,
    BookingChannel,
)
from hallq.booking.selectors import (
    citizen_appointments,
    slot_to_book,
    slots_with_remaining,
)
from hallq.booking.views import appointment_view, slot_view
from hallq.citizens.auth import CitizenAuth, signed_in_of
from hallq.citizens.models import Citizen
from hallq.citizens.selectors import (
    SignedInCitizen,
    UncheckedToken,
    citizen_by_id_number,
)
from hallq.citizens.services import checked_id_number
from hallq.common import clock
from hallq.common.api import ERRORS
from hallq.common.errors import Conflict, InvalidInput, NotFound
from hallq.common.memo import Memo
from hallq.halls.api import bearer, principal_of
from hallq.halls.models import Hall, Service
from hallq.queueing.tokens import ticket_token
from hallq.queueing.views import ticket_url, ticket_view
from hallq.scheduling.domain.calendar import CalendarUnknown
from hallq.scheduling.domain.slots import DayPlan
from hallq.scheduling.domain.window import check_in_window, date_opens_at, date_refusal
from hallq.scheduling.selectors import (
    booking_rules,
    calendar_unknown_message,
    closed_reason_message,
    day_plans,
    refusal_message,
)

logger = logging.getLogger(__name__)

router = Router(tags=["booking"])
signed_in_auth = CitizenAuth(signed_in_only=True)
# A booking checks a token this process does not remember in its own first statement.
booking_auth = CitizenAuth(checked_by_view=True)

# How far past the booking window slots are shown (with "opens at …"), so a citizen can see
# tomorrow's slots before they are released and they exist before the release rush.
PREVIEW_DAYS = 1


class SlotOut(Schema):
    id: int
    starts_at: datetime
    ends_at: datetime
    quota: int
    remaining: int
    is_open: bool


class DayOut(Schema):
    service_id: int
    date: date
    bookable: bool
    reason: str = Field(description="Why the day cannot be booked now; empty when it can.")
    message: str
    opens_at: datetime | None
    remaining: int
    slots: list[SlotOut]


def _bookable_service(hall_id: int, service_id: int) -> Service:
    service = (
        Service.objects.select_related("hall")
        .filter(pk=service_id, hall_id=hall_id, active=True)
        .first()
    )
    if service is None:
        if not Hall.objects.filter(pk=hall_id).exists():
            raise NotFound(_("No such hall."))
        raise NotFound(_("This hall has no such service."), code="unknown_service")
    if not service.bookable:
        raise Conflict(_("This service cannot be booked; take a ticket at the hall."))
    return service


def _days(
    services_shown: Sequence[Service], dates: list[date], now: datetime
) -> list[dict[str, Any]]:
    """Each service's dates: whether they can be booked, and their slots (those of every
    service read in one query). Slots of dates in (or just past) the window are materialised
    on first sight."""
    shown: dict[int, set[date]] = {}
    plans: dict[int, dict[date, DayPlan]] = {}
    for service in services_shown:
        window = booking_rules(service.pk).window
        today = now.astimezone(service.hall.zone).date()
        horizon = today + timedelta(days=window.max_days_ahead + PREVIEW_DAYS)
        shown[service.pk] = {d for d in dates if today <= d <= horizon}
        try:
            plans[service.pk] = day_plans(service=service, dates=sorted(shown[service.pk]))
        except CalendarUnknown as unknown:
            raise Conflict(
                calendar_unknown_message(unknown.year), code="calendar_unknown"
            ) from None
    slots = _open_slots(services_shown, shown, plans)
    return [
        _day(service, d, now, plans[service.pk].get(d), slots.get((service.pk, d), []))
        for service in services_shown
        for d in dates
    ]


def _open_slots(
    services_shown: Sequence[Service],
    shown: dict[int, set[date]],
    plans: dict[int, dict[date, DayPlan]],
) -> dict[tuple[int, date], list[dict[str, Any]]]:
    """The open slots of each service and shown date, materialising the dates that have none
    yet although the schedule opens them."""
    service_ids = [service.pk for service in services_shown]
    every_date = sorted(set().union(*shown.values()))
    found = slots_with_remaining(service_ids=service_ids, dates=every_date) if every_date else []
    materialised = {(slot.service_id, slot.date) for slot in found}
    materialising = False
    for service in services_shown:
        missing = sorted(
            d
            for d in shown[service.pk]
            if plans[service.pk][d].is_open and (service.pk, d) not in materialised
        )
        if missing:
            services.slots_materialise(service=service, dates=missing)
            materialising = True
    if materialising:
        found = slots_with_remaining(service_ids=service_ids, dates=every_date)
    slots: dict[tuple[int, date], list[dict[str, Any]]] = {}
    for slot in found:
        if slot.is_open and slot.date in shown[slot.service_id]:
            slots.setdefault((slot.service_id, slot.date), []).append(slot_view(slot))
    return slots


def _day(
    service: Service,
    day: date,
    now: datetime,
    plan: DayPlan | None,
    open_slots: list[dict[str, Any]],
) -> dict[str, Any]:
    zone = service.hall.zone
    window = booking_rules(service.pk).window
    refusal = date_refusal(day, now, window=window, zone=zone)
    opens_at = date_opens_at(day, window=window, zone=zone)
    reason, message = "", ""
    if plan is not None and not plan.is_open:
        reason, message = plan.closed_reason, closed_reason_message(plan.closed_reason)
    elif refusal is not None:
        reason, message = (
            refusal.value,
            refusal_message(refusal, opens_at, zone=zone, booking_date=day),
        )
    slots = [s for s in open_slots if s["starts_at"] > now] if not reason else open_slots
    return {
        "service_id": service.pk,
        "date": day,
        "bookable": not reason,
        "reason": reason,
        "message": message,
        "opens_at": opens_at,
        "remaining": sum(s["remaining"] for s in slots),
        "slots": slots,
    }


@router.get(
    "/halls/{hall_id}/services/{service_id}/slots",
    response={200: DayOut, **ERRORS},
    auth=None,
)
def slots_list(request: HttpRequest, hall_id: int, service_id: int, date: date) -> dict:
    """A service's slots on one date with the places remaining (public)."""
    service = _bookable_service(hall_id, service_id)
    return _days([service], [date], clock.now())[0]


@router.get("/halls/{hall_id}/availability", response={200: list[DayOut], **ERRORS}, auth=None)
def hall_availability(
    request: HttpRequest,
    hall_id: int,
    start: date | None = None,
    days: int = 7,
    service_id: int | None = None,
) -> HttpResponse:
    """Every bookable service of the hall (or only ``service_id``), day by day from ``start``
    (default: today), with the places remaining (public)."""
    if not 1 <= days <= 31:
        raise InvalidInput(_("Ask for 1 to 31 days."), code="days")
    key = f"availability:{hall_id}:{service_id}:{start}:{days}:{get_language()}"
    # Each process keeps the answer's bytes for a second besides the shared cache: a week of a
    # hall is ~50 KB, fetched from Redis and unpickled on every poll otherwise.
    body = _availability_here.get(
        key, lambda: _availability_body(key, hall_id, start, days, service_id)
    )
    return HttpResponse(body, content_type="application/json; charset=utf-8")


def _availability_body(
    key: str, hall_id: int, start: date | None, days: int, service_id: int | None
) -> bytes:
    kept: tuple[float, bytes] | None = cache.get(key)
    if kept is None:
        return _availability_computed(key, hall_id, start, days, service_id)
    computed_at, body = kept
    # Older than its time: it is computed again off the request path, once (in every process,
    # when the cache is Redis), while every request keeps answering what there is. Computed by
    # a request, the ~30 ms of a week's slots held up every request queued on its thread.
    if time.time() - computed_at >= AVAILABILITY_FRESH_SECONDS and cache.add(
        f"{key}:refreshing", 1, AVAILABILITY_REFRESH_TIMEOUT_SECONDS
    ):
        _refresher.submit(
            _availability_refresh, get_language(), key, hall_id, start, days, service_id
        )
    return body


def _availability_computed(
    key: str, hall_id: int, start: date | None, days: int, service_id: int | None
) -> bytes:
    # Validated against the schema once, then kept as the bytes sent: checking and encoding it
    # again for every poll would cost more than computing it.
    days_out = DAYS_OUT.validate_python(_hall_availability(hall_id, start, days, service_id))
    body = DAYS_OUT.dump_json(days_out)
    cache.set(key, (time.time(), body), AVAILABILITY_KEEP_SECONDS)
    return body


def _availability_refresh(
    language: str, key: str, hall_id: int, start: date | None, days: int, service_id: int | None
) -> None:
    try:
        with translation.override(language):
            _availability_computed(key, hall_id, start, days, service_id)
    except Exception:
        logger.exception("availability of hall %s could not be computed", hall_id)
    finally:
        cache.delete(f"{key}:refreshing")
        connection.close()  # back to the pool: this thread serves no request


# One thread per process computes stale availability answers, one at a time.
_refresher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hallq-availability")


DAYS_OUT = TypeAdapter(list[DayOut])  # built once: building one costs more than using it

# The week's availability is what every citizen's page polls, and what a crowd refreshes at a
# release time; it is computed about this often per hall (a booking's own answer is exact).
AVAILABILITY_FRESH_SECONDS = 2
# An answer older than that is still given while it is computed again, never one older than
# this; nor does a refresh that failed block the next one longer than the timeout.
AVAILABILITY_KEEP_SECONDS = 30
AVAILABILITY_REFRESH_TIMEOUT_SECONDS = 10
# And what each process keeps of it besides (see hall_availability).
AVAILABILITY_HERE_SECONDS = 1
_availability_here: Memo[bytes] = Memo(AVAILABILITY_HERE_SECONDS, size=1_000)


def _hall_availability(
    hall_id: int, start: date | None, days: int, service_id: int | None
) -> list[dict]:
    hall = Hall.objects.filter(pk=hall_id).first()
    if hall is None:
        raise NotFound(_("No such hall."))
    now = clock.now()
    first = start or now.astimezone(hall.zone).date()
    dates = [first + timedelta(days=n) for n in range(days)]
    services_shown = Service.objects.select_related("hall").filter(
        hall=hall, active=True, bookable=True
    )
    if service_id is not None:
        services_shown = services_shown.filter(pk=service_id)
    return _days(list(services_shown), dates, now)


class TicketLinkOut(Schema):
    id: int
    number: str
    state: str
    token: str
    url: str


class AppointmentOut(Schema):
    id: int
    booking_code: str
    hall_id: int
    hall_name: str
    hall_address: str
    service_id: int
    service_name: str
    date: date
    starts_at: datetime
    ends_at: datetime
    state: str
    state_label: str
    channel: str
    created_at: datetime
    cancel_deadline: datetime
    cancellable: bool
    late_cancellation: bool
    check_in_opens_at: datetime
    check_in_closes_at: datetime
    ticket: TicketLinkOut | None


# A plain pydantic model, not a ninja ``Schema``: a Schema's validator that reads objects'
# attributes runs on every body (~2 % of an answer "full" to a rush); a body is a dict. (A
# comment, not a docstring: the OpenAPI document would carry it.)
class AppointmentIn(BaseModel):
    slot_id: int
    channel: BookingChannel = BookingChannel.WEB


CITIZEN_CHANNELS = {BookingChannel.WEB, BookingChannel.WECHAT, BookingChannel.API}


def _citizen_id(request: HttpRequest) -> int:
    return signed_in_of(request).pk


@router.post("/appointments", response={201: AppointmentOut, **ERRORS}, auth=booking_auth)
def appointments_book(
    request: HttpRequest,
    body: AppointmentIn,
    idempotency_key: str | None = Header(None, alias="Idempotency-Key"),
) -> Status[dict]:
    """Book a slot. Send an Idempotency-Key header to retry safely: a repeated request gets
    the first answer and books nothing more."""
    now = clock.now()
    key = (idempotency_key or "").strip()[:100] or None
    # One statement before any transaction: the slot, whether a place is free, the answer
    # already given to this key and, for a token this process does not remember, its citizen.
    # Losers of a rush learn "full" from it without taking a lock; the claim inside the
    # transaction is what decides.
    principal: SignedInCitizen | UncheckedToken = request.auth  # type: ignore[attr-defined]
    found = slot_to_book(slot_id=body.slot_id, citizen=principal, idempotency_key=key, now=now)
    if found.citizen is None:
        raise AuthenticationError  # no such token, or expired
    signed_in = found.citizen
    if found.earlier_appointment_id is not None:
        return Status(201, appointment_view(_load(found.earlier_appointment_id), now, request))
    if body.channel not in CITIZEN_CHANNELS:
        raise InvalidInput(_("Appointments cannot be made on that channel here."), code="channel")
    slot = found.slot
    if slot is None:
        raise NotFound(_("No such slot."), code="unknown_slot")
    if not (slot.service.bookable and slot.service.active):
        raise Conflict(_("This service cannot be booked; take a ticket at the hall."))
    if not slot.is_open:
        raise Conflict(_("This slot is closed. Please choose another time."), code="slot_closed")
    zone = slot.hall.zone
    window = booking_rules(slot.service_id).window
    refusal = date_refusal(slot.date, now, window=window, zone=zone)
    if refusal is not None:
        opens_at = date_opens_at(slot.date, window=window, zone=zone)
        raise Conflict(
            refusal_message(refusal, opens_at, zone=zone, booking_date=slot.date),
            code=refusal.value,
        )
    if slot.starts_at <= now:
        raise Conflict(
            _("This slot has already begun. Please choose a later one."), code="slot_started"
        )
    if not found.has_free_place:
        raise services.SlotFull(_("This slot is full. Please choose another time."))
    try:
        appointment = services.appointment_book(
            citizen=signed_in, slot=slot, channel=body.channel, now=now, idempotency_key=key
        )
    except Citizen.DoesNotExist:
        raise AuthenticationError from None  # removed since the token was remembered
    return Status(201, appointment_view(appointment, now, request))


def _load(appointment_id: int) -> Appointment:
    return Appointment.objects.select_related("hall", "service", "ticket").get(pk=appointment_id)


@router.get("/appointments", response={200: list[AppointmentOut], **ERRORS}, auth=signed_in_auth)
def appointments_mine(request: HttpRequest) -> list[dict]:
    """My appointments, latest first."""
    now = clock.now()
    return [
        appointment_view(a, now, request)
        for a in citizen_appointments(citizen_id=_citizen_id(request))
    ]


def _mine(request: HttpRequest, appointment_id: int) -> Appointment:
    appointment = (
        Appointment.objects.select_related("hall", "service", "ticket")
        .filter(pk=appointment_id, citizen_id=_citizen_id(request))
        .first()
    )
    if appointment is None:
        raise NotFound(_("No such appointment."))
    return appointment


@router.get(
    "/appointments/{appointment_id}", response={200: AppointmentOut, **ERRORS}, auth=signed_in_auth
)
def appointments_get(request: HttpRequest, appointment_id: int) -> dict:
    return appointment_view(_mine(request, appointment_id), clock.now(), request)


@router.post(
    "/appointments/{appointment_id}/cancel",
    response={200: AppointmentOut, **ERRORS},
    auth=signed_in_auth,
)
def appointments_cancel(request: HttpRequest, appointment_id: int) -> dict:
    """Cancel my appointment; its place is free for others at once."""
    now = clock.now()
    appointment = services.appointment_cancel(appointment=_mine(request, appointment_id), now=now)
    return appointment_view(_load(appointment.pk), now, request)


class CheckInIn(Schema):
    id_number: str | None = None
    booking_code: str | None = None


class CheckedInTicketOut(Schema):
    id: int
    number: str
    service_id: int
    service_name: str
    state: str
    kind: str
    people_ahead: int | None
    estimated_wait_seconds: int | None
    starts_at: datetime
    token: str
    url: str


class CheckInOut(Schema):
    tickets: list[CheckedInTicketOut]


def _appointments_to_check_in(hall: Hall, body: CheckInIn, today: date) -> list[Appointment]:
    """Today's appointments in this hall named by an ID number or a booking code, or a clear
    refusal saying where and when the citizen's appointment really is."""
    base = Appointment.objects.select_related("hall", "service", "ticket")
    if body.booking_code:
        code = "".join(ch for ch in body.booking_code if ch.isdigit())
        found = list(base.filter(booking_code=code))
    else:
        id_number = checked_id_number(body.id_number or "", today=today)
        citizen = citizen_by_id_number(id_number)
        found = (
            []
            if citizen is None
            else list(
                base.filter(citizen=citizen, state__in=ACTIVE_APPOINTMENT_STATES, date__gte=today)
            )
        )
    if not found:
        raise NotFound(
            _("No appointment was found. Please check and try again."), code="no_appointment"
        )
    here = [a for a in found if a.hall_id == hall.pk and a.date == today]
    if not here:
        other = found[0]
        if other.hall_id != hall.pk:
            raise Conflict(
                _("Your appointment is at %(hall)s on %(date)s, not in this hall.")
                % {"hall": other.hall.name, "date": other.date.isoformat()},
                code="other_hall",
            )
        raise Conflict(
            _("Your appointment is on %(date)s, not today.") % {"date": other.date.isoformat()},
            code="other_day",
        )
    active = [a for a in here if a.state in ACTIVE_APPOINTMENT_STATES]
    if not active:
        raise Conflict(
            _("This appointment cannot be checked in: it is %(state)s.")
            % {"state": here[0].get_state_display()},
            code="wrong_state",
        )
    return active


@router.post("/halls/{hall_id}/check-in", response={200: CheckInOut, **ERRORS}, auth=bearer)
def check_in(request: HttpRequest, hall_id: int, body: CheckInIn) -> dict:
    """Check in today's appointment(s) at the kiosk by ID number or booking code: each becomes
    an appointment ticket (§3.7). Checking in again returns the same ticket."""
    principal_of(request).require_kiosk_or_staff_of(hall_id)
    if bool(body.id_number) == bool(body.booking_code):
        raise InvalidInput(_("Enter either an ID number or a booking code."), code="check_in_input")
    hall = Hall.objects.filter(pk=hall_id).first()
    if hall is None:
        raise NotFound(_("No such hall."))
    now = clock.now()
    zone = hall.zone
    appointments = _appointments_to_check_in(hall, body, now.astimezone(zone).date())
    tickets = []
    refusal: Conflict | None = None
    for appointment in appointments:
        rules = booking_rules(appointment.service_id)
        opens, closes = check_in_window(
            appointment.starts_at,
            appointment.ends_at,
            before=rules.check_in_before,
            after=rules.check_in_after,
        )
        if appointment.state == AppointmentState.BOOKED and now < opens:
            refusal = Conflict(
                _("Check-in for your %(time)s appointment opens at %(opens)s.")
                % {
                    "time": appointment.starts_at.astimezone(zone).strftime("%H:%M"),
                    "opens": opens.astimezone(zone).strftime("%H:%M"),
                },
                code="check_in_not_open",
            )
            continue
        if appointment.state == AppointmentState.BOOKED and now > closes:
            refusal = Conflict(
                _("Check-in for your %(time)s appointment closed at %(closes)s.")
                % {
                    "time": appointment.starts_at.astimezone(zone).strftime("%H:%M"),
                    "closes": closes.astimezone(zone).strftime("%H:%M"),
                },
                code="check_in_closed",
            )
            continue
        ticket = services.appointment_check_in(appointment=appointment, hall=hall, now=now)
        view = ticket_view(ticket, now)
        tickets.append(
            {
                **view,
                "starts_at": appointment.starts_at,
                "token": ticket_token(ticket.pk),
                "url": ticket_url(ticket.pk, request),
            }
        )
    if not tickets:
        assert refusal is not None
        raise refusal
    return {"tickets": tickets}
