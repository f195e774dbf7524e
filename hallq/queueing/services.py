"""Every change to tickets and counters (§4.1–4.4, §4.8). Each call is one transaction.

Interfaces validate input and permissions first; these functions check only what depends on
the current state, atomically: a ticket changes state through a conditional update that
matches only the state it is expected to be in, and a counter's actions are serialised by its
row lock (``locks.py``). Every change writes an event (``event_record``) in the same transaction.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from hallq.common import jsontext
from hallq.common.db import array_literal, attach_related, columns_of, fetch_all
from hallq.common.errors import Conflict, InvalidInput
from hallq.halls.models import Counter, CounterState, Hall, Service
from hallq.halls.selectors import hall_by_id, service_with_hall
from hallq.queueing import locks
from hallq.queueing.domain.calling import choose_next, people_ahead
from hallq.queueing.domain.model import CallChoice, CounterPolicy, TicketKind, WaitingTicket
from hallq.queueing.domain.numbering import format_number
from hallq.queueing.models import ACTIVE_AT_COUNTER, Ticket, TicketState
from hallq.queueing.selectors import (
    Capacity,
    as_waiting,
    call_candidates,
    counter_and_ticket,
    counter_at_work,
    counter_at_work_and_candidates,
    counter_hall_id,
    counter_policy,
    counter_service_ids,
    forget_capacity,
    recent_capacity,
    service_queue,
    typical_seconds,
    waiting_tickets,
    walk_in_position,
)
from hallq.realtime.services import NewEvent, event_record, events_record, messages_announce

# Stands for the ticket being issued, before the database gives it its id: it sorts last
# among tickets issued at the same moment.
UNSAVED_TICKET_ID = 2**62

# Walk-ins read per service when choosing whom to call in a transaction: the head is enough.
CANDIDATES_PER_SERVICE = 1

# On PostgreSQL a call sends this many choices, in the domain's order: counters calling at the
# same moment, which read the same heads of the queues, mostly each get one of them at once
# instead of choosing again.
CHOICES_PER_CALL = 4

# How many times call-next retries when another counter took the ticket it chose first.
CALL_ATTEMPTS = 20


def ticket_payload(ticket: Ticket) -> dict[str, Any]:
    """What an event says about a ticket: no personal data, only what a display may show."""
    counter = ticket.counter
    return {
        "number": ticket.number,
        "state": ticket.state,
        "ticket_kind": ticket.kind,
        "service_date": ticket.service_date.isoformat(),
        "counter_number": counter.number if counter else None,
        "counter_name": counter.name if counter else None,
        "recall_count": ticket.recall_count,
    }


def _ticket_event(kind: str, ticket: Ticket, **extra: Any) -> NewEvent:
    return NewEvent(
        kind=kind,
        payload={**ticket_payload(ticket), **extra},
        ticket_id=ticket.pk,
        service_id=ticket.service_id,
        counter_id=ticket.counter_id,
    )


def _record_ticket_event(kind: str, ticket: Ticket, now: datetime, **extra: Any) -> None:
    events_record(hall_id=ticket.hall_id, now=now, events=[_ticket_event(kind, ticket, **extra)])


def _record_counter_event(kind: str, counter: Counter, now: datetime) -> None:
    event_record(
        hall_id=counter.hall_id,
        kind=kind,
        now=now,
        payload={
            "counter_number": counter.number,
            "counter_name": counter.name,
            "state": counter.state,
        },
        counter_id=counter.pk,
    )


def _refresh(ticket: Ticket) -> Ticket:
    """The ticket as it is now, with what its events and answers show."""
    return Ticket.objects.select_related("hall", "service", "counter").get(pk=ticket.pk)


def ticket_issue(
    *,
    hall: Hall,
    service: Service,
    channel: str,
    now: datetime,
    kind: TicketKind = TicketKind.WALK_IN,
    slot_start: datetime | None = None,
) -> Ticket:
    """Give out the next number of the service's day (§4.1) and put the ticket in the queue.

    The ticket records how many were ahead of it and the wait we told the citizen, to be
    compared later with what happened (§9).
    """
    if not service.active:
        raise Conflict(_("This service is not available today."))
    service_date = now.astimezone(hall.zone).date()
    # Read before the sequence row is locked: counters and service times need no lock.
    capacity = recent_capacity(hall.pk)
    seconds = typical_seconds(hall_id=hall.pk, now=now, service_ids=[service.pk])[service.pk]
    if kind is TicketKind.WALK_IN and connection.vendor == "postgresql":
        return _walk_in_issued_in_one_statement(
            hall, service, channel, now, service_date, capacity.get(service.pk), seconds
        )
    checked_in_at = now if kind is TicketKind.APPOINTMENT else None
    with transaction.atomic():
        sequence = locks.take_ticket_sequence(
            hall_id=hall.pk, service_id=service.pk, service_date=service_date
        )
        # Other issuers of this service wait on the sequence row, so this read is exact.
        if kind is TicketKind.APPOINTMENT:
            # Few, and placed among the others by their slots: the domain orders the queue.
            queue_now = waiting_tickets(
                hall_id=hall.pk, service_date=service_date, service_ids=[service.pk]
            )
            provisional = WaitingTicket(
                id=UNSAVED_TICKET_ID,
                service_id=service.pk,
                kind=kind,
                queue_time=now,
                slot_start=slot_start,
                checked_in_at=checked_in_at,
            )
            ahead, waiting = people_ahead(provisional, queue_now, now), len(queue_now)
        else:
            ahead, waiting = walk_in_position(
                hall_id=hall.pk, service_id=service.pk, service_date=service_date, now=now
            )
        queue = service_queue(
            service_id=service.pk,
            waiting=waiting + 1,
            capacity=capacity.get(service.pk),
            seconds=seconds,
        )
        ticket = Ticket.objects.create(
            hall=hall,
            service=service,
            service_date=service_date,
            sequence=sequence,
            number=format_number(service.prefix, sequence),
            kind=kind,
            channel=channel,
            issued_at=now,
            queue_time=now,
            slot_start=slot_start,
            checked_in_at=checked_in_at,
            people_ahead_at_issue=ahead,
            estimated_wait_at_issue=queue.estimate(ahead),
        )
        _record_ticket_event("ticket.issued", ticket, now, people_ahead=ahead)
    return ticket


def _walk_in_issued_in_one_statement(
    hall: Hall,
    service: Service,
    channel: str,
    now: datetime,
    service_date: date,
    capacity: Capacity | None,
    seconds: float,
) -> Ticket:
    """``ticket_issue`` of a walk-in as one PostgreSQL statement (migration 0005 has the
    function, docs/decisions/0005): the same number, people ahead, estimate, row and event as the
    transaction above, with the sequence row and the hall's event counter locked for no round
    trip to this process."""
    capacity = capacity or Capacity()
    ticket = Ticket(
        hall=hall,
        service=service,
        service_date=service_date,
        kind=TicketKind.WALK_IN,
        channel=channel,
        issued_at=now,
        queue_time=now,
        number="",
    )
    sql = (
        "SELECT ticket_id, sequence, number, ahead, estimate, event_seq "
        "FROM hallq_walk_in_issue_v1(%s::bigint, %s::bigint, %s::date, %s::text, %s::text, "
        "%s::timestamptz, %s::integer, %s::integer, %s::float8, %s::jsonb)"
    )
    ((ticket_id, sequence, number, ahead, estimate, event_seq),) = fetch_all(
        sql,
        [
            hall.pk,
            service.pk,
            service_date,
            service.prefix,
            channel,
            now,
            capacity.open_counters,
            capacity.idle_counters,
            float(seconds),
            jsontext.dumps(ticket_payload(ticket)),
        ],
    )
    ticket.pk, ticket.sequence, ticket.number = ticket_id, sequence, number
    ticket.people_ahead_at_issue, ticket.estimated_wait_at_issue = ahead, estimate
    ticket._state.adding = False
    issued = _ticket_event("ticket.issued", ticket, people_ahead=ahead)
    messages_announce([issued.message(hall.pk, event_seq, now)])
    return ticket


def _locked_open_counter(counter_id: int) -> tuple[Counter, Ticket | None]:
    """The counter, locked, if it is open, and the ticket at it."""
    counter, ticket = _locked_counter(counter_id)
    _require_open(counter)
    return counter, ticket


def _locked_counter(counter_id: int) -> tuple[Counter, Ticket | None]:
    """The counter, locked, and the ticket called to or served at it."""
    counter, ticket = locks.lock_counter_at_work(counter_id)
    if ticket is not None:
        _attach(ticket, counter)
    return counter, ticket


def _attach(ticket: Ticket, counter: Counter | None) -> Ticket:
    """Give a ticket its hall, service and counter without reading them again: the counter is
    the one just locked, the service comes from this process's memo."""
    if counter is not None:
        attach_related(ticket, "counter", counter)
        attach_related(ticket, "hall", counter.hall)
    service = service_with_hall(ticket.service_id)
    if service is not None:
        attach_related(ticket, "service", service)
    return ticket


def _require_active(ticket: Ticket | None, *states: TicketState) -> Ticket:
    if ticket is None or ticket.state not in states:
        raise Conflict(_("There is no ticket at this counter to do that with."), code="no_ticket")
    return ticket


def _change(ticket: Ticket, expected: Iterable[str], **changes: Any) -> bool:
    """Move the ticket on if it is still in one of the ``expected`` states (a conditional
    update), and show the change on the instance too, rather than reading it back."""
    changed = Ticket.objects.filter(pk=ticket.pk, state__in=list(expected)).update(**changes)
    if changed:
        for name, value in changes.items():
            setattr(ticket, name, value)
    return bool(changed)


def _finish(ticket: Ticket, now: datetime, *, record: bool = True) -> Ticket:
    if not _change(ticket, ACTIVE_AT_COUNTER, **_finished(ticket, now)):
        raise Conflict(_("The ticket is no longer at this counter."))
    if record:
        _record_ticket_event("ticket.done", ticket, now)
    return ticket


def counter_call_next(*, counter_id: int, now: datetime) -> Ticket | None:
    """Call the next ticket for this counter by §4.3; None when nobody waits for it.

    A ticket being served is finished first; a ticket still only called must be started,
    marked no-show or transferred before the next call.
    """
    if connection.vendor == "postgresql":
        return _call_next_in_one_statement(counter_id, now)
    return _call_next_in_transaction(counter_id, now)


def _require_nothing_called(current: Ticket | None) -> None:
    if current is not None and current.state == TicketState.CALLED:
        raise Conflict(
            _("%(number)s is still called here: start serving it or mark it no-show first.")
            % {"number": current.number},
            code="ticket_still_called",
        )


def _require_open(counter: Counter) -> None:
    if counter.state == CounterState.PAUSED:
        raise Conflict(_("The counter is paused. Resume it first."), code="counter_paused")
    if counter.state == CounterState.CLOSED:
        raise Conflict(_("The counter is closed. Open it first."), code="counter_closed")


def _finished(ticket: Ticket, now: datetime) -> dict[str, Any]:
    """What finishing a ticket writes: served from its start (or its call) until now."""
    started = ticket.serving_at or ticket.called_at or now
    return {
        "state": TicketState.DONE,
        "finished_at": now,
        "serving_at": started,
        "service_seconds": max(0, round((now - started).total_seconds())),
    }


def _candidates(
    counter: Counter, policy: CounterPolicy, now: datetime, per_service: int
) -> dict[int, Ticket]:
    """The tickets that can be next at the counter today (``selectors.call_candidates``), by id."""
    service_date = now.astimezone(counter.hall.zone).date()
    found = call_candidates(
        hall_id=counter.hall_id,
        service_date=service_date,
        service_ids=policy.service_ids,
        per_service=per_service,
    )
    return {ticket.pk: ticket for ticket in found}


def _ranked_choices(
    waiting: list[WaitingTicket], now: datetime, policy: CounterPolicy, streak: int
) -> list[CallChoice]:
    """The domain's choice, then the one it would make were that one gone, and so on, up to
    ``CHOICES_PER_CALL``: valid while every service's first ``CHOICES_PER_CALL`` walk-ins are
    among ``waiting``."""
    choices: list[CallChoice] = []
    while len(choices) < CHOICES_PER_CALL:
        choice = choose_next(waiting, now, policy, streak)
        if choice is None:
            break
        choices.append(choice)
        waiting = [ticket for ticket in waiting if ticket.id != choice.ticket.id]
    return choices


def _call_next_in_one_statement(counter_id: int, now: datetime) -> Ticket | None:
    """``counter_call_next`` on PostgreSQL: read without locks, let the domain choose, and have
    ``hallq_call_next_v1`` (migration 0006) check under the counter's lock that the counter,
    its ticket and the chosen one are as read, make the changes and write their events, and
    commit. When something changed meanwhile (another counter took the ticket, a second click),
    it changes nothing and the counter reads again; the checks above then say why, if it is
    for good. No lock is held between this process's round trips."""
    hall_id = counter_hall_id(counter_id)
    hall = hall_by_id(hall_id) if hall_id is not None else None
    if hall is None:
        raise Counter.DoesNotExist(f"No counter {counter_id}.")
    service_date = now.astimezone(hall.zone).date()
    for _attempt in range(CALL_ATTEMPTS):
        service_ids = counter_service_ids(counter_id)
        counter, current, found = counter_at_work_and_candidates(
            counter_id=counter_id,
            hall_id=hall.pk,
            service_date=service_date,
            service_ids=service_ids,
            per_service=CHOICES_PER_CALL,
        )
        _require_open(counter)
        _require_nothing_called(current)
        if current is not None:
            _attach(current, counter)
        policy = counter_policy(counter, service_ids)
        candidates = {ticket.pk: ticket for ticket in found}
        choices = _ranked_choices(
            [as_waiting(t) for t in candidates.values()], now, policy, counter.priority_streak
        )
        # The changes, made on the instances for the events and the answer; the function
        # writes the same.
        if current is not None:
            for name, value in _finished(current, now).items():
                setattr(current, name, value)
        tickets = [_attach(candidates[choice.ticket.id], counter) for choice in choices]
        for ticket in tickets:
            ticket.state, ticket.called_at = TicketState.CALLED, now  # its counter attached
            ticket.recall_count = 0
        ((status, chosen, called_seq, done_seq),) = fetch_all(
            "SELECT status, chosen, called_seq, done_seq "
            "FROM hallq_call_next_v1(%s::bigint, %s::bigint, %s::timestamptz, "
            "%s::bigint, %s::bigint, %s::timestamptz, %s::integer, %s::jsonb, "
            "%s::bigint[], %s::bigint[], %s::jsonb, %s::integer[])",
            [
                counter.pk,
                counter.hall_id,
                now,
                current.pk if current else None,
                current.service_id if current else None,
                current.serving_at if current else None,
                current.service_seconds if current else None,
                jsontext.dumps(ticket_payload(current)) if current else None,
                array_literal(ticket.pk for ticket in tickets),
                array_literal(ticket.service_id for ticket in tickets),
                jsontext.dumps([ticket_payload(ticket) for ticket in tickets]),
                array_literal(
                    None
                    if choice.priority_streak_after == counter.priority_streak
                    else choice.priority_streak_after
                    for choice in choices
                ),
            ],
        )
        if status != "ok":
            continue
        called = tickets[chosen - 1] if chosen is not None else None
        messages = []
        if called is not None:
            counter.priority_streak = choices[chosen - 1].priority_streak_after
            messages.append(
                _ticket_event("ticket.called", called).message(counter.hall_id, called_seq, now)
            )
        if current is not None:
            messages.append(
                _ticket_event("ticket.done", current).message(counter.hall_id, done_seq, now)
            )
        messages_announce(messages)
        forget_capacity(counter.hall_id)
        return called
    raise Conflict(_("The queue is too busy right now; please try again."), code="busy")


@transaction.atomic
def _call_next_in_transaction(counter_id: int, now: datetime) -> Ticket | None:
    counter, current = _locked_open_counter(counter_id)
    _require_nothing_called(current)
    # Its event is written last, with the call's: the hall's event counter is the last lock a
    # transaction takes, or two counters calling at once could deadlock (docs/concurrency.md).
    finished = _finish(current, now, record=False) if current is not None else None
    claimed = _claim_next(counter, now)
    events = []
    if claimed is not None:
        choice, ticket = claimed
        if counter.priority_streak != choice.priority_streak_after:
            counter.priority_streak = choice.priority_streak_after
            counter.save(update_fields=["priority_streak"])
        events.append(_ticket_event("ticket.called", ticket))
    # The call is numbered before the finish it follows: both happened at this moment to two
    # different tickets, and every display and ticket page then hears the call one fan-out
    # sooner (each subscriber handles the events in order).
    if finished is not None:
        events.append(_ticket_event("ticket.done", finished))
    if events:
        events_record(hall_id=counter.hall_id, now=now, events=events)
    return claimed[1] if claimed is not None else None


def _claim_next(counter: Counter, now: datetime) -> tuple[CallChoice, Ticket] | None:
    """Choose the counter's next ticket and claim it, choosing again if another counter won
    (SQLite, where write transactions run one at a time; PostgreSQL calls in one statement)."""
    policy = counter_policy(counter)
    for _attempt in range(CALL_ATTEMPTS):
        candidates = _candidates(counter, policy, now, CANDIDATES_PER_SERVICE)
        choice = choose_next(
            [as_waiting(t) for t in candidates.values()], now, policy, counter.priority_streak
        )
        if choice is None:
            return None
        ticket = _attach(candidates[choice.ticket.id], counter)
        # If another counter called it meanwhile, this matches nothing and we choose again.
        if _change(
            ticket,
            [TicketState.WAITING],
            state=TicketState.CALLED,
            counter=counter,
            called_at=now,
            recall_count=0,
        ):
            return choice, ticket
    raise Conflict(_("The queue is too busy right now; please try again."), code="busy")


@transaction.atomic
def counter_recall(*, counter_id: int, now: datetime) -> Ticket:
    _counter, current = _locked_open_counter(counter_id)
    ticket = _require_active(current, TicketState.CALLED)
    limit = settings.HALLQ_RECALL_LIMIT
    changed = Ticket.objects.filter(
        pk=ticket.pk, state=TicketState.CALLED, recall_count__lt=limit
    ).update(recall_count=ticket.recall_count + 1)
    if changed:
        ticket.recall_count += 1
    else:
        raise Conflict(
            _("%(number)s has been recalled %(limit)s times already.")
            % {"number": ticket.number, "limit": limit},
            code="recall_limit",
        )
    _record_ticket_event("ticket.recalled", ticket, now)
    return ticket


def _advance_current(
    counter_id: int, expected: TicketState, kind: str, now: datetime, **changes: Any
) -> Ticket:
    """Move the counter's current ticket on from ``expected``, writing event ``kind``."""
    if connection.vendor == "postgresql":
        return _advance_in_one_statement(counter_id, expected, kind, now, **changes)
    return _advance_in_transaction(counter_id, expected, kind, now, **changes)


def _advance_in_one_statement(
    counter_id: int, expected: TicketState, kind: str, now: datetime, **changes: Any
) -> Ticket:
    """``_advance_current`` on PostgreSQL: ``hallq_counter_advance_v2`` (migration 0008) moves
    the counter's ticket on if it is in the state expected, writes the event and commits, and
    returns the counter and the ticket as they now are. When it changed nothing, the counter is
    read to say why; if by then its ticket is as expected (another action ran meanwhile), again.
    """
    starts, finishes = "serving_at" in changes, "finished_at" in changes
    if set(changes) - {"state", "serving_at", "finished_at"} or any(
        changes[name] != now for name in ("serving_at", "finished_at") if name in changes
    ):
        raise TypeError(f"hallq_counter_advance_v2 cannot write {changes}")
    for _attempt in range(CALL_ATTEMPTS):
        ((status, event_seq, *rest),) = fetch_all(
            _advance_text(),
            [counter_id, now, expected.value, changes["state"].value, kind, starts, finishes],
        )
        if status == "ok":
            counter, ticket = counter_and_ticket(rest)
            assert ticket is not None  # "ok": the function moved one on
            _attach(ticket, counter)
            messages_announce(
                [_ticket_event(kind, ticket).message(counter.hall_id, event_seq, now)]
            )
            forget_capacity(counter.hall_id)
            return ticket
        _counter, current = counter_at_work(counter_id)
        _require_active(current, expected)
    raise Conflict(_("The queue is too busy right now; please try again."), code="busy")


@functools.cache
def _advance_text() -> str:
    return (
        "SELECT r.status, r.event_seq, "  # noqa: S608 - the models' columns
        f"{columns_of(Counter, '(r.counter)')}, {columns_of(Ticket, '(r.ticket)')} "
        "FROM hallq_counter_advance_v2(%s::bigint, %s::timestamptz, %s::text, %s::text, "
        "%s::text, %s::boolean, %s::boolean) AS r"
    )


@transaction.atomic
def _advance_in_transaction(
    counter_id: int, expected: TicketState, kind: str, now: datetime, **changes: Any
) -> Ticket:
    _counter, current = _locked_counter(counter_id)
    ticket = _require_active(current, expected)
    # The counter's lock keeps its ticket where it is meanwhile.
    _change(ticket, [expected], **changes)
    _record_ticket_event(kind, ticket, now)
    return ticket


def counter_start(*, counter_id: int, now: datetime) -> Ticket:
    """The called citizen has arrived: serving starts."""
    return _advance_current(
        counter_id,
        TicketState.CALLED,
        "ticket.serving",
        now,
        state=TicketState.SERVING,
        serving_at=now,
    )


@transaction.atomic
def counter_finish(*, counter_id: int, now: datetime) -> Ticket:
    _counter, current = _locked_counter(counter_id)
    ticket = _require_active(current, TicketState.CALLED, TicketState.SERVING)
    return _finish(ticket, now)


def counter_no_show(*, counter_id: int, now: datetime) -> Ticket:
    """过号: the called citizen did not come. Staff may reinstate the ticket later."""
    return _advance_current(
        counter_id,
        TicketState.CALLED,
        "ticket.no_show",
        now,
        state=TicketState.NO_SHOW,
        finished_at=now,
    )


@transaction.atomic
def ticket_reinstate(*, ticket: Ticket, now: datetime) -> Ticket:
    """Put a no-show back at the head of its queue (§4.4), for today only."""
    if ticket.service_date != now.astimezone(ticket.hall.zone).date():
        raise Conflict(_("Only today's tickets can be reinstated."), code="wrong_day")
    changed = Ticket.objects.filter(pk=ticket.pk, state=TicketState.NO_SHOW).update(
        state=TicketState.WAITING,
        reinstated_at=now,
        counter=None,
        called_at=None,
        finished_at=None,
        recall_count=0,
    )
    if not changed:
        raise Conflict(_("Only a ticket marked no-show can be reinstated."), code="wrong_state")
    ticket = _refresh(ticket)
    _record_ticket_event("ticket.reinstated", ticket, now)
    return ticket


@transaction.atomic
def ticket_transfer(
    *, ticket: Ticket, service: Service, now: datetime, keep_place: bool = True
) -> Ticket:
    """Send a ticket to another service of the hall (§4.4).

    The ticket becomes *transferred* and a successor with the new service's next number joins
    that queue; by default it keeps its place by the original issue time.
    """
    if service.hall_id != ticket.hall_id:
        raise InvalidInput(_("That service belongs to another hall."), code="wrong_hall")
    if service.pk == ticket.service_id:
        raise InvalidInput(_("The ticket is already in that service."), code="same_service")
    if ticket.service_date != now.astimezone(ticket.hall.zone).date():
        raise Conflict(_("Only today's tickets can be transferred."), code="wrong_day")
    movable = (TicketState.WAITING, TicketState.CALLED, TicketState.SERVING)
    if ticket.counter_id is not None:
        locks.lock_counter(ticket.counter_id)
    changed = Ticket.objects.filter(pk=ticket.pk, state__in=movable).update(
        state=TicketState.TRANSFERRED, finished_at=now
    )
    if not changed:
        raise Conflict(_("This ticket can no longer be transferred."), code="wrong_state")
    ticket = _refresh(ticket)
    service_date = ticket.service_date
    sequence = locks.take_ticket_sequence(
        hall_id=ticket.hall_id, service_id=service.pk, service_date=service_date
    )
    successor = Ticket.objects.create(
        hall_id=ticket.hall_id,
        service=service,
        service_date=service_date,
        sequence=sequence,
        number=format_number(service.prefix, sequence),
        kind=ticket.kind,
        channel=ticket.channel,
        issued_at=now,
        queue_time=ticket.queue_time if keep_place else now,
        slot_start=ticket.slot_start,
        checked_in_at=ticket.checked_in_at,
        transferred_from=ticket,
        pre_call_distance=ticket.pre_call_distance,
    )
    _record_ticket_event(
        "ticket.transferred",
        ticket,
        now,
        to_ticket_id=successor.pk,
        to_number=successor.number,
        to_service_id=service.pk,
    )
    _record_ticket_event("ticket.issued", successor, now, from_ticket_id=ticket.pk)
    return successor


def _set_counter_state(
    counter_id: int, allowed_from: tuple[str, ...], to: str, kind: str, now: datetime, **extra: Any
) -> Counter:
    counter = locks.lock_counter(counter_id)
    if counter.state not in allowed_from:
        messages = {
            CounterState.OPEN: _("The counter is already open."),
            CounterState.PAUSED: _("The counter is paused."),
            CounterState.CLOSED: _("The counter is closed."),
        }
        raise Conflict(messages[CounterState(counter.state)], code=f"counter_{counter.state}")
    counter.state = to
    for name, value in extra.items():
        setattr(counter, name, value)
    counter.save(update_fields=["state", *extra])
    _record_counter_event(kind, counter, now)
    return counter


@transaction.atomic
def counter_open(*, counter_id: int, staff_id: int, now: datetime) -> Counter:
    """A staff member signs in at a counter and opens it."""
    counter = locks.lock_counter(counter_id)
    if counter.state != CounterState.CLOSED:
        if counter.staff_id == staff_id:
            return counter
        counter.staff_id = staff_id
        counter.save(update_fields=["staff"])
        return counter
    return _set_counter_state(
        counter_id,
        (CounterState.CLOSED,),
        CounterState.OPEN,
        "counter.opened",
        now,
        staff_id=staff_id,
    )


@transaction.atomic
def counter_close(*, counter_id: int, now: datetime) -> Counter:
    _counter, current = _locked_counter(counter_id)
    if current is not None:
        raise Conflict(
            _("Finish the current ticket before closing the counter."), code="ticket_active"
        )
    return _set_counter_state(
        counter_id,
        (CounterState.OPEN, CounterState.PAUSED),
        CounterState.CLOSED,
        "counter.closed",
        now,
        staff_id=None,
    )


@transaction.atomic
def counter_pause(*, counter_id: int, now: datetime) -> Counter:
    return _set_counter_state(
        counter_id, (CounterState.OPEN,), CounterState.PAUSED, "counter.paused", now
    )


@transaction.atomic
def counter_resume(*, counter_id: int, now: datetime) -> Counter:
    return _set_counter_state(
        counter_id, (CounterState.PAUSED,), CounterState.OPEN, "counter.resumed", now
    )


def tickets_expire(*, now: datetime) -> int:
    """End of day (§4.8): every ticket of an earlier hall-local day still waiting or called
    expires. Runs hall by hall, one transaction each; safe to run again at any time."""
    expired = 0
    for hall in Hall.objects.all():
        today = now.astimezone(hall.zone).date()
        stale = Q(hall=hall, service_date__lt=today) & Q(
            state__in=[TicketState.WAITING, TicketState.CALLED]
        )
        for ticket_id in Ticket.objects.filter(stale).values_list("pk", flat=True):
            with transaction.atomic():
                changed = Ticket.objects.filter(
                    pk=ticket_id,
                    state__in=[TicketState.WAITING, TicketState.CALLED],
                ).update(state=TicketState.EXPIRED, finished_at=now)
                if changed:
                    expired += 1
                    ticket = Ticket.objects.get(pk=ticket_id)
                    _record_ticket_event("ticket.expired", ticket, now)
    return expired
