"""The calling order of PRODUCT.md §4.3 and people ahead (§4.5), as plain data: no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from hallq.queueing.domain.calling import (
    calling_order,
    choose_next,
    people_ahead,
    people_ahead_all,
)
from hallq.queueing.domain.model import Band, CounterPolicy, TicketKind, WaitingTicket

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
A, B = 1, 2
BOTH = CounterPolicy(service_ids=(A, B))


def minutes(n: float) -> datetime:
    return NOW + timedelta(minutes=n)


def walk_in(id: int, at: float, service: int = A, kind: TicketKind = TicketKind.WALK_IN):
    return WaitingTicket(id=id, service_id=service, kind=kind, queue_time=minutes(at))


def appointment(id: int, slot: float, checked_in: float, service: int = A):
    return WaitingTicket(
        id=id,
        service_id=service,
        kind=TicketKind.APPOINTMENT,
        queue_time=minutes(checked_in),
        slot_start=minutes(slot),
        checked_in_at=minutes(checked_in),
    )


def ids(tickets: list[WaitingTicket]) -> list[int]:
    return [t.id for t in tickets]


def test_walk_ins_and_remote_tickets_are_first_come_first_served_across_services():
    tickets = [walk_in(1, -5, B), walk_in(2, -9, A), walk_in(3, -7, B, TicketKind.REMOTE)]
    assert ids(calling_order(tickets, NOW, BOTH)) == [2, 3, 1]


def test_due_appointments_come_first_earliest_slot_then_earliest_check_in():
    tickets = [
        walk_in(1, -30),
        appointment(2, slot=-10, checked_in=-20),
        appointment(3, slot=-20, checked_in=-15),
        appointment(4, slot=-10, checked_in=-25),
    ]
    assert ids(calling_order(tickets, NOW, BOTH)) == [3, 4, 2, 1]


def test_an_appointment_whose_slot_starts_exactly_now_is_due():
    assert appointment(1, slot=0, checked_in=-5).band(NOW) is Band.APPOINTMENT_DUE


def test_early_appointment_waits_behind_every_walk_in():
    tickets = [appointment(1, slot=30, checked_in=-40), walk_in(2, -1), walk_in(3, -2)]
    assert ids(calling_order(tickets, NOW, BOTH)) == [3, 2, 1]


def test_early_appointment_is_called_when_no_walk_in_waits_for_that_counter():
    tickets = [appointment(1, slot=30, checked_in=-40), walk_in(2, -1, service=B)]
    only_a = CounterPolicy(service_ids=(A,))
    choice = choose_next(tickets, NOW, only_a)
    assert choice is not None
    assert choice.ticket.id == 1
    assert choice.priority is False


def test_reinstated_no_show_goes_to_the_head_of_its_queue():
    reinstated = WaitingTicket(
        id=9,
        service_id=A,
        kind=TicketKind.WALK_IN,
        queue_time=minutes(-1),
        reinstated_at=minutes(-0.5),
    )
    tickets = [walk_in(1, -30), appointment(2, slot=-5, checked_in=-10), reinstated]
    assert ids(calling_order(tickets, NOW, BOTH))[0] == 9


def test_a_counter_only_calls_its_own_services():
    tickets = [walk_in(1, -10, service=B), walk_in(2, -5, service=A)]
    assert ids(calling_order(tickets, NOW, CounterPolicy(service_ids=(A,)))) == [2]
    assert choose_next([walk_in(1, -10, service=B)], NOW, CounterPolicy(service_ids=(A,))) is None


def test_service_priority_puts_the_counters_first_service_first_within_a_band():
    tickets = [walk_in(1, -10, service=A), walk_in(2, -5, service=B)]
    prefers_b = CounterPolicy(service_ids=(B, A), use_service_priority=True)
    assert ids(calling_order(tickets, NOW, prefers_b)) == [2, 1]
    # Without the switch, the order of services only says which ones the counter serves.
    assert ids(calling_order(tickets, NOW, CounterPolicy(service_ids=(B, A)))) == [1, 2]


def test_service_priority_never_lifts_a_walk_in_above_a_due_appointment():
    tickets = [walk_in(1, -10, service=B), appointment(2, slot=-1, checked_in=-3, service=A)]
    prefers_b = CounterPolicy(service_ids=(B, A), use_service_priority=True)
    assert ids(calling_order(tickets, NOW, prefers_b)) == [2, 1]


def test_interleave_calls_one_walk_in_after_k_priority_calls():
    policy = CounterPolicy(service_ids=(A,), interleave_after=2)
    tickets = [appointment(i, slot=-10, checked_in=-20 + i) for i in range(1, 5)]
    tickets += [walk_in(10, -50), walk_in(11, -40)]
    called, streak = [], 0
    for _ in range(6):
        choice = choose_next(tickets, NOW, policy, streak)
        assert choice is not None
        called.append(choice.ticket.id)
        streak = choice.priority_streak_after
        tickets = [t for t in tickets if t.id != choice.ticket.id]
    assert called == [1, 2, 10, 3, 4, 11]


def test_interleave_with_no_walk_in_waiting_keeps_calling_appointments():
    policy = CounterPolicy(service_ids=(A,), interleave_after=1)
    tickets = [appointment(1, slot=-10, checked_in=-20), appointment(2, slot=-10, checked_in=-19)]
    choice = choose_next(tickets, NOW, policy, priority_streak=5)
    assert choice is not None
    assert (choice.ticket.id, choice.priority, choice.priority_streak_after) == (1, True, 6)


def test_people_ahead_counts_only_the_same_service():
    tickets = [walk_in(1, -10, A), walk_in(2, -9, B), walk_in(3, -8, A), walk_in(4, -7, A)]
    assert people_ahead(tickets[3], tickets, NOW) == 2
    assert people_ahead(tickets[1], tickets, NOW) == 0


def test_people_ahead_of_a_walk_in_includes_due_appointments_but_not_early_ones():
    tickets = [
        walk_in(1, -10),
        appointment(2, slot=-1, checked_in=-2),
        appointment(3, slot=20, checked_in=-30),
        walk_in(4, -5),
    ]
    assert people_ahead(tickets[3], tickets, NOW) == 2
    assert people_ahead(tickets[2], tickets, NOW) == 3


# --- properties -----------------------------------------------------------------------------

ticket_strategy = st.builds(
    lambda id, service, kind, issued, slot: WaitingTicket(
        id=id,
        service_id=service,
        kind=kind,
        queue_time=minutes(issued),
        slot_start=minutes(slot) if kind is TicketKind.APPOINTMENT else None,
        checked_in_at=minutes(issued) if kind is TicketKind.APPOINTMENT else None,
    ),
    id=st.integers(1, 10_000),
    service=st.sampled_from([A, B, 3]),
    kind=st.sampled_from(list(TicketKind)),
    issued=st.integers(-240, 0),
    slot=st.integers(-120, 120),
)
# Some tickets (every seventh id) were no-shows reinstated by staff.
reinstated_queues = st.lists(
    ticket_strategy.map(
        lambda t: WaitingTicket(
            id=t.id,
            service_id=t.service_id,
            kind=t.kind,
            queue_time=t.queue_time,
            slot_start=t.slot_start,
            checked_in_at=t.checked_in_at,
            reinstated_at=t.queue_time if t.id % 7 == 0 else None,
        )
    ),
    max_size=40,
    unique_by=lambda t: t.id,
)
policies = st.builds(
    CounterPolicy,
    service_ids=st.permutations([A, B, 3]).map(lambda p: tuple(p[:2])),
    use_service_priority=st.booleans(),
    interleave_after=st.none() | st.integers(0, 3),
)


@given(reinstated_queues, policies)
def test_calling_order_is_a_permutation_of_the_counters_tickets(tickets, policy):
    ordered = calling_order(tickets, NOW, policy)
    assert sorted(ids(ordered)) == sorted(t.id for t in tickets if policy.serves(t.service_id))


@given(reinstated_queues, policies)
def test_bands_never_interleave_in_the_calling_order(tickets, policy):
    bands = [t.band(NOW) for t in calling_order(tickets, NOW, policy)]
    assert bands == sorted(bands)


@given(reinstated_queues)
def test_walk_ins_of_one_service_keep_their_issue_order(tickets):
    for service in (A, B, 3):
        walk_ins = [
            t
            for t in calling_order(tickets, NOW)
            if t.service_id == service and t.band(NOW) is Band.WALK_IN
        ]
        times = [t.queue_time for t in walk_ins]
        assert times == sorted(times)


@given(reinstated_queues, policies, st.integers(0, 5))
def test_choose_next_picks_the_head_unless_interleaving(tickets, policy, streak):
    choice = choose_next(tickets, NOW, policy, streak)
    ordered = calling_order(tickets, NOW, policy)
    if not ordered:
        assert choice is None
        return
    assert choice is not None
    interleaving = (
        policy.interleave_after is not None
        and streak >= policy.interleave_after
        and ordered[0].band(NOW) in (Band.REINSTATED, Band.APPOINTMENT_DUE)
        and any(t.band(NOW) is Band.WALK_IN for t in ordered)
    )
    if interleaving:
        assert choice.ticket == next(t for t in ordered if t.band(NOW) is Band.WALK_IN)
    else:
        assert choice.ticket == ordered[0]


@given(reinstated_queues)
def test_people_ahead_numbers_each_services_queue_from_zero(tickets):
    ahead = people_ahead_all(tickets, NOW)
    for service in (A, B, 3):
        positions = sorted(ahead[t.id] for t in tickets if t.service_id == service)
        assert positions == list(range(len(positions)))
    for ticket in tickets:
        assert ahead[ticket.id] == people_ahead(ticket, tickets, NOW)


@given(reinstated_queues)
def test_the_ticket_called_next_for_a_single_service_counter_has_nobody_ahead(tickets):
    for service in (A, B, 3):
        choice = choose_next(tickets, NOW, CounterPolicy(service_ids=(service,)))
        if choice is not None:
            assert people_ahead(choice.ticket, tickets, NOW) == 0
