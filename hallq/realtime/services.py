"""Writing events: the only way anything enters a hall's event log."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, transaction

from hallq.common import jsontext
from hallq.realtime.bus import EventMessage, get_bus
from hallq.realtime.models import Event, HallEventCounter


def _next_seqs(hall_id: int, count: int) -> range:
    # One statement that increments and returns: no read-then-write race, and the row lock
    # it takes is held to commit, which orders the hall's events (docs/concurrency.md).
    table = HallEventCounter._meta.db_table
    sql = f"UPDATE {table} SET last_seq = last_seq + %s WHERE hall_id = %s RETURNING last_seq"  # noqa: S608
    for _ in range(2):
        with connection.cursor() as cursor:
            cursor.execute(sql, [count, hall_id])
            row = cursor.fetchone()
        if row is not None:
            last = int(row[0])
            return range(last - count + 1, last + 1)
        HallEventCounter.objects.bulk_create(
            [HallEventCounter(hall_id=hall_id)], ignore_conflicts=True
        )
    raise RuntimeError("hall event counter could not be created")


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to append: what happened and what a display may show of it."""

    kind: str
    payload: dict[str, Any]
    ticket_id: int | None = None
    service_id: int | None = None
    counter_id: int | None = None

    def message(self, hall_id: int, seq: int, now: datetime) -> EventMessage:
        """What is broadcast of it once written with the number ``seq``: ``EventMessage.from_event``
        of ``row``, without the model instance."""
        return EventMessage.of(
            hall_id,
            seq,
            self.kind,
            self.ticket_id,
            self.service_id,
            self.counter_id,
            now,
            self.payload,
        )

    def row(self, hall_id: int, seq: int, now: datetime, pk: int | None = None) -> Event:
        return Event(
            pk=pk,
            hall_id=hall_id,
            seq=seq,
            kind=self.kind,
            ticket_id=self.ticket_id,
            service_id=self.service_id,
            counter_id=self.counter_id,
            payload=self.payload,
            created_at=now,
        )


def events_record(*, hall_id: int, now: datetime, events: Sequence[NewEvent]) -> list[Event]:
    """Append events to the hall's log, numbered in the order given; they are broadcast only
    once the transaction commits.

    Call it last in a transaction: the hall's event counter stays locked from here to commit.
    On PostgreSQL numbering and inserting are one statement, so the lock is held for nothing
    but the commit after it; elsewhere they are two.
    """
    if connection.vendor == "postgresql":
        rows = _numbered_and_inserted(hall_id, now, events)
    else:
        seqs = _next_seqs(hall_id, len(events))
        rows = Event.objects.bulk_create(
            [new.row(hall_id, seq, now) for seq, new in zip(seqs, events, strict=True)]
        )
    messages_announce([EventMessage.from_event(event) for event in rows])
    return rows


def messages_announce(messages: list[EventMessage]) -> None:
    """Broadcast events' messages once the transaction that wrote the events commits (at once
    outside one): ``events_record``'s, and those of events written by other means, such as a
    statement that changes a ticket and inserts its event together (``NewEvent.message``)."""
    transaction.on_commit(lambda: _after_commit(messages))


def _numbered_and_inserted(hall_id: int, now: datetime, events: Sequence[NewEvent]) -> list[Event]:
    """The hall's event counter moved on and the events inserted with its numbers, in one
    PostgreSQL statement (a data-modifying WITH)."""
    count = len(events)
    rows = ", ".join(["(%s, %s, %s::bigint, %s::bigint, %s::bigint, %s::jsonb)"] * count)
    sql = (
        f"WITH counter AS (UPDATE {HallEventCounter._meta.db_table} "  # noqa: S608
        "SET last_seq = last_seq + %s WHERE hall_id = %s RETURNING last_seq) "
        f"INSERT INTO {Event._meta.db_table} "
        "(hall_id, seq, kind, ticket_id, service_id, counter_id, payload, created_at) "
        "SELECT %s, counter.last_seq - %s + new.position, new.kind, new.ticket_id, "
        "new.service_id, new.counter_id, new.payload, %s "
        f"FROM counter, (VALUES {rows}) "
        "AS new (position, kind, ticket_id, service_id, counter_id, payload) "
        "ORDER BY new.position RETURNING id, seq"
    )
    params: list[Any] = [count, hall_id, hall_id, count, now]
    for position, new in enumerate(events, 1):
        params += [
            position,
            new.kind,
            new.ticket_id,
            new.service_id,
            new.counter_id,
            jsontext.dumps(new.payload),
        ]
    for _ in range(2):
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            inserted = sorted(cursor.fetchall(), key=lambda row: row[1])
        if inserted:
            return [
                new.row(hall_id, seq, now, pk=pk)
                for (pk, seq), new in zip(inserted, events, strict=True)
            ]
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
    """Append one event to the hall's log (``events_record``)."""
    new = NewEvent(kind, payload, ticket_id, service_id, counter_id)
    return events_record(hall_id=hall_id, now=now, events=[new])[0]


# Called in this process after each transaction's events commit (the official account's pushes
# wake here).
after_commit_hooks: list[Callable[[], None]] = []


def _after_commit(messages: list[EventMessage]) -> None:
    get_bus().publish_all(messages)
    for hook in after_commit_hooks:
        hook()
