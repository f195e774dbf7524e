"""Writing events: the only way anything enters a hall's event log."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import connection, transaction

from hallq.realtime.bus import EventMessage, get_bus
from hallq.realtime.models import Event, HallEventCounter


def _next_seq(hall_id: int) -> int:
    # One statement that increments and returns: no read-then-write race, and the row lock
    # it takes is held to commit, which orders the hall's events (docs/concurrency.md).
    table = HallEventCounter._meta.db_table
    for _ in range(2):
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET last_seq = last_seq + 1 WHERE hall_id = %s RETURNING last_seq",  # noqa: S608
                [hall_id],
            )
            row = cursor.fetchone()
        if row is not None:
            return int(row[0])
        HallEventCounter.objects.bulk_create(
            [HallEventCounter(hall_id=hall_id)], ignore_conflicts=True
        )
    raise RuntimeError("hall event counter could not be created")


def event_record(
    *,
    hall_id: int,
    kind: str,
    now: datetime,
    payload: dict[str, Any],
    ticket_id: int | None = None,
    service_id: int | None = None,
    counter_id: int | None = None,
) -> Event:
    """Append an event to the hall's log; it is broadcast only once the transaction commits.

    Call it last in a transaction: the hall's event counter stays locked from here to commit.
    """
    event = Event.objects.create(
        hall_id=hall_id,
        seq=_next_seq(hall_id),
        kind=kind,
        ticket_id=ticket_id,
        service_id=service_id,
        counter_id=counter_id,
        payload=payload,
        created_at=now,
    )
    message = EventMessage.from_event(event)
    transaction.on_commit(lambda: _after_commit(message))
    return event


# Called in this process after each event commits (the official account's pushes wake here).
after_commit_hooks: list[Callable[[], None]] = []


def _after_commit(message: EventMessage) -> None:
    get_bus().publish(message)
    for hook in after_commit_hooks:
        hook()
