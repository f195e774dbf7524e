"""Bookings racing on the real database: a slot never holds more than its quota (§3.5).

Each thread has its own connection, as separate web processes would; a barrier releases them
together so the transactions overlap.
"""

from __future__ import annotations

from collections import Counter as Tally
from datetime import timedelta

import pytest

from hallq.booking import services
from hallq.booking.models import Appointment, AppointmentState, SlotPlace
from hallq.booking.tests.factories import make_citizen, make_slot
from hallq.common.errors import Conflict
from hallq.common.testing import race
from hallq.queueing.tests.factories import at, make_hall, make_service

pytestmark = pytest.mark.django_db(transaction=True)

NOW = at(10, 0)
TOMORROW_9 = at(9, 0, day=3)


def outcome(job) -> str:
    try:
        job()
    except Conflict as refusal:
        return refusal.code
    return "booked"


def test_200_concurrent_bookings_for_a_slot_of_10_book_exactly_10():
    hall = make_hall()
    slot = make_slot(make_service(hall, "A"), TOMORROW_9, quota=10)
    citizens = [make_citizen(n, now=NOW) for n in range(200)]

    def book(index: int) -> str:
        return outcome(
            lambda: services.appointment_book(
                citizen=citizens[index], slot=slot, channel="web", now=NOW
            )
        )

    results = Tally(race(200, book))
    assert results == {"booked": 10, "slot_full": 190}
    assert Appointment.objects.filter(slot=slot, state=AppointmentState.BOOKED).count() == 10
    assert SlotPlace.objects.filter(slot=slot, appointment=None).count() == 0
    assert SlotPlace.objects.filter(slot=slot).count() == 10


def test_the_same_citizen_submitting_twice_at_once_books_once():
    hall = make_hall()
    slot = make_slot(make_service(hall, "A"), TOMORROW_9, quota=10)
    citizen = make_citizen(1, now=NOW)

    def book(_: int) -> str:
        return outcome(
            lambda: services.appointment_book(citizen=citizen, slot=slot, channel="web", now=NOW)
        )

    assert Tally(race(8, book)) == {"booked": 1, "already_booked": 7}
    assert Appointment.objects.filter(citizen=citizen).count() == 1


@pytest.mark.parametrize("quota", [10, 1], ids=["places-to-spare", "the-last-place"])
def test_a_retried_request_with_the_same_key_gets_the_same_appointment(quota):
    """With one place, the retries find it claimed by their own first request: they are
    answered with its appointment, not "full". (Claiming the place before the citizen's lock
    failed this on PostgreSQL: a retry that found the place claimed took the citizen's lock
    before the first request did, found no answer yet and said "full".)"""
    hall = make_hall()
    slot = make_slot(make_service(hall, "A"), TOMORROW_9, quota=quota)
    citizen = make_citizen(1, now=NOW)

    def book(_: int) -> int:
        appointment = services.appointment_book(
            citizen=citizen, slot=slot, channel="web", now=NOW, idempotency_key="k-1"
        )
        return appointment.pk

    answers = race(6, book)
    assert len(set(answers)) == 1
    assert Appointment.objects.filter(citizen=citizen).count() == 1
    assert SlotPlace.objects.filter(slot=slot, appointment__isnull=False).count() == 1


def test_one_citizen_booking_five_services_at_once_gets_at_most_three():
    hall = make_hall()
    slots = [make_slot(make_service(hall, p), TOMORROW_9, quota=5) for p in "ABCDE"]
    citizen = make_citizen(1, now=NOW)

    def book(index: int) -> str:
        return outcome(
            lambda: services.appointment_book(
                citizen=citizen, slot=slots[index], channel="web", now=NOW
            )
        )

    assert Tally(race(5, book)) == {"booked": 3, "too_many_appointments": 2}


def test_cancelling_while_others_rush_never_exceeds_the_quota():
    hall = make_hall()
    slot = make_slot(make_service(hall, "A"), TOMORROW_9, quota=3)
    holders = [
        services.appointment_book(
            citizen=make_citizen(n, now=NOW), slot=slot, channel="web", now=NOW
        )
        for n in range(3)
    ]
    rushers = [make_citizen(100 + n, now=NOW) for n in range(30)]

    def act(index: int) -> str:
        if index < 3:
            services.appointment_cancel(appointment=holders[index], now=NOW + timedelta(seconds=1))
            return "cancelled"
        return outcome(
            lambda: services.appointment_book(
                citizen=rushers[index - 3], slot=slot, channel="web", now=NOW + timedelta(seconds=1)
            )
        )

    results = Tally(race(33, act))
    assert results["cancelled"] == 3
    booked = Appointment.objects.filter(slot=slot, state=AppointmentState.BOOKED).count()
    assert booked == results["booked"]
    assert booked <= 3
    assert SlotPlace.objects.filter(slot=slot).count() == 3
    assert SlotPlace.objects.filter(slot=slot, appointment__isnull=False).count() == booked


def test_materialising_the_same_day_from_many_processes_makes_one_set_of_places():
    from datetime import date, time

    from hallq.booking.models import Slot
    from hallq.scheduling.models import SlotTemplate

    service = make_service(make_hall(), "A")
    for hour in (9, 10, 11):
        SlotTemplate.objects.create(
            service=service, weekday=1, start=time(hour, 0), end=time(hour, 30), quota=20
        )

    def materialise(_: int) -> None:
        services.slots_materialise(service=service, dates=[date(2026, 3, 3)])

    race(8, materialise)
    assert Slot.objects.filter(service=service).count() == 3
    assert SlotPlace.objects.filter(slot__service=service).count() == 60
