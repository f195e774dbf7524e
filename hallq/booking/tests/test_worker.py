"""The worker runs every app's registered job; booking's jobs do their work through it."""

from __future__ import annotations

import pytest

from hallq.booking.models import AppointmentState
from hallq.booking.services import appointment_book
from hallq.booking.tests.factories import make_citizen, make_slot
from hallq.common import clock, worker
from hallq.queueing.tests.factories import at, make_hall, make_service

pytestmark = pytest.mark.django_db(transaction=True)


def test_every_app_registers_its_periodic_jobs():
    assert {job.name for job in worker.registered()} >= {
        "tickets_expire",
        "appointments_mark_no_shows",
        "appointments_settle",
        "slots_prepare",
    }


def test_a_worker_round_marks_no_shows(monkeypatch):
    service = make_service(make_hall(), "A")
    slot = make_slot(service, at(9, 0, day=3), quota=1)
    appointment = appointment_book(
        citizen=make_citizen(1, now=at(10)), slot=slot, channel="web", now=at(10)
    )
    monkeypatch.setattr(clock, "now", lambda: at(12, 0, day=3))

    results = worker.run_once()

    assert results["appointments_mark_no_shows"] == 1
    appointment.refresh_from_db()
    assert appointment.state == AppointmentState.NO_SHOW
