"""The queue's SQL shortcuts agree with the domain's rules they stand for, on any queue."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hallq.common.testing import prepared_plans
from hallq.halls.models import Counter
from hallq.queueing import services as queue_services
from hallq.queueing.domain.calling import choose_next, people_ahead
from hallq.queueing.domain.estimates import estimate_wait_seconds
from hallq.queueing.domain.model import CounterPolicy, TicketKind, WaitingTicket
from hallq.queueing.models import Ticket, TicketSequence, TicketState
from hallq.queueing.selectors import (
    as_waiting,
    call_candidates,
    counter_at_work,
    counter_at_work_and_candidates,
    waiting_tickets,
    walk_in_position,
)
from hallq.queueing.services import UNSAVED_TICKET_ID
from hallq.queueing.tests.factories import at, make_counter, make_hall, make_service
from hallq.realtime.models import Event

pytestmark = pytest.mark.django_db

NOW = at(10)

# One waiting ticket: its service (0 or 1), kind, minutes since it joined (a few in the future
# too), where its slot starts relative to now, and whether staff reinstated it.
tickets = st.lists(
    st.tuples(
        st.integers(0, 1),
        st.sampled_from(list(TicketKind)),
        st.integers(-3, 120),
        st.one_of(st.none(), st.integers(-60, 60)),
        st.booleans(),
    ),
    max_size=25,
)
EXAMPLES = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture
def queue():
    hall = make_hall()
    services = [make_service(hall, "A"), make_service(hall, "B")]

    def fill(rows: list[tuple[int, TicketKind, int, int | None, bool]]) -> None:
        Ticket.objects.all().delete()
        for sequence, (service, kind, minutes_ago, slot, reinstated) in enumerate(rows, 1):
            joined = NOW - timedelta(minutes=minutes_ago)
            Ticket.objects.create(
                hall=hall,
                service=services[service],
                service_date=NOW.date(),
                sequence=sequence,
                number=f"X{sequence:03d}",
                kind=kind,
                channel="kiosk",
                state=TicketState.WAITING,
                issued_at=joined,
                queue_time=joined,
                slot_start=NOW + timedelta(minutes=slot) if slot is not None else None,
                checked_in_at=joined if kind is TicketKind.APPOINTMENT else None,
                reinstated_at=NOW - timedelta(minutes=1) if reinstated else None,
            )

    return hall, services, fill


@EXAMPLES
@given(rows=tickets)
def test_people_ahead_of_a_new_walk_in_is_the_domains_count(queue, rows):
    hall, services, fill = queue
    fill(rows)
    service = services[0]
    waiting = waiting_tickets(hall_id=hall.pk, service_date=NOW.date(), service_ids=[service.pk])
    newcomer = WaitingTicket(
        id=UNSAVED_TICKET_ID, service_id=service.pk, kind=TicketKind.WALK_IN, queue_time=NOW
    )

    ahead, count = walk_in_position(
        hall_id=hall.pk, service_id=service.pk, service_date=NOW.date(), now=NOW
    )

    assert (ahead, count) == (people_ahead(newcomer, waiting, NOW), len(waiting))


@EXAMPLES
@given(rows=tickets, open_counters=st.integers(0, 3))
def test_a_walk_in_is_issued_with_the_domains_count_and_estimate(queue, rows, open_counters):
    """Whichever way the database issues it (one statement on PostgreSQL, migration 0005), a
    new walk-in gets the number after the last, the domain's people ahead and estimate, and an
    event that says what its answer says."""
    hall, services, fill = queue
    fill(rows)
    service = services[0]
    TicketSequence.objects.update_or_create(
        service=service, service_date=NOW.date(), defaults={"hall": hall, "last_number": len(rows)}
    )
    hall.counters.all().delete()
    for number in range(1, open_counters + 1):
        make_counter(hall, number, [service])
    waiting = waiting_tickets(hall_id=hall.pk, service_date=NOW.date(), service_ids=[service.pk])
    newcomer = WaitingTicket(
        id=UNSAVED_TICKET_ID, service_id=service.pk, kind=TicketKind.WALK_IN, queue_time=NOW
    )
    expected_ahead = people_ahead(newcomer, waiting, NOW)

    ticket = queue_services.ticket_issue(hall=hall, service=service, channel="kiosk", now=NOW)

    stored = Ticket.objects.get(pk=ticket.pk)
    assert (stored.sequence, stored.number) == (len(rows) + 1, f"A{len(rows) + 1:03d}")
    assert stored.people_ahead_at_issue == ticket.people_ahead_at_issue == expected_ahead
    expected_wait = estimate_wait_seconds(expected_ahead, open_counters, 300.0, open_counters)
    assert stored.estimated_wait_at_issue == ticket.estimated_wait_at_issue == expected_wait
    event = Event.objects.get(ticket_id=ticket.pk)
    assert event.kind == "ticket.issued"
    assert event.payload == {
        **queue_services.ticket_payload(ticket),
        "people_ahead": expected_ahead,
    }


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the estimate in SQL exists only on PostgreSQL, for its one-statement walk-in issue",
)
@settings(max_examples=300, deadline=None)
@given(
    ahead=st.integers(0, 2000),
    open_counters=st.integers(-1, 40),
    idle_counters=st.integers(0, 40),
    # Service times are medians of whole seconds weighed in tenths with a configured average:
    # zero or at least a tenth of a second, never a subnormal float.
    seconds=st.one_of(st.just(0.0), st.floats(0.1, 7200)),
)
def test_the_sql_estimate_is_the_domains(ahead, open_counters, idle_counters, seconds):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT hallq_wait_estimate_v1(%s::integer, %s::integer, %s::integer, %s::float8)",
            [ahead, open_counters, idle_counters, seconds],
        )
        (answer,) = cursor.fetchone()
    assert answer == estimate_wait_seconds(ahead, open_counters, seconds, idle_counters)


@EXAMPLES
@given(
    rows=tickets,
    use_priority=st.booleans(),
    interleave=st.one_of(st.none(), st.integers(1, 3)),
    streak=st.integers(0, 3),
)
def test_the_candidates_lead_to_the_same_call_as_the_whole_queue(
    queue, rows, use_priority, interleave, streak
):
    hall, services, fill = queue
    fill(rows)
    policy = CounterPolicy(
        service_ids=(services[1].pk, services[0].pk),
        use_service_priority=use_priority,
        interleave_after=interleave,
    )
    everyone = waiting_tickets(hall_id=hall.pk, service_date=NOW.date())

    candidates = call_candidates(
        hall_id=hall.pk, service_date=NOW.date(), service_ids=policy.service_ids, per_service=1
    )

    expected = choose_next(everyone, NOW, policy, streak)
    assert choose_next([as_waiting(t) for t in candidates], NOW, policy, streak) == expected


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="statements are prepared on PostgreSQL only"
)
def test_the_call_candidates_are_planned_once_not_at_every_call():
    """Planning the candidates cost PostgreSQL ten times their execution (docs/decisions/0006):
    the server must settle on a generic plan. With the per-service limit as a parameter it
    planned every execution again (custom plans only)."""
    hall = make_hall()
    services = [make_service(hall, "A"), make_service(hall, "B")]
    today = NOW.date()
    with connection.cursor() as cursor:  # queues of a busy day, and their statistics
        cursor.execute(
            "INSERT INTO queueing_ticket (hall_id, service_id, service_date, sequence, number, "
            "kind, channel, state, issued_at, queue_time, recall_count, people_ahead_at_issue) "
            "SELECT %s, service_id, %s, n, 'A' || n, 'walk_in', 'kiosk', 'waiting', "
            "now() + n * interval '1 second', now() + n * interval '1 second', 0, n - 1 "
            "FROM unnest(%s::bigint[]) AS service_id, generate_series(1, 500) AS n",
            [hall.pk, today, [service.pk for service in services]],
        )
        cursor.execute("ANALYZE queueing_ticket")

    for _ in range(8):
        call_candidates(
            hall_id=hall.pk,
            service_date=today,
            service_ids=[service.pk for service in services],
            per_service=4,
        )

    ((generic, custom),) = prepared_plans("CROSS JOIN LATERAL")
    assert generic >= 1
    assert custom == 0  # settings: plan_cache_mode=force_generic_plan


def _fields(instance: object) -> dict:
    return {k: v for k, v in vars(instance).items() if not k.startswith("_")}


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the two reads are one statement on PostgreSQL only"
)
@EXAMPLES
@given(rows=tickets, serving=st.booleans())
def test_a_calls_one_read_is_its_two_reads(queue, rows, serving):
    hall, services, fill = queue
    fill(rows)
    Counter.objects.filter(hall=hall).delete()
    counter = make_counter(hall, 1, [services[1], services[0]], priority_streak=2)
    if serving:
        Ticket.objects.create(
            hall=hall,
            service=services[0],
            service_date=NOW.date(),
            sequence=999,
            number="A999",
            channel="kiosk",
            state=TicketState.SERVING,
            counter=counter,
            issued_at=NOW,
            queue_time=NOW,
        )
    service_ids = (services[1].pk, services[0].pk)

    read, current, candidates = counter_at_work_and_candidates(
        counter_id=counter.pk,
        hall_id=hall.pk,
        service_date=NOW.date(),
        service_ids=service_ids,
        per_service=2,
    )

    expected_counter, expected_current = counter_at_work(counter.pk)
    expected = call_candidates(
        hall_id=hall.pk, service_date=NOW.date(), service_ids=service_ids, per_service=2
    )
    assert _fields(read) == _fields(expected_counter)
    assert read.hall == hall
    assert (current and _fields(current)) == (expected_current and _fields(expected_current))
    assert (current is not None) == serving
    by_id = {ticket.pk: _fields(ticket) for ticket in candidates}
    assert len(by_id) == len(candidates)
    assert by_id == {ticket.pk: _fields(ticket) for ticket in expected}


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the two reads are one statement on PostgreSQL only"
)
def test_a_calls_one_read_of_an_unknown_counter_or_one_without_services(queue):
    hall, services, fill = queue
    fill([(0, TicketKind.WALK_IN, 5, None, False), (1, TicketKind.WALK_IN, 3, None, False)])
    counter = make_counter(hall, 1, [])
    read, current, candidates = counter_at_work_and_candidates(
        counter_id=counter.pk,
        hall_id=hall.pk,
        service_date=NOW.date(),
        service_ids=(),
        per_service=2,
    )
    assert (read.pk, current, candidates) == (counter.pk, None, [])
    # Candidates wait, but no counter row comes with them.
    with pytest.raises(Counter.DoesNotExist):
        counter_at_work_and_candidates(
            counter_id=counter.pk + 1,
            hall_id=hall.pk,
            service_date=NOW.date(),
            service_ids=tuple(service.pk for service in services),
            per_service=2,
        )
