"""The queue pushes: which notifications the event log gives, to whom, once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hallq.citizens.models import CitizenWechat
from hallq.citizens.tests.factories import make_citizen
from hallq.common import clock
from hallq.notifications.models import Notification
from hallq.officialaccount.models import PushCursor
from hallq.officialaccount.pushes import counter_label, queue_pushes_run
from hallq.officialaccount.services import (
    ticket_bind,
    ticket_pre_call_distance_set,
)
from hallq.queueing import services as queue
from hallq.queueing.models import Ticket
from hallq.queueing.tests.factories import make_service
from hallq.queueing.tokens import ticket_token
from hallq.realtime.models import HallEventCounter

pytestmark = pytest.mark.django_db

OPENID = "o_citizen_1"


def sent() -> list[tuple]:
    return list(
        Notification.objects.order_by("pk").values_list(
            "kind", "subject_id", "occurrence", "openid", "data"
        )
    )


def test_an_owned_ticket_hears_its_pre_call_once_its_call_and_each_recall(small_hall):
    tickets = small_hall.issue(6)
    mine = tickets[5]
    ticket_bind(ticket_id=mine.pk, openid=OPENID, now=clock.now())
    assert queue_pushes_run(now=clock.now()) == 0

    small_hall.call()  # A001: 4 ahead of A006
    assert queue_pushes_run(now=clock.now()) == 0
    queue.counter_start(counter_id=small_hall.counter.pk, now=clock.now())
    small_hall.call()  # A002: 3 ahead
    assert queue_pushes_run(now=clock.now()) == 1
    assert sent() == [
        ("pre_call", mine.pk, 0, OPENID, {"number": "A006", "service": "社保卡办理", "ahead": "3"})
    ]
    for _ in range(3):  # A003, A004, A005: 2, 1, 0 ahead
        queue.counter_start(counter_id=small_hall.counter.pk, now=clock.now())
        small_hall.call()
    assert queue_pushes_run(now=clock.now()) == 0

    queue.counter_start(counter_id=small_hall.counter.pk, now=clock.now())
    small_hall.call()  # A006
    queue.counter_recall(counter_id=small_hall.counter.pk, now=clock.now())
    queue.counter_recall(counter_id=small_hall.counter.pk, now=clock.now())
    assert queue_pushes_run(now=clock.now()) == 3
    counter = {"number": "A006", "service": "社保卡办理", "counter": "3号窗口 社保"}
    assert sent()[1:] == [
        ("call", mine.pk, 0, OPENID, counter),
        ("recall", mine.pk, 1, OPENID, counter),
        ("recall", mine.pk, 2, OPENID, counter),
    ]

    queue.counter_start(counter_id=small_hall.counter.pk, now=clock.now())
    queue.counter_finish(counter_id=small_hall.counter.pk, now=clock.now())
    assert queue_pushes_run(now=clock.now()) == 1
    assert sent()[-1] == ("evaluation", mine.pk, 0, OPENID, counter)
    assert queue_pushes_run(now=clock.now()) == 0
    cursor = PushCursor.objects.get(hall=small_hall.hall)
    assert cursor.last_seq == HallEventCounter.objects.get(hall=small_hall.hall).last_seq


def test_tickets_nobody_owns_hear_nothing(small_hall):
    small_hall.issue(3)
    small_hall.call()
    queue.counter_recall(counter_id=small_hall.counter.pk, now=clock.now())
    queue.counter_no_show(counter_id=small_hall.counter.pk, now=clock.now())
    assert queue_pushes_run(now=clock.now()) == 0
    assert Notification.objects.count() == 0


def test_binding_a_ticket_already_near_the_head_pre_calls_it_at_once(small_hall):
    _first, second = small_hall.issue(2)
    ticket_bind(ticket_id=second.pk, openid=OPENID, now=clock.now())
    assert sent() == [
        (
            "pre_call",
            second.pk,
            0,
            OPENID,
            {"number": "A002", "service": "社保卡办理", "ahead": "1"},
        )
    ]
    # Binding again (a second scan) sends nothing more.
    ticket_bind(ticket_id=second.pk, openid=OPENID, now=clock.now())
    assert Notification.objects.count() == 1


def test_the_citizens_own_distance_decides_the_pre_call(small_hall):
    tickets = small_hall.issue(8)
    mine = tickets[7]
    ticket_bind(ticket_id=mine.pk, openid=OPENID, now=clock.now())
    assert Notification.objects.count() == 0

    ticket_pre_call_distance_set(ticket_id=mine.pk, distance=6, now=clock.now())
    assert Notification.objects.count() == 0
    small_hall.call()  # 6 ahead
    queue_pushes_run(now=clock.now())
    assert [(kind, data["ahead"]) for kind, _id, _o, _openid, data in sent()] == [("pre_call", "6")]


def test_raising_the_distance_past_the_people_ahead_pre_calls_at_once(small_hall):
    tickets = small_hall.issue(6)
    ticket_bind(ticket_id=tickets[5].pk, openid=OPENID, now=clock.now())
    ticket_pre_call_distance_set(ticket_id=tickets[5].pk, distance=5, now=clock.now())
    assert [kind for kind, *_rest in sent()] == ["pre_call"]


def test_a_no_show_is_told_and_a_reinstated_ticket_is_called_again(small_hall):
    [ticket] = small_hall.issue()
    ticket_bind(ticket_id=ticket.pk, openid=OPENID, now=clock.now())
    small_hall.call()
    queue.counter_no_show(counter_id=small_hall.counter.pk, now=clock.now())
    queue.ticket_reinstate(ticket=Ticket.objects.get(pk=ticket.pk), now=clock.now())
    small_hall.call()
    queue_pushes_run(now=clock.now())
    assert [(kind, occurrence) for kind, _id, occurrence, *_rest in sent()] == [
        ("pre_call", 0),
        ("call", 0),
        ("no_show", 0),
        ("call", 1),
    ]


def test_an_appointment_ticket_reaches_its_citizen_by_their_wechat_and_mobile(small_hall):
    citizen = make_citizen("13812345678")
    CitizenWechat.objects.create(openid="o_citizen_9", citizen=citizen, bound_at=clock.now())
    [ticket] = small_hall.issue()
    # What booking's check-in records on the ticket it issues.
    Ticket.objects.filter(pk=ticket.pk).update(owner_citizen_id=citizen.pk)
    small_hall.call()
    queue_pushes_run(now=clock.now())
    call = Notification.objects.get(kind="call")
    assert (call.openid, call.mobile) == ("o_citizen_9", "13812345678")


def test_a_transferred_ticket_keeps_its_owner(small_hall):
    other = make_service(small_hall.hall, "B", "公积金")
    [ticket] = small_hall.issue()
    ticket_bind(ticket_id=ticket.pk, openid=OPENID, now=clock.now())
    successor = queue.ticket_transfer(
        ticket=Ticket.objects.select_related("hall").get(pk=ticket.pk),
        service=other,
        now=clock.now(),
    )
    queue_pushes_run(now=clock.now())
    assert Ticket.objects.get(pk=successor.pk).owner_openid == OPENID
    assert [(kind, subject) for kind, subject, *_rest in sent()] == [
        ("pre_call", ticket.pk),
        ("pre_call", successor.pk),
    ]


def test_pushes_too_late_to_help_are_not_sent(small_hall):
    [ticket] = small_hall.issue()
    ticket_bind(ticket_id=ticket.pk, openid=OPENID, now=clock.now())
    small_hall.call()
    assert queue_pushes_run(now=clock.now() + timedelta(minutes=11)) == 0
    assert [kind for kind, *_rest in sent()] == ["pre_call"]


def test_a_hall_whose_log_predates_the_pushes_is_read_from_its_cursor(small_hall):
    [ticket] = small_hall.issue()
    ticket_bind(ticket_id=ticket.pk, openid=OPENID, now=clock.now())
    small_hall.call()
    last = HallEventCounter.objects.get(hall=small_hall.hall).last_seq
    PushCursor.objects.create(hall=small_hall.hall, last_seq=last)
    assert queue_pushes_run(now=clock.now()) == 0


def test_a_counter_is_named_by_number_and_by_name_when_it_fits():
    assert counter_label(3, "社保") == "3号窗口 社保"
    assert counter_label(12, "") == "12号窗口"
    assert counter_label(12, "综合受理窗口（社保、医保、公积金）") == "12号窗口"


def test_with_a_public_address_the_message_opens_the_ticket_page(small_hall, settings):
    settings.PUBLIC_URL = "https://hall.example"
    [ticket] = small_hall.issue()
    ticket_bind(ticket_id=ticket.pk, openid=OPENID, now=clock.now())
    [(_kind, _id, _occurrence, _openid, data)] = sent()
    assert data["url"] == f"https://hall.example/t/{ticket.pk}/?token={ticket_token(ticket.pk)}"


def test_a_long_backlog_is_read_in_several_transactions(small_hall):
    tickets = small_hall.issue(4)
    for ticket in tickets:
        ticket_bind(ticket_id=ticket.pk, openid=f"o_{ticket.number}", now=clock.now())
    for _ in range(4):
        small_hall.call()
        queue.counter_start(counter_id=small_hall.counter.pk, now=clock.now())
    assert queue_pushes_run(now=clock.now(), batch=3) == 7  # 4 calls and 3 evaluations
    assert queue_pushes_run(now=clock.now(), batch=3) == 0
    cursor = PushCursor.objects.get(hall=small_hall.hall)
    assert cursor.last_seq == HallEventCounter.objects.get(hall=small_hall.hall).last_seq
