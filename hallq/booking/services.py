"""Every change to slots and appointments (§3.5–3.9). Each call is one transaction.

Interfaces check input and who is asking first; these functions decide only what depends on
the current state, atomically:
- a slot's quota is its place rows, claimed one at a time under ``SKIP LOCKED`` (``locks.py``);
- a citizen's state (registered, the agreement accepted) and limits (K active, one per
  service and day, the blacklist) are read under the citizen's row lock, with the unique
  constraint ``one_active_appointment_per_service_day`` behind it;
- state changes are conditional updates that match only the state they expect.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef, Subquery
from django.utils.translation import gettext as _

from hallq.booking import notices
from hallq.booking.models import (
    Appointment,
    AppointmentState,
    IdempotencyRecord,
    Slot,
    SlotPlace,
)
from hallq.booking.selectors import CitizenBookings, citizen_bookings, materialised_dates
from hallq.citizens.locks import LockedCitizen, lock_citizen, lock_citizen_to_book
from hallq.citizens.models import Citizen, CitizenWechat, ViolationKind
from hallq.citizens.selectors import SignedInCitizen, current_agreement_version
from hallq.citizens.services import violation_record
from hallq.common.db import fetch_all
from hallq.common.errors import Conflict
from hallq.halls.models import Hall, Service
from hallq.notifications.models import Notification, NotificationKind
from hallq.queueing.domain.model import TicketKind
from hallq.queueing.models import Channel, Ticket
from hallq.queueing.services import ticket_issue
from hallq.scheduling.domain.calendar import CalendarUnknown
from hallq.scheduling.domain.window import cancel_deadline, check_in_window
from hallq.scheduling.selectors import booking_rules, day_plans

BOOKING_CODE_DIGITS = 10


class SlotFull(Conflict):
    code = "slot_full"


# -- slots ------------------------------------------------------------------------------------


def slots_materialise(*, service: Service, dates: Sequence[date]) -> None:
    """Make the slot and place rows of these dates match the schedule. Idempotent, and safe to
    run from several processes at once: rows are created with ON CONFLICT DO NOTHING, quotas
    change by adding place numbers or deleting free places above the quota.

    A slot the schedule no longer has is closed to new bookings (``is_open=False``); the
    appointments it holds stay. Raises ``CalendarUnknown`` for a year nobody confirmed.
    """
    plans = day_plans(service=service, dates=dates)
    with transaction.atomic():
        existing = {
            slot.starts_at.astimezone(UTC): slot
            for slot in Slot.objects.filter(service=service, date__in=list(plans))
        }
        wanted = {
            spec.starts_at.astimezone(UTC): (plan.date, spec)
            for plan in plans.values()
            if plan.is_open
            for spec in plan.slots
        }
        Slot.objects.bulk_create(
            [
                Slot(
                    hall_id=service.hall_id,
                    service=service,
                    date=day,
                    starts_at=spec.starts_at,
                    ends_at=spec.ends_at,
                    quota=spec.quota,
                )
                for starts_at, (day, spec) in wanted.items()
                if starts_at not in existing
            ],
            ignore_conflicts=True,
        )
        slots = {
            slot.starts_at.astimezone(UTC): slot
            for slot in Slot.objects.filter(service=service, date__in=list(plans))
        }
        places: list[SlotPlace] = []
        for starts_at, slot in slots.items():
            entry = wanted.get(starts_at)
            if entry is None:
                if slot.is_open:
                    Slot.objects.filter(pk=slot.pk).update(is_open=False)
                continue
            spec = entry[1]
            if not slot.is_open or slot.quota != spec.quota or slot.ends_at != spec.ends_at:
                Slot.objects.filter(pk=slot.pk).update(
                    is_open=True, quota=spec.quota, ends_at=spec.ends_at
                )
            # Free places above a lowered quota go; taken ones stay with their appointments.
            SlotPlace.objects.filter(slot=slot, number__gt=spec.quota, appointment=None).delete()
            places.extend(
                SlotPlace(slot=slot, number=number) for number in range(1, spec.quota + 1)
            )
        SlotPlace.objects.bulk_create(places, ignore_conflicts=True, batch_size=2000)


# -- booking ----------------------------------------------------------------------------------


def _new_booking_code() -> str:
    # One draw from the system's random source, not one a digit: the same uniform codes.
    return f"{secrets.randbelow(10**BOOKING_CODE_DIGITS):0{BOOKING_CODE_DIGITS}d}"


def appointment_book(
    *,
    citizen: Citizen | SignedInCitizen,
    slot: Slot,
    channel: str,
    now: datetime,
    idempotency_key: str | None = None,
) -> Appointment:
    """Book one place of ``slot`` for ``citizen`` (§3.4, §3.5).

    The interface has checked that the slot is bookable now (window, not started). What
    depends on the citizen is decided here, under their row lock: registered, the current
    agreement accepted, not blacklisted, no other appointment of the service that day, fewer
    than K active. Raises ``SlotFull`` when no place is free, ``Conflict`` for the citizen's
    state, ``Citizen.DoesNotExist`` when the citizen is gone. With an idempotency key, a request
    repeated after success returns the first answer; repeated while the first is still running,
    it waits for it on the citizen's lock.
    """
    zone = slot.hall.zone
    with transaction.atomic():
        locked = lock_citizen_to_book(citizen.pk)
        if locked is None:
            raise Citizen.DoesNotExist
        standing = citizen_bookings(
            citizen_id=citizen.pk,
            service_id=slot.service_id,
            day=slot.date,
            today=now.astimezone(zone).date(),
            now=now,
            idempotency_key=idempotency_key,
            slot_id=slot.pk,
        )
        if standing.earlier_appointment_id is not None:
            return Appointment.objects.select_related("hall", "service", "ticket").get(
                pk=standing.earlier_appointment_id
            )
        _refuse_unless_allowed(locked, standing, zone)
        if standing.place_id is None:
            raise SlotFull(_("This slot is full. Please choose another time."))
        appointment = _insert_appointment(citizen.pk, slot, channel, now, standing.place_id)
        if idempotency_key:
            _record_answer(citizen.pk, idempotency_key, appointment.pk, now)
        appointment.hall, appointment.service = slot.hall, slot.service
        notices.appointment_notice_to(
            NotificationKind.BOOKING_CONFIRMED,
            appointment,
            now,
            openid=standing.openid,
            mobile=locked.mobile,
        )
    return appointment


def _refuse_unless_allowed(locked: LockedCitizen, standing: CitizenBookings, zone: tzinfo) -> None:
    if not locked.registered:
        raise Conflict(
            _("Register your real name and ID number before booking."), code="not_registered"
        )
    if locked.agreement_version < current_agreement_version():
        raise Conflict(_("Read and accept the booking agreement first."), code="agreement_required")
    if standing.blacklisted_until is not None:
        raise Conflict(
            _("You cannot book until %(date)s because of missed appointments.")
            % {"date": standing.blacklisted_until.astimezone(zone).strftime("%Y-%m-%d")},
            code="blacklisted",
        )
    if standing.same_service_and_day:
        raise Conflict(
            _("You already have an appointment for this service on that day."),
            code="already_booked",
        )
    limit = settings.HALLQ_MAX_ACTIVE_APPOINTMENTS
    if standing.active >= limit:
        raise Conflict(
            _("You already have %(count)d active appointments, the most allowed.")
            % {"count": limit},
            code="too_many_appointments",
        )


def _insert_appointment(
    citizen_id: int, slot: Slot, channel: str, now: datetime, place_id: int
) -> Appointment:
    """The appointment, holding the place claimed for it: on PostgreSQL one statement,
    ``WITH a AS (INSERT … ON CONFLICT (booking_code) DO NOTHING RETURNING id) UPDATE`` the place
    ``FROM a``; on SQLite (no ``INSERT`` in ``WITH``) the same two as two. A code already in use
    inserts nothing and takes no place, and the next try draws another code: no savepoint
    around each try. Any other conflict is the unique index
    ``one_active_appointment_per_service_day``, which the citizen's lock already keeps from
    happening; it ends the transaction."""
    appointment = Appointment(
        citizen_id=citizen_id,
        hall_id=slot.hall_id,
        service_id=slot.service_id,
        slot=slot,
        date=slot.date,
        starts_at=slot.starts_at,
        ends_at=slot.ends_at,
        state=AppointmentState.BOOKED,
        channel=channel,
        created_at=now,
    )
    ops = connection.ops
    places = SlotPlace._meta.db_table
    insert = (
        f"INSERT INTO {Appointment._meta.db_table} "  # noqa: S608 - the model's table, values bound
        "(citizen_id, hall_id, service_id, slot_id, date, starts_at, ends_at, state, channel, "
        "created_at, booking_code) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (booking_code) DO NOTHING RETURNING id"
    )
    together = connection.vendor == "postgresql"
    if together:
        insert = (
            f"WITH a AS ({insert}) UPDATE {places} SET appointment_id = a.id "  # noqa: S608 - the model's table
            f"FROM a WHERE {places}.id = %s RETURNING a.id"
        )
    values = [
        *(citizen_id, slot.hall_id, slot.service_id, slot.pk),
        ops.adapt_datefield_value(slot.date),
        ops.adapt_datetimefield_value(slot.starts_at),
        ops.adapt_datetimefield_value(slot.ends_at),
        *(AppointmentState.BOOKED.value, channel, ops.adapt_datetimefield_value(now)),
    ]
    for _attempt in range(5):
        appointment.booking_code = _new_booking_code()
        params = [*values, appointment.booking_code, *([place_id] if together else [])]
        try:
            rows = fetch_all(insert, params)
        except IntegrityError as error:
            raise Conflict(
                _("You already have an appointment for this service on that day."),
                code="already_booked",
            ) from error
        if not rows:
            continue
        appointment.pk = rows[0][0]
        appointment._state.adding, appointment._state.db = False, connection.alias
        if not together:
            with connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {places} SET appointment_id = %s WHERE id = %s",  # noqa: S608 - the model's table
                    [appointment.pk, place_id],
                )
        return appointment
    raise RuntimeError("no free booking code after 5 attempts")


def _record_answer(citizen_id: int, key: str, appointment_id: int, now: datetime) -> None:
    """Keep the answer for a retry with the same key. Every booking with a key writes here
    under the citizen's lock, after reading that no answer exists: the unique key cannot
    collide, and if it ever did the transaction ends rather than booking twice."""
    quote = connection.ops.quote_name
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {quote(IdempotencyRecord._meta.db_table)} "  # noqa: S608 - the model's table
                f"(citizen_id, {quote('key')}, appointment_id, created_at) VALUES (%s, %s, %s, %s)",
                [citizen_id, key, appointment_id, connection.ops.adapt_datetimefield_value(now)],
            )
    except IntegrityError:
        raise Conflict(_("This request is already being processed."), code="in_progress") from None


def appointment_cancel(*, appointment: Appointment, now: datetime) -> Appointment:
    """Cancel a booked appointment; its place returns to the pool at once (§3.6).

    Refused once the slot has started. After the cut-off (when one is set) the cancellation
    still goes through but counts one violation (§3.8).
    """
    rules = booking_rules(appointment.service_id)
    if now >= appointment.starts_at:
        raise Conflict(
            _("The appointment has started and can no longer be cancelled."), code="too_late"
        )
    late = rules.cancel_cutoff.total_seconds() > 0 and now > cancel_deadline(
        appointment.starts_at, cutoff=rules.cancel_cutoff
    )
    with transaction.atomic():
        citizen = lock_citizen(appointment.citizen_id)
        changed = Appointment.objects.filter(
            pk=appointment.pk, state=AppointmentState.BOOKED
        ).update(state=AppointmentState.CANCELLED, cancelled_at=now)
        if not changed:
            raise Conflict(_("Only a booked appointment can be cancelled."), code="wrong_state")
        quota = Slot.objects.values_list("quota", flat=True).get(pk=appointment.slot_id)
        SlotPlace.objects.filter(appointment=appointment, number__gt=quota).delete()
        SlotPlace.objects.filter(appointment=appointment).update(appointment=None)
        if late:
            entry = violation_record(
                citizen=citizen,
                kind=ViolationKind.LATE_CANCELLATION,
                appointment_id=appointment.pk,
                now=now,
            )
            if entry is not None:
                notices.blacklist_notice(entry, citizen, appointment.hall.time_zone, now)
        notices.appointment_notice(NotificationKind.BOOKING_CANCELLED, appointment, citizen, now)
    appointment.refresh_from_db()
    return appointment


# -- check-in and no-shows --------------------------------------------------------------------


def appointment_check_in(*, appointment: Appointment, hall: Hall, now: datetime) -> Ticket:
    """Turn a booked appointment of today into an appointment ticket (§3.7, §4.3).

    Checking in again returns the ticket already given (a kiosk pressed twice prints the same
    ticket). The interface has checked the hall, the day and the check-in window.
    """
    with transaction.atomic():
        changed = Appointment.objects.filter(
            pk=appointment.pk, state=AppointmentState.BOOKED
        ).update(state=AppointmentState.CHECKED_IN, checked_in_at=now)
        if not changed:
            current = Appointment.objects.select_related("ticket").get(pk=appointment.pk)
            if current.state == AppointmentState.CHECKED_IN and current.ticket is not None:
                return current.ticket
            raise Conflict(
                _("This appointment cannot be checked in: it is %(state)s.")
                % {"state": current.get_state_display()},
                code="wrong_state",
            )
        ticket = ticket_issue(
            hall=hall,
            service=appointment.service,
            channel=Channel.APPOINTMENT,
            now=now,
            kind=TicketKind.APPOINTMENT,
            slot_start=appointment.starts_at,
        )
        Appointment.objects.filter(pk=appointment.pk).update(ticket=ticket)
        # The ticket belongs to the citizen: its pre-call and call reach their WeChat or phone.
        Ticket.objects.filter(pk=ticket.pk).update(owner_citizen_id=appointment.citizen_id)
        ticket.owner_citizen_id = appointment.citizen_id
    return ticket


def appointments_mark_no_shows(*, now: datetime, limit: int = 500) -> int:
    """Appointments whose check-in window has closed unattended become no-shows, each
    counting one violation (§3.8, §3.9). Idempotent; several workers may run it at once."""
    marked = 0
    candidates = list(
        Appointment.objects.filter(state=AppointmentState.BOOKED, ends_at__lt=now)
        .select_related("hall", "service")
        .order_by("ends_at")[:limit]
    )
    for appointment in candidates:
        rules = booking_rules(appointment.service_id)
        _, closes = check_in_window(
            appointment.starts_at,
            appointment.ends_at,
            before=rules.check_in_before,
            after=rules.check_in_after,
        )
        if closes > now:
            continue
        with transaction.atomic():
            citizen = lock_citizen(appointment.citizen_id)
            changed = Appointment.objects.filter(
                pk=appointment.pk, state=AppointmentState.BOOKED
            ).update(state=AppointmentState.NO_SHOW, no_show_at=now)
            if not changed:
                continue
            entry = violation_record(
                citizen=citizen, kind=ViolationKind.NO_SHOW, appointment_id=appointment.pk, now=now
            )
            notices.appointment_notice(
                NotificationKind.APPOINTMENT_NO_SHOW, appointment, citizen, now
            )
            if entry is not None:
                notices.blacklist_notice(entry, citizen, appointment.hall.time_zone, now)
            marked += 1
    return marked


# How far ahead the reminder job looks; reminders set further before the slot than this are
# sent this long before it.
REMINDER_HORIZON = timedelta(hours=24)


def appointments_remind(*, now: datetime) -> int:
    """The reminder on the day (§3.10): T minutes before the slot, once per appointment (the
    outbox's unique key makes a rerun, or a second worker, add nothing)."""
    reminded = 0
    upcoming = (
        Appointment.objects.filter(
            state=AppointmentState.BOOKED, starts_at__gt=now, starts_at__lte=now + REMINDER_HORIZON
        )
        # Those reminded already are not read again every minute until their slot.
        .exclude(
            Exists(
                Notification.objects.filter(
                    subject_type="appointment",
                    subject_id=OuterRef("pk"),
                    kind=NotificationKind.BOOKING_REMINDER,
                )
            )
        )
        .select_related("hall", "service", "citizen")
        # A reminder needs the citizen's mobile number and WeChat, never their ID number.
        .defer("citizen__id_number")
        .annotate(
            citizen_openid=Subquery(
                CitizenWechat.objects.filter(citizen=OuterRef("citizen_id"))
                .order_by("-bound_at")
                .values("openid")[:1]
            )
        )
        .order_by("starts_at")
    )
    for appointment in upcoming:
        rules = booking_rules(appointment.service_id)
        if now < appointment.starts_at - rules.reminder_before:
            continue
        if (
            appointment.starts_at.astimezone(appointment.hall.zone).date()
            != now.astimezone(appointment.hall.zone).date()
        ):
            continue
        with transaction.atomic():
            reminded += notices.appointment_notice_to(
                NotificationKind.BOOKING_REMINDER,
                appointment,
                now,
                openid=appointment.citizen_openid or "",
                mobile=appointment.citizen.mobile or "",
            )
    return reminded


def appointments_settle(*, now: datetime) -> int:
    """Checked-in appointments whose ticket was served become done."""
    return Appointment.objects.filter(
        state=AppointmentState.CHECKED_IN, ticket__state="done"
    ).update(state=AppointmentState.DONE)


def slots_resync(*, service_ids: Sequence[int] | None, now: datetime) -> int:
    """After a schedule change: bring the already materialised slots of today and later in
    line with it. ``None`` means every service (a calendar change)."""
    slots = Slot.objects.filter(date__gte=(now - timedelta(days=1)).date())
    if service_ids is not None:
        slots = slots.filter(service_id__in=service_ids)
    dates_by_service: dict[int, set[date]] = {}
    for service_id, day in slots.values_list("service_id", "date").distinct():
        dates_by_service.setdefault(service_id, set()).add(day)
    for service in Service.objects.select_related("hall").filter(pk__in=list(dates_by_service)):
        today = now.astimezone(service.hall.zone).date()
        dates = sorted(d for d in dates_by_service[service.pk] if d >= today)
        try:
            slots_materialise(service=service, dates=dates)
        except CalendarUnknown:
            continue
    return len(dates_by_service)


def slots_prepare(*, now: datetime) -> int:
    """Materialise the slots of every date in (or one day past) each bookable service's
    window, so the rush at a release time finds them ready. Returns the dates prepared."""
    prepared = 0
    for service in Service.objects.select_related("hall").filter(active=True, bookable=True):
        window = booking_rules(service.pk).window
        today = now.astimezone(service.hall.zone).date()
        dates = [
            today + timedelta(days=n)
            for n in range(window.min_days_ahead, window.max_days_ahead + 2)
        ]
        missing = [
            d for d in dates if d not in materialised_dates(service_id=service.pk, dates=dates)
        ]
        if not missing:
            continue
        try:
            slots_materialise(service=service, dates=missing)
        except CalendarUnknown:
            continue
        prepared += len(missing)
    return prepared
