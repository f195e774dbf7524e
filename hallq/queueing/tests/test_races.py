"""Races with real threads on the real database: numbering and calling never collide.

Each thread has its own database connection, as separate web processes would; a barrier
releases them together so the transactions really overlap.
"""

from __future__ import annotations

import threading
import time
from collections import Counter as Tally
from datetime import timedelta

import pytest
from django.db import connection, transaction

from hallq.common import clock
from hallq.common.errors import Conflict
from hallq.common.testing import race
from hallq.halls.models import CounterState
from hallq.queueing import services
from hallq.queueing.models import Channel, Ticket, TicketState
from hallq.queueing.tests.factories import make_counter, make_hall, make_service
from hallq.realtime.models import Event

pytestmark = pytest.mark.django_db(transaction=True)


def test_200_concurrent_issues_get_200_distinct_numbers():
    hall = make_hall()
    service = make_service(hall, "A")
    now = clock.now()

    def issue(_: int) -> str:
        ticket = services.ticket_issue(hall=hall, service=service, channel=Channel.KIOSK, now=now)
        return ticket.number

    numbers = race(200, issue)
    assert sorted(numbers) == [f"A{n:03d}" for n in range(1, 201)]
    assert Ticket.objects.count() == 200
    seqs = sorted(Event.objects.filter(hall=hall).values_list("seq", flat=True))
    assert seqs == list(range(1, 201))


def test_10_counters_calling_at_once_never_share_a_ticket():
    hall = make_hall()
    service = make_service(hall, "A")
    counters = [make_counter(hall, n, [service], state=CounterState.OPEN) for n in range(1, 11)]
    # Issued a moment before the calls, on the same hall-local day whatever the time of day.
    start = clock.now()
    for order in range(150):
        services.ticket_issue(
            hall=hall,
            service=service,
            channel=Channel.KIOSK,
            now=start - timedelta(microseconds=150 - order),
        )

    def work(index: int) -> list[int]:
        counter_id = counters[index].pk
        called: list[int] = []
        while True:
            ticket = services.counter_call_next(counter_id=counter_id, now=clock.now())
            if ticket is None:
                return called
            assert ticket.counter_id == counter_id
            called.append(ticket.pk)
            services.counter_start(counter_id=counter_id, now=clock.now())
            time.sleep(0.002)  # serving takes a moment; without it one thread may hog SQLite

    per_counter = race(10, work)
    everything = [ticket for called in per_counter for ticket in called]
    assert len(everything) == 150
    assert len(set(everything)) == 150
    # The contention was real: several counters got work.
    assert sum(1 for called in per_counter if called) >= 2
    called_events = Tally(
        Event.objects.filter(hall=hall, kind="ticket.called").values_list("ticket_id", flat=True)
    )
    assert set(called_events.values()) == {1}
    assert Ticket.objects.filter(state=TicketState.WAITING).count() == 0


def test_two_clicks_on_one_counter_call_one_ticket_and_refuse_the_other():
    hall = make_hall()
    service = make_service(hall, "A")
    counter = make_counter(hall, 1, [service], state=CounterState.OPEN)
    for _ in range(5):
        services.ticket_issue(hall=hall, service=service, channel=Channel.KIOSK, now=clock.now())

    def click(_: int) -> str:
        try:
            ticket = services.counter_call_next(counter_id=counter.pk, now=clock.now())
            return ticket.number if ticket else "none"
        except Conflict as refused:
            return refused.code

    outcomes = sorted(race(8, click))
    assert outcomes == ["A001"] + ["ticket_still_called"] * 7


@pytest.mark.skipif(
    not connection.features.has_select_for_update_skip_locked,
    reason="SQLite runs one write transaction at a time: there is no other caller to pass over",
)
def test_a_counter_passes_over_the_ticket_another_counter_is_calling_instead_of_waiting():
    hall = make_hall()
    service = make_service(hall, "A")
    first, second = (make_counter(hall, n, [service], state=CounterState.OPEN) for n in (1, 2))
    for _ in range(3):
        services.ticket_issue(hall=hall, service=service, channel=Channel.KIOSK, now=clock.now())
    deciding, done = threading.Event(), threading.Event()

    def first_counter_deciding() -> None:
        # What the first counter's call holds while it decides: the head, locked.
        try:
            with transaction.atomic():
                head = Ticket.objects.select_for_update(no_key=True).get(hall=hall, number="A001")
                assert head.state == TicketState.WAITING
                deciding.set()
                done.wait(timeout=30)
        finally:
            connection.close()

    holder = threading.Thread(target=first_counter_deciding)
    holder.start()
    assert deciding.wait(timeout=30)
    answers: list[str] = []

    def second_counter_calls() -> None:
        try:
            ticket = services.counter_call_next(counter_id=second.pk, now=clock.now())
            answers.append(ticket.number if ticket else "none")
        finally:
            connection.close()

    caller = threading.Thread(target=second_counter_calls)
    caller.start()
    caller.join(timeout=20)
    finished_while_held = not caller.is_alive()
    done.set()
    holder.join()
    caller.join()

    assert finished_while_held, "the second counter waited for the first one's decision"
    assert answers == ["A002"]
    # The head was only being looked at: the first counter still gets it.
    ticket = services.counter_call_next(counter_id=first.pk, now=clock.now())
    assert ticket is not None
    assert ticket.number == "A001"
