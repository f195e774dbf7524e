"""Queue services against the real database (run on SQLite and on PostgreSQL)."""

from __future__ import annotations

import pytest

from hallq.common.errors import Conflict, InvalidInput
from hallq.halls.models import Counter, CounterState
from hallq.queueing import services
from hallq.queueing.domain.calling import choose_next
from hallq.queueing.domain.model import TicketKind
from hallq.queueing.models import Channel, Ticket, TicketState
from hallq.queueing.selectors import counter_policy, queue_snapshot, waiting_tickets
from hallq.queueing.tests.factories import at, make_counter, make_hall, make_service
from hallq.realtime.models import Event

pytestmark = pytest.mark.django_db

KIOSK = Channel.KIOSK


@pytest.fixture
def hall():
    return make_hall()


@pytest.fixture
def service_a(hall):
    return make_service(hall, "A", "综合业务")


@pytest.fixture
def service_b(hall):
    return make_service(hall, "B", "社保医保")


def issue(hall, service, moment, **kwargs):
    return services.ticket_issue(hall=hall, service=service, channel=KIOSK, now=moment, **kwargs)


def test_numbers_run_per_service_and_restart_each_hall_local_day(hall, service_a, service_b):
    first = issue(hall, service_a, at(9))
    second = issue(hall, service_a, at(9, 1))
    other = issue(hall, service_b, at(9, 2))
    # 23:59 and 00:01 Shanghai time are different service days even though both are 2 March UTC.
    late = issue(hall, service_a, at(23, 59))
    next_day = issue(hall, service_a, at(0, 1, day=3))
    assert [first.number, second.number, other.number, late.number, next_day.number] == [
        "A001",
        "A002",
        "B001",
        "A003",
        "A001",
    ]
    assert next_day.service_date.isoformat() == "2026-03-03"


def test_issue_reports_people_ahead_and_an_estimate_from_open_counters(hall, service_a):
    make_counter(hall, 1, [service_a])
    make_counter(hall, 2, [service_a])
    tickets = [issue(hall, service_a, at(9, i)) for i in range(5)]
    assert [t.people_ahead_at_issue for t in tickets] == [0, 1, 2, 3, 4]
    # Two idle counters take the first two at once; the fifth waits (4-2)/2 rounds + half.
    assert [t.estimated_wait_at_issue for t in tickets] == [0, 0, 150, 300, 450]


def test_without_an_open_counter_there_is_no_estimate(hall, service_a):
    make_counter(hall, 1, [service_a], state=CounterState.CLOSED)
    assert issue(hall, service_a, at(9)).estimated_wait_at_issue is None


def test_call_next_follows_the_calling_order_across_the_counters_services(
    hall, service_a, service_b
):
    counter = make_counter(hall, 1, [service_a, service_b])
    b1 = issue(hall, service_b, at(9, 0))
    a1 = issue(hall, service_a, at(9, 1))
    early = issue(hall, service_a, at(9, 2), kind=TicketKind.APPOINTMENT, slot_start=at(11))
    due = issue(hall, service_a, at(9, 3), kind=TicketKind.APPOINTMENT, slot_start=at(9, 30))
    called = []
    for minute in range(40, 45):
        ticket = services.counter_call_next(counter_id=counter.pk, now=at(9, minute))
        if ticket is None:
            break
        called.append(ticket.number)
        services.counter_start(counter_id=counter.pk, now=at(9, minute))
    assert called == [due.number, b1.number, a1.number, early.number]


def test_call_next_finishes_the_ticket_being_served_and_learns_its_service_time(hall, service_a):
    counter = make_counter(hall, 1, [service_a])
    first, second = issue(hall, service_a, at(9)), issue(hall, service_a, at(9))
    services.counter_call_next(counter_id=counter.pk, now=at(9, 1))
    services.counter_start(counter_id=counter.pk, now=at(9, 2))
    called = services.counter_call_next(counter_id=counter.pk, now=at(9, 6))
    first.refresh_from_db()
    assert called is not None
    assert called.pk == second.pk
    assert first.state == TicketState.DONE
    assert first.service_seconds == 240


def test_call_next_refuses_while_the_current_ticket_is_only_called(hall, service_a):
    counter = make_counter(hall, 1, [service_a])
    issue(hall, service_a, at(9))
    issue(hall, service_a, at(9))
    services.counter_call_next(counter_id=counter.pk, now=at(9, 1))
    with pytest.raises(Conflict) as refused:
        services.counter_call_next(counter_id=counter.pk, now=at(9, 2))
    assert refused.value.code == "ticket_still_called"
    assert Ticket.objects.filter(state=TicketState.CALLED).count() == 1


def test_nobody_waiting_gives_none_and_changes_nothing(hall, service_a):
    counter = make_counter(hall, 1, [service_a])
    events = Event.objects.count()
    assert services.counter_call_next(counter_id=counter.pk, now=at(9)) is None
    assert Event.objects.count() == events


def test_a_paused_or_closed_counter_cannot_call(hall, service_a):
    counter = make_counter(hall, 1, [service_a])
    issue(hall, service_a, at(9))
    services.counter_pause(counter_id=counter.pk, now=at(9))
    with pytest.raises(Conflict) as paused:
        services.counter_call_next(counter_id=counter.pk, now=at(9, 1))
    assert paused.value.code == "counter_paused"
    services.counter_resume(counter_id=counter.pk, now=at(9, 2))
    assert services.counter_call_next(counter_id=counter.pk, now=at(9, 3)) is not None
    closed = make_counter(hall, 2, [service_a], state=CounterState.CLOSED)
    with pytest.raises(Conflict):
        services.counter_call_next(counter_id=closed.pk, now=at(9, 4))
    assert Ticket.objects.filter(state=TicketState.WAITING).count() == 0


def test_recall_is_limited(hall, service_a, settings):
    settings.HALLQ_RECALL_LIMIT = 2
    counter = make_counter(hall, 1, [service_a])
    issue(hall, service_a, at(9))
    services.counter_call_next(counter_id=counter.pk, now=at(9, 1))
    assert services.counter_recall(counter_id=counter.pk, now=at(9, 2)).recall_count == 1
    assert services.counter_recall(counter_id=counter.pk, now=at(9, 3)).recall_count == 2
    with pytest.raises(Conflict) as refused:
        services.counter_recall(counter_id=counter.pk, now=at(9, 4))
    assert refused.value.code == "recall_limit"


def test_no_show_then_reinstate_puts_the_ticket_at_the_head_of_its_queue(hall, service_a):
    counter = make_counter(hall, 1, [service_a])
    missed = issue(hall, service_a, at(9))
    later = [issue(hall, service_a, at(9, m)) for m in (1, 2)]
    services.counter_call_next(counter_id=counter.pk, now=at(9, 5))
    services.counter_no_show(counter_id=counter.pk, now=at(9, 8))
    missed.refresh_from_db()
    assert missed.state == TicketState.NO_SHOW
    services.ticket_reinstate(ticket=missed, now=at(9, 20))
    again = services.counter_call_next(counter_id=counter.pk, now=at(9, 21))
    assert again is not None
    assert again.pk == missed.pk
    assert all(
        t.state == TicketState.WAITING for t in Ticket.objects.filter(pk__in=[t.pk for t in later])
    )


def test_only_a_no_show_can_be_reinstated(hall, service_a):
    ticket = issue(hall, service_a, at(9))
    with pytest.raises(Conflict):
        services.ticket_reinstate(ticket=ticket, now=at(9, 1))


def test_transfer_keeps_the_place_by_original_issue_time(hall, service_a, service_b):
    counter_a = make_counter(hall, 1, [service_a])
    counter_b = make_counter(hall, 2, [service_b])
    moved = issue(hall, service_a, at(9, 0))
    waiting_b = issue(hall, service_b, at(9, 10))
    services.counter_call_next(counter_id=counter_a.pk, now=at(9, 20))
    services.counter_start(counter_id=counter_a.pk, now=at(9, 21))
    moved.refresh_from_db()
    successor = services.ticket_transfer(ticket=moved, service=service_b, now=at(9, 25))
    moved.refresh_from_db()
    assert moved.state == TicketState.TRANSFERRED
    assert successor.number == "B002"
    assert successor.transferred_from_id == moved.pk
    # Issued at 9:00, it goes before B001 issued at 9:10.
    called = services.counter_call_next(counter_id=counter_b.pk, now=at(9, 30))
    assert called is not None
    assert called.pk == successor.pk
    assert waiting_b.pk != called.pk
    # Counter A is free again.
    assert services.counter_call_next(counter_id=counter_a.pk, now=at(9, 31)) is None


def test_transfer_can_join_the_back_of_the_queue_instead(hall, service_a, service_b):
    make_counter(hall, 2, [service_b])
    moved = issue(hall, service_a, at(9, 0))
    issue(hall, service_b, at(9, 10))
    successor = services.ticket_transfer(
        ticket=moved, service=service_b, now=at(9, 25), keep_place=False
    )
    assert successor.queue_time == at(9, 25)


def test_transfer_to_another_halls_service_is_refused_and_changes_nothing(hall, service_a):
    other = make_service(make_hall("另一个大厅"), "B")
    ticket = issue(hall, service_a, at(9))
    with pytest.raises(InvalidInput):
        services.ticket_transfer(ticket=ticket, service=other, now=at(9, 1))
    ticket.refresh_from_db()
    assert ticket.state == TicketState.WAITING


def test_end_of_day_expires_waiting_and_called_tickets_of_earlier_days(hall, service_a):
    counter = make_counter(hall, 1, [service_a])
    called = issue(hall, service_a, at(16))
    waiting = issue(hall, service_a, at(16, 30))
    services.counter_call_next(counter_id=counter.pk, now=at(17))
    today = issue(hall, service_a, at(8, day=3))
    assert services.tickets_expire(now=at(8, 1, day=3)) == 2
    assert services.tickets_expire(now=at(8, 2, day=3)) == 0
    states = dict(Ticket.objects.values_list("pk", "state"))
    assert states[called.pk] == states[waiting.pk] == TicketState.EXPIRED
    assert states[today.pk] == TicketState.WAITING
    next_call = services.counter_call_next(counter_id=counter.pk, now=at(8, 3, day=3))
    assert next_call is not None
    assert next_call.pk == today.pk


def test_every_change_writes_one_event_numbered_without_holes_per_hall(hall, service_a):
    counter = make_counter(hall, 1, [service_a])
    other_hall = make_hall("另一个大厅")
    issue(other_hall, make_service(other_hall, "A"), at(9))
    issue(hall, service_a, at(9))
    services.counter_call_next(counter_id=counter.pk, now=at(9, 1))
    services.counter_recall(counter_id=counter.pk, now=at(9, 2))
    services.counter_start(counter_id=counter.pk, now=at(9, 3))
    services.counter_finish(counter_id=counter.pk, now=at(9, 4))
    services.counter_pause(counter_id=counter.pk, now=at(9, 5))
    events = Event.objects.filter(hall=hall).order_by("seq")
    assert [(e.seq, e.kind, e.payload["state"]) for e in events] == [
        (1, "ticket.issued", "waiting"),
        (2, "ticket.called", "called"),
        (3, "ticket.recalled", "called"),
        (4, "ticket.serving", "serving"),
        (5, "ticket.done", "done"),
        (6, "counter.paused", "paused"),
    ]
    assert events[2].payload["recall_count"] == 1
    assert list(Event.objects.filter(hall=other_hall).values_list("seq", flat=True)) == [1]


def test_calling_next_numbers_the_call_before_the_finish_it_follows(hall, service_a):
    counter = make_counter(hall, 1, [service_a])
    first = issue(hall, service_a, at(9))
    second = issue(hall, service_a, at(9, 1))
    services.counter_call_next(counter_id=counter.pk, now=at(9, 2))
    services.counter_start(counter_id=counter.pk, now=at(9, 3))

    services.counter_call_next(counter_id=counter.pk, now=at(9, 10))

    last_two = Event.objects.filter(hall=hall).order_by("-seq")[:2]
    assert [(e.kind, e.ticket_id, e.created_at) for e in reversed(last_two)] == [
        ("ticket.called", second.pk, at(9, 10)),
        ("ticket.done", first.pk, at(9, 10)),
    ]


def test_counter_cannot_close_with_a_ticket_at_it(hall, service_a):
    counter = make_counter(hall, 1, [service_a])
    issue(hall, service_a, at(9))
    services.counter_call_next(counter_id=counter.pk, now=at(9, 1))
    with pytest.raises(Conflict):
        services.counter_close(counter_id=counter.pk, now=at(9, 2))
    services.counter_finish(counter_id=counter.pk, now=at(9, 3))
    services.counter_close(counter_id=counter.pk, now=at(9, 4))
    assert Counter.objects.get(pk=counter.pk).state == CounterState.CLOSED


def test_interleave_setting_is_applied_by_the_counter(hall, service_a):
    counter = make_counter(hall, 1, [service_a], interleave_after=1)
    walk_in = issue(hall, service_a, at(8))
    appointments = [
        issue(hall, service_a, at(8, m), kind=TicketKind.APPOINTMENT, slot_start=at(9))
        for m in (1, 2)
    ]
    called = []
    for minute in range(3):
        ticket = services.counter_call_next(counter_id=counter.pk, now=at(9, 10 + minute))
        assert ticket is not None
        called.append(ticket.pk)
        services.counter_start(counter_id=counter.pk, now=at(9, 10 + minute))
    assert called == [appointments[0].pk, walk_in.pk, appointments[1].pk]


def test_people_ahead_at_issue_agrees_with_the_live_queue(hall, service_a):
    counter = make_counter(hall, 1, [service_a])
    missed = issue(hall, service_a, at(9, 0))
    services.counter_call_next(counter_id=counter.pk, now=at(9, 1))
    services.counter_no_show(counter_id=counter.pk, now=at(9, 2))
    services.ticket_reinstate(ticket=missed, now=at(9, 3))
    issue(hall, service_a, at(9, 4), kind=TicketKind.APPOINTMENT, slot_start=at(9, 5))  # due
    issue(hall, service_a, at(9, 6), kind=TicketKind.APPOINTMENT, slot_start=at(11))  # early
    issue(hall, service_a, at(9, 7))
    new = issue(hall, service_a, at(9, 10))
    live = queue_snapshot(hall=hall, now=at(9, 10))
    assert new.people_ahead_at_issue == live.people_ahead(new.pk) == 3


def test_calling_from_the_heads_of_the_queues_matches_the_domain_over_the_whole_queue(
    hall, service_a, service_b
):
    # A counter reads only the head of each service's walk-ins; the order it calls in must be
    # exactly what the domain gives over the whole queue, interleave and priority included.
    counter = make_counter(
        hall, 1, [service_b, service_a], use_service_priority=True, interleave_after=2
    )
    for minute in range(12):
        issue(hall, service_a if minute % 3 else service_b, at(8, minute))
    for minute in (20, 21, 22, 23):
        slot = at(9) if minute % 2 else at(12)
        issue(hall, service_a, at(8, minute), kind=TicketKind.APPOINTMENT, slot_start=slot)
    now = at(9, 30)
    remaining = waiting_tickets(hall_id=hall.pk, service_date=now.date(), service_ids=None)
    policy = counter_policy(counter)
    expected, streak = [], 0
    while (choice := choose_next(remaining, now, policy, streak)) is not None:
        expected.append(choice.ticket.id)
        streak = choice.priority_streak_after
        remaining = [t for t in remaining if t.id != choice.ticket.id]
    called = []
    while (ticket := services.counter_call_next(counter_id=counter.pk, now=now)) is not None:
        called.append(ticket.pk)
        services.counter_start(counter_id=counter.pk, now=now)
    assert called == expected
    assert len(called) == 16


def test_start_and_no_show_store_the_event_their_answer_announces(hall, service_a):
    # On PostgreSQL the stored payload is built in SQL (migration 0008), the announced one in
    # Python (services.ticket_payload): replay after a reconnect must show the same.
    counter = make_counter(hall, 7, [service_a])
    Counter.objects.filter(pk=counter.pk).update(name='七号窗口 "综合"')
    issue(hall, service_a, at(9))
    issue(hall, service_a, at(9, 1))

    def as_stored(answer: Ticket, kind: str) -> None:
        event = Event.objects.get(hall=hall, kind=kind, ticket_id=answer.pk)
        assert event.payload == services.ticket_payload(answer)
        assert (event.counter_id, event.service_id) == (counter.pk, service_a.pk)
        stored = Ticket.objects.get(pk=answer.pk)
        assert (stored.state, stored.serving_at, stored.finished_at, stored.counter_id) == (
            answer.state,
            answer.serving_at,
            answer.finished_at,
            answer.counter_id,
        )

    services.counter_call_next(counter_id=counter.pk, now=at(9, 2))
    services.counter_recall(counter_id=counter.pk, now=at(9, 3))
    started = services.counter_start(counter_id=counter.pk, now=at(9, 4))
    as_stored(started, "ticket.serving")
    assert started.counter is not None
    assert (started.state, started.serving_at, started.recall_count, started.counter.name) == (
        TicketState.SERVING,
        at(9, 4),
        1,
        '七号窗口 "综合"',
    )

    services.counter_call_next(counter_id=counter.pk, now=at(9, 10))
    missed = services.counter_no_show(counter_id=counter.pk, now=at(9, 15))
    as_stored(missed, "ticket.no_show")
    assert missed.state == TicketState.NO_SHOW
    assert (missed.finished_at, missed.serving_at) == (at(9, 15), None)
    with pytest.raises(Conflict) as refused:
        services.counter_start(counter_id=counter.pk, now=at(9, 16))
    assert refused.value.code == "no_ticket"
