"""The queue pushes with several workers at once, and after a crash: nothing twice, nothing lost.

Real threads, each with its own database connection, released together by a barrier."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from hallq.common import clock
from hallq.common.errors import Conflict
from hallq.common.testing import race
from hallq.notifications.models import Notification
from hallq.officialaccount import pushes
from hallq.officialaccount.callback import callback_message_handle
from hallq.officialaccount.models import CallbackReceipt, PushCursor
from hallq.officialaccount.pushes import queue_pushes_run, run_queue_pushes
from hallq.officialaccount.services import ticket_bind, ticket_scene
from hallq.queueing import services as queue
from hallq.queueing.models import Channel, Ticket
from hallq.queueing.tests.factories import make_counter, make_hall, make_service
from hallq.realtime.models import HallEventCounter

HALLS = 3
TICKETS = 8


def busy_halls() -> None:
    """Three halls, each with eight bound tickets of which six have been called."""
    for number in range(HALLS):
        hall = make_hall(f"大厅{number}")
        service = make_service(hall, "A")
        counter = make_counter(hall, 1, [service])
        for index in range(TICKETS):
            ticket = queue.ticket_issue(
                hall=hall, service=service, channel=Channel.KIOSK, now=clock.now()
            )
            ticket_bind(ticket_id=ticket.pk, openid=f"o_{number}_{index}", now=clock.now())
        for _ in range(6):
            queue.counter_call_next(counter_id=counter.pk, now=clock.now())
            queue.counter_start(counter_id=counter.pk, now=clock.now())


def expected_kinds() -> dict[str, int]:
    # Per hall: 8 pre-calls (4 at binding; A005 and A006, called before any worker ran, get
    # theirs just before their call; A007 and A008 now near the head), 6 calls, 5 evaluations
    # (the sixth is still being served).
    return {"pre_call": 8 * HALLS, "call": 6 * HALLS, "evaluation": 5 * HALLS}


def kinds() -> dict[str, int]:
    tally: dict[str, int] = {}
    for kind in Notification.objects.values_list("kind", flat=True):
        tally[kind] = tally.get(kind, 0) + 1
    return tally


@pytest.mark.django_db(transaction=True)
def test_four_workers_at_once_enqueue_every_push_once():
    busy_halls()
    barrier = threading.Barrier(4)

    def work(_: int) -> int:
        try:
            barrier.wait(timeout=30)
            return queue_pushes_run(now=clock.now())
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=4) as pool:
        enqueued = sum(pool.map(work, range(4)))

    # The pre-calls at binding were enqueued before; the workers enqueued the rest, once.
    assert kinds() == expected_kinds()
    assert enqueued == Notification.objects.count() - 4 * HALLS
    for cursor in PushCursor.objects.all():
        assert cursor.last_seq == HallEventCounter.objects.get(hall=cursor.hall).last_seq


@pytest.mark.django_db
def test_a_worker_that_fails_midway_loses_nothing(monkeypatch):
    busy_halls()
    real_enqueue = pushes.notification_enqueue
    calls = {"count": 0}

    def enqueue_then_crash(**arguments):
        calls["count"] += 1
        if calls["count"] == 3:
            raise RuntimeError("the worker died")
        return real_enqueue(**arguments)

    monkeypatch.setattr(pushes, "notification_enqueue", enqueue_then_crash)
    with pytest.raises(RuntimeError):
        queue_pushes_run(now=clock.now())
    # Its transaction rolled back: the cursor did not move past what it did not enqueue.
    assert Notification.objects.count() == 4 * HALLS
    assert set(PushCursor.objects.values_list("last_seq", flat=True)) == {0}

    monkeypatch.undo()
    queue_pushes_run(now=clock.now())
    assert kinds() == expected_kinds()


@pytest.mark.django_db(transaction=True)
def test_two_wechat_users_scanning_one_ticket_at_once_bind_it_to_one(small_hall):
    [ticket] = small_hall.issue()

    def scan(index: int) -> str:
        try:
            ticket_bind(ticket_id=ticket.pk, openid=f"o_user_{index}", now=clock.now())
        except Conflict as refused:
            return refused.code
        return "bound"

    outcomes = race(2, scan)
    assert sorted(outcomes) == ["bound", "ticket_bound_elsewhere"]
    winner = f"o_user_{outcomes.index('bound')}"
    assert Ticket.objects.get(pk=ticket.pk).owner_openid == winner
    assert list(Notification.objects.values_list("kind", "openid")) == [("pre_call", winner)]


@pytest.mark.django_db(transaction=True)
def test_a_redelivery_arriving_while_the_first_is_handled_does_nothing(small_hall):
    [ticket] = small_hall.issue()
    message = {
        "ToUserName": "gh_hallq_test",
        "FromUserName": "o_user_1",
        "CreateTime": "1800000000",
        "MsgType": "event",
        "Event": "SCAN",
        "EventKey": ticket_scene(ticket.pk),
    }

    replies = race(3, lambda _: callback_message_handle(message=message, now=clock.now()))

    assert sorted(replies, key=str) == [None, None, "已绑定 A001 号，叫号前将提醒您"]
    assert CallbackReceipt.objects.count() == 1
    assert Notification.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_pushes_loop_enqueues_a_call_within_a_second(small_hall):
    [ticket] = small_hall.issue()
    ticket_bind(ticket_id=ticket.pk, openid="o_user_1", now=clock.now())
    stop = threading.Event()
    loop = threading.Thread(target=run_queue_pushes, args=(stop,))
    loop.start()
    try:
        small_hall.call()
        deadline = time.monotonic() + 1
        while not Notification.objects.filter(kind="call").exists():
            assert time.monotonic() < deadline, "no call notification within a second"
            time.sleep(0.05)
    finally:
        stop.set()
        loop.join(timeout=5)
    assert not loop.is_alive()
