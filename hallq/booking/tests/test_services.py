"""Booking services on the real database: cancel, check-in, no-shows and the blacklist."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hallq.booking import services
from hallq.booking.models import Appointment, AppointmentState, SlotPlace
from hallq.booking.tests.factories import make_citizen, make_slot
from hallq.citizens.models import BlacklistEntry, Violation
from hallq.common import clock
from hallq.common.errors import Conflict
from hallq.queueing.domain.model import TicketKind
from hallq.queueing.models import Channel, Ticket
from hallq.queueing.services import ticket_issue
from hallq.queueing.tests.factories import at, make_hall, make_service
from hallq.scheduling.models import BookingRules

pytestmark = pytest.mark.django_db

NOW = at(10, 0)


def test_cancel_returns_the_place_at_once():
    service = make_service(make_hall(), "A")
    slot = make_slot(service, at(9, 0, day=3), quota=1)
    first = services.appointment_book(
        citizen=make_citizen(1, now=NOW), slot=slot, channel="web", now=NOW
    )
    second = make_citizen(2, now=NOW)
    with pytest.raises(services.SlotFull):
        services.appointment_book(citizen=second, slot=slot, channel="web", now=NOW)

    cancelled = services.appointment_cancel(appointment=first, now=NOW)

    assert cancelled.state == AppointmentState.CANCELLED
    again = services.appointment_book(citizen=second, slot=slot, channel="web", now=NOW)
    assert again.state == AppointmentState.BOOKED
    assert SlotPlace.objects.get(slot=slot).appointment_id == again.pk


def test_a_refused_booking_leaves_the_place_it_claimed_free():
    # The place is claimed in the statement that reads the citizen's limits, before they are
    # judged: the refusal's rollback must free it for the next citizen.
    service = make_service(make_hall(), "A")
    nine = make_slot(service, at(9, 0, day=3), quota=1)
    ten = make_slot(service, at(10, 0, day=3), quota=1)
    citizen = make_citizen(1, now=NOW)
    services.appointment_book(citizen=citizen, slot=nine, channel="web", now=NOW)

    with pytest.raises(Conflict) as refusal:
        services.appointment_book(citizen=citizen, slot=ten, channel="web", now=NOW)

    assert refusal.value.code == "already_booked"
    assert SlotPlace.objects.get(slot=ten).appointment_id is None
    other = services.appointment_book(
        citizen=make_citizen(2, now=NOW), slot=ten, channel="web", now=NOW
    )
    assert SlotPlace.objects.get(slot=ten).appointment_id == other.pk


def test_cancel_after_the_slot_started_is_refused_and_changes_nothing():
    service = make_service(make_hall(), "A")
    slot = make_slot(service, at(9, 0, day=3), quota=1)
    appointment = services.appointment_book(
        citizen=make_citizen(1, now=NOW), slot=slot, channel="web", now=NOW
    )
    with pytest.raises(Conflict) as refusal:
        services.appointment_cancel(appointment=appointment, now=at(9, 1, day=3))
    assert refusal.value.code == "too_late"
    assert Appointment.objects.get(pk=appointment.pk).state == AppointmentState.BOOKED


def test_a_late_cancellation_counts_one_violation():
    service = make_service(make_hall(), "A")
    BookingRules.objects.create(service=service, cancel_cutoff_minutes=120)
    slot = make_slot(service, at(9, 0, day=3), quota=1)
    appointment = services.appointment_book(
        citizen=make_citizen(1, now=NOW), slot=slot, channel="web", now=NOW
    )
    services.appointment_cancel(appointment=appointment, now=at(8, 0, day=3))
    assert Violation.objects.get().kind == "late_cancellation"
    assert SlotPlace.objects.get(slot=slot).appointment_id is None


def test_check_in_issues_an_appointment_ticket_once():
    hall = make_hall()
    service = make_service(hall, "A")
    slot = make_slot(service, at(9, 0, day=3), quota=2)
    appointment = services.appointment_book(
        citizen=make_citizen(1, now=NOW), slot=slot, channel="web", now=NOW
    )
    ticket = services.appointment_check_in(appointment=appointment, hall=hall, now=at(8, 30, day=3))
    assert ticket.kind == TicketKind.APPOINTMENT
    assert ticket.channel == Channel.APPOINTMENT
    assert ticket.slot_start == slot.starts_at
    assert ticket.number == "A001"
    again = services.appointment_check_in(appointment=appointment, hall=hall, now=at(8, 31, day=3))
    assert again.pk == ticket.pk
    assert Ticket.objects.count() == 1
    stored = Appointment.objects.get(pk=appointment.pk)
    assert (stored.state, stored.ticket_id) == (AppointmentState.CHECKED_IN, ticket.pk)


def test_unattended_appointments_become_no_shows_when_check_in_closes():
    hall = make_hall()
    service = make_service(hall, "A")
    slot = make_slot(service, at(9, 0, day=3), quota=2, minutes=30)
    appointment = services.appointment_book(
        citizen=make_citizen(1, now=NOW), slot=slot, channel="web", now=NOW
    )
    # The window closes 15 minutes after the slot's end (09:30 + 15).
    assert services.appointments_mark_no_shows(now=at(9, 44, day=3)) == 0
    assert services.appointments_mark_no_shows(now=at(9, 46, day=3)) == 1
    assert services.appointments_mark_no_shows(now=at(9, 47, day=3)) == 0
    stored = Appointment.objects.get(pk=appointment.pk)
    assert stored.state == AppointmentState.NO_SHOW
    assert Violation.objects.get().appointment_id == appointment.pk


def test_three_no_shows_blacklist_the_citizen_who_then_cannot_book_but_can_take_tickets():
    hall = make_hall()
    service = make_service(hall, "A")
    citizen = make_citizen(1, now=NOW)
    for day in (3, 4, 5):
        slot = make_slot(service, at(9, 0, day=day), quota=1)
        services.appointment_book(
            citizen=citizen, slot=slot, channel="web", now=at(10, 0, day=day - 1)
        )
        services.appointments_mark_no_shows(now=at(12, 0, day=day))
    entry = BlacklistEntry.objects.get(citizen=citizen)
    assert entry.automatic
    assert entry.ends_at == at(12, 0, day=5) + timedelta(days=90)

    later = make_slot(service, at(9, 0, day=7), quota=1)
    with pytest.raises(Conflict) as refusal:
        services.appointment_book(citizen=citizen, slot=later, channel="web", now=at(10, 0, day=6))
    assert refusal.value.code == "blacklisted"
    assert "2026-06-03" in str(refusal.value.message)
    assert not Appointment.objects.filter(slot=later).exists()
    walk_in = ticket_issue(hall=hall, service=service, channel=Channel.KIOSK, now=at(10, 0, day=6))
    assert walk_in.number == "A001"


def _service_with_template(quota: int = 3):
    from datetime import time

    from hallq.scheduling.models import SlotTemplate

    service = make_service(make_hall(), "A")
    template = SlotTemplate.objects.create(
        service=service, weekday=1, start=time(9, 0), end=time(9, 30), quota=quota
    )
    return service, template


def test_slots_are_materialised_from_the_schedule_once():
    from datetime import date

    from hallq.booking.models import Slot

    service, _ = _service_with_template()
    tuesday = date(2026, 3, 3)
    services.slots_materialise(service=service, dates=[tuesday])
    services.slots_materialise(service=service, dates=[tuesday])
    slot = Slot.objects.get(service=service)
    assert (slot.starts_at, slot.quota, slot.is_open) == (at(9, 0, day=3), 3, True)
    assert sorted(SlotPlace.objects.filter(slot=slot).values_list("number", flat=True)) == [1, 2, 3]


def test_a_quota_change_in_the_schedule_reaches_materialised_slots_but_keeps_bookings(monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: NOW)
    from datetime import date

    from hallq.booking.models import Slot

    service, template = _service_with_template(quota=3)
    services.slots_materialise(service=service, dates=[date(2026, 3, 3)])
    slot = Slot.objects.select_related("hall", "service").get(service=service)
    booked = [
        services.appointment_book(
            citizen=make_citizen(n, now=NOW), slot=slot, channel="web", now=NOW
        )
        for n in range(2)
    ]
    template.quota = 1  # saving re-syncs the slots already materialised (booking.signals)
    template.save()
    slot.refresh_from_db()
    assert slot.quota == 1
    assert SlotPlace.objects.filter(slot=slot).count() == 2  # both booked places stay
    assert SlotPlace.objects.filter(slot=slot, appointment=None).count() == 0
    services.appointment_cancel(appointment=booked[1], now=NOW)
    # The place above the new quota goes with the cancellation instead of returning.
    assert SlotPlace.objects.filter(slot=slot).count() == 1
    template.quota = 4
    template.save()
    assert SlotPlace.objects.filter(slot=slot, appointment=None).count() == 3


def test_closing_the_day_closes_its_slots_to_new_bookings(monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: NOW)
    from datetime import date

    from hallq.booking.models import Slot
    from hallq.scheduling.models import DateOverride

    service, _ = _service_with_template()
    services.slots_materialise(service=service, dates=[date(2026, 3, 3)])
    DateOverride.objects.create(service=service, date=date(2026, 3, 3), kind="close_day")
    slot = Slot.objects.select_related("hall", "service").get(service=service)
    assert slot.is_open is False
    with pytest.raises(services.SlotFull):
        services.appointment_book(
            citizen=make_citizen(1, now=NOW), slot=slot, channel="web", now=NOW
        )


def test_a_booking_code_already_given_is_drawn_again(monkeypatch):
    slot = make_slot(make_service(make_hall(), "A"), at(9, 0, day=3), quota=2)
    first = services.appointment_book(
        citizen=make_citizen(1, now=NOW), slot=slot, channel="web", now=NOW
    )
    codes = iter([first.booking_code, "0000000042"])
    monkeypatch.setattr(services, "_new_booking_code", lambda: next(codes))

    second = services.appointment_book(
        citizen=make_citizen(2, now=NOW), slot=slot, channel="web", now=NOW
    )

    assert Appointment.objects.get(pk=second.pk).booking_code == "0000000042"
    assert SlotPlace.objects.filter(appointment__isnull=False).count() == 2
