"""Calling order (PRODUCT.md §4.3) and people ahead (§4.5)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from hallq.queueing.domain.model import (
    PRIORITY_BANDS,
    Band,
    CallChoice,
    CounterPolicy,
    WaitingTicket,
)

_NO_TIME = datetime.min.replace(tzinfo=UTC)


def _sort_key(
    ticket: WaitingTicket, now: datetime, policy: CounterPolicy | None
) -> tuple[int, int, datetime, datetime, datetime, int]:
    band = ticket.band(now)
    rank = policy.service_rank(ticket.service_id) if policy is not None else 0
    if band is Band.REINSTATED:
        assert ticket.reinstated_at is not None
        return (band, rank, ticket.reinstated_at, _NO_TIME, _NO_TIME, ticket.id)
    if band in (Band.APPOINTMENT_DUE, Band.APPOINTMENT_EARLY):
        assert ticket.slot_start is not None
        checked_in = ticket.checked_in_at or ticket.queue_time
        return (band, rank, ticket.slot_start, checked_in, ticket.queue_time, ticket.id)
    return (band, rank, ticket.queue_time, _NO_TIME, _NO_TIME, ticket.id)


def calling_order(
    tickets: Iterable[WaitingTicket], now: datetime, policy: CounterPolicy | None = None
) -> list[WaitingTicket]:
    """The waiting tickets in the order they would be called, ignoring interleave.

    With a policy, only the counter's services are kept and its service priority applies.
    """
    if policy is not None:
        tickets = (t for t in tickets if policy.serves(t.service_id))
    return sorted(tickets, key=lambda t: _sort_key(t, now, policy))


def choose_next(
    tickets: Iterable[WaitingTicket],
    now: datetime,
    policy: CounterPolicy,
    priority_streak: int = 0,
) -> CallChoice | None:
    """The ticket a counter calls next, or None when nobody waits for it.

    ``priority_streak`` counts this counter's consecutive priority calls (reinstated and due
    appointments); with ``interleave_after`` = k, the (k+1)-th call goes to the first walk-in.
    """
    ordered = calling_order(tickets, now, policy)
    if not ordered:
        return None
    first = ordered[0]
    first_is_priority = first.band(now) in PRIORITY_BANDS
    if (
        first_is_priority
        and policy.interleave_after is not None
        and priority_streak >= policy.interleave_after
    ):
        walk_in = next((t for t in ordered if t.band(now) is Band.WALK_IN), None)
        if walk_in is not None:
            return CallChoice(ticket=walk_in, priority=False, priority_streak_after=0)
    if first_is_priority:
        return CallChoice(ticket=first, priority=True, priority_streak_after=priority_streak + 1)
    return CallChoice(ticket=first, priority=False, priority_streak_after=0)


def people_ahead(ticket: WaitingTicket, waiting: Sequence[WaitingTicket], now: datetime) -> int:
    """How many tickets of the same service would be called before ``ticket`` right now."""
    same_service = [t for t in waiting if t.service_id == ticket.service_id]
    key = _sort_key(ticket, now, None)
    return sum(1 for t in same_service if t.id != ticket.id and _sort_key(t, now, None) < key)


def people_ahead_all(waiting: Sequence[WaitingTicket], now: datetime) -> dict[int, int]:
    """People ahead of every waiting ticket at once (one sort per service, not one per ticket)."""
    by_service: dict[int, list[WaitingTicket]] = {}
    for ticket in waiting:
        by_service.setdefault(ticket.service_id, []).append(ticket)
    result: dict[int, int] = {}
    for group in by_service.values():
        for position, ticket in enumerate(calling_order(group, now)):
            result[ticket.id] = position
    return result
