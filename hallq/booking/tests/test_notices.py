"""Booking writes its notifications to the outbox with the change (§5)."""

from __future__ import annotations

import pytest

from hallq.booking import services
from hallq.booking.tests.factories import make_citizen, make_slot
from hallq.citizens.models import CitizenWechat
from hallq.notifications.models import Notification
from hallq.queueing.tests.factories import at, make_hall, make_service

pytestmark = pytest.mark.django_db

NOW = at(10, 0)


def kinds() -> list[str]:
    return list(Notification.objects.order_by("pk").values_list("kind", flat=True))


def test_booking_and_cancelling_each_write_one_notification_to_the_citizen():
    slot = make_slot(make_service(make_hall(), "A", name="社保医保"), at(9, 0, day=3), quota=2)
    citizen = make_citizen(7, now=NOW)
    appointment = services.appointment_book(citizen=citizen, slot=slot, channel="web", now=NOW)
    services.appointment_cancel(appointment=appointment, now=NOW)

    assert kinds() == ["booking_confirmed", "booking_cancelled"]
    confirmed = Notification.objects.get(kind="booking_confirmed")
    assert confirmed.mobile == "13800000007"
    assert confirmed.data["service"] == "社保医保"
    assert confirmed.data["time"] == "3月3日 09:00"
    assert "110101" not in str(confirmed.data)  # never an ID number


def test_a_refused_booking_writes_nothing():
    slot = make_slot(make_service(make_hall(), "A"), at(9, 0, day=3), quota=1)
    services.appointment_book(citizen=make_citizen(1, now=NOW), slot=slot, channel="web", now=NOW)
    with pytest.raises(services.SlotFull):
        services.appointment_book(
            citizen=make_citizen(2, now=NOW), slot=slot, channel="web", now=NOW
        )
    assert kinds() == ["booking_confirmed"]


def test_the_reminder_goes_once_on_the_day_an_hour_before():
    slot = make_slot(make_service(make_hall(), "A"), at(9, 0, day=3), quota=1)
    services.appointment_book(citizen=make_citizen(1, now=NOW), slot=slot, channel="web", now=NOW)
    assert services.appointments_remind(now=at(7, 59, day=3)) == 0
    assert services.appointments_remind(now=at(8, 0, day=3)) == 1
    assert services.appointments_remind(now=at(8, 5, day=3)) == 0
    assert kinds() == ["booking_confirmed", "booking_reminder"]


def test_no_shows_are_told_and_the_third_blacklists_with_a_notice():
    service = make_service(make_hall(), "A")
    citizen = make_citizen(1, now=NOW)
    for day in (3, 4, 5):
        slot = make_slot(service, at(9, 0, day=day), quota=1)
        services.appointment_book(
            citizen=citizen, slot=slot, channel="web", now=at(10, 0, day=day - 1)
        )
        services.appointments_mark_no_shows(now=at(12, 0, day=day))
    assert kinds().count("appointment_no_show") == 3
    blacklisted = Notification.objects.get(kind="blacklisted")
    assert blacklisted.data == {"until": "2026年6月3日"}


def test_the_confirmation_and_the_reminder_go_to_the_latest_bound_wechat():
    slot = make_slot(make_service(make_hall(), "A"), at(9, 0, day=3), quota=1)
    citizen = make_citizen(1, now=NOW)
    CitizenWechat.objects.create(openid="o-old", citizen=citizen, bound_at=at(8, 0))
    CitizenWechat.objects.create(openid="o-new", citizen=citizen, bound_at=at(9, 0))
    services.appointment_book(citizen=citizen, slot=slot, channel="web", now=NOW)
    services.appointments_remind(now=at(8, 0, day=3))

    sent = Notification.objects.order_by("pk").values_list("kind", "openid", "mobile")
    assert list(sent) == [
        ("booking_confirmed", "o-new", "13800000001"),
        ("booking_reminder", "o-new", "13800000001"),
    ]
