"""The ticket's live stream: its state, people ahead and wait, sent whenever they change.

Every ticket page of a hall watches the same queue. Rather than each stream re-reading the
database on every event, a process keeps one queue snapshot per hall, recomputed at most once
per event however many ticket pages are open; a stream reloads its own ticket only for events
about that ticket.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

from hallq.common import clock
from hallq.common.db import db_read
from hallq.halls.models import Hall
from hallq.queueing.models import TicketState
from hallq.queueing.selectors import QueueSnapshot, queue_snapshot
from hallq.queueing.views import load_ticket, ticket_view
from hallq.realtime.bus import EventMessage
from hallq.realtime.streams import hall_messages


def sse(kind: str, data: Any, seq: int | None) -> bytes:
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)
    head = f"id: {seq}\n" if seq is not None else ""
    return f"{head}event: {kind}\ndata: {body}\n\n".encode()


@db_read
def load_snapshot(hall_id: int) -> QueueSnapshot:
    return queue_snapshot(hall=Hall.objects.get(pk=hall_id), now=clock.now())


@db_read
def load_view(ticket_id: int) -> dict[str, Any] | None:
    ticket = load_ticket(ticket_id)
    return ticket_view(ticket, clock.now()) if ticket is not None else None


class QueueSnapshots:
    """This process's latest queue snapshot per hall, shared by all ticket streams."""

    def __init__(self) -> None:
        self._entries: dict[int, tuple[int, QueueSnapshot]] = {}
        self._seen: dict[int, int] = {}
        self._locks: dict[tuple[asyncio.AbstractEventLoop, int], asyncio.Lock] = {}

    def saw(self, hall_id: int, seq: int) -> None:
        self._seen[hall_id] = max(self._seen.get(hall_id, 0), seq)

    async def at_least(self, hall_id: int, seq: int) -> QueueSnapshot:
        """A snapshot that includes event ``seq`` (read after it was committed)."""
        entry = self._entries.get(hall_id)
        if entry is not None and entry[0] >= seq:
            return entry[1]
        key = (asyncio.get_running_loop(), hall_id)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            entry = self._entries.get(hall_id)
            if entry is not None and entry[0] >= seq:
                return entry[1]
            # Every event seen so far was committed before it was published, so a read that
            # starts now includes all of them: one read serves every stream waiting here.
            covers = max(self._seen.get(hall_id, seq), seq)
            snapshot = await load_snapshot(hall_id)
            self._entries[hall_id] = (covers, snapshot)
            return snapshot


snapshots = QueueSnapshots()


def _with_position(view: dict[str, Any], snapshot: QueueSnapshot) -> dict[str, Any] | None:
    """The view with people ahead and wait from the snapshot; None if the ticket left the queue."""
    ahead = snapshot.people_ahead(view["id"])
    if ahead is None:
        return None
    return {
        **view,
        "people_ahead": ahead,
        "estimated_wait_seconds": snapshot.estimate(view["id"], view["service_id"]),
    }


def _affects_position(message: EventMessage, service_id: int) -> bool:
    return message.data.get("service_id") == service_id or message.kind.startswith("counter.")


async def ticket_stream(ticket_id: int, hall_id: int) -> AsyncGenerator[bytes]:
    view: dict[str, Any] | None = None

    async def first(seq: int) -> bytes:
        nonlocal view
        view = await load_view(ticket_id)
        return sse("ticket", view, seq) if view is not None else b""

    # Closed with this generator, not whenever it is collected: its finally ends the subscription.
    async with aclosing(hall_messages(hall_id, None, first)) as messages:
        async for item in messages:
            if isinstance(item, bytes):
                yield item
                continue
            snapshots.saw(hall_id, item.seq)
            if view is None:
                continue
            updated: dict[str, Any] | None
            if item.data.get("ticket_id") == ticket_id:
                updated = await load_view(ticket_id)
            elif view["state"] == TicketState.WAITING and _affects_position(
                item, view["service_id"]
            ):
                updated = _with_position(view, await snapshots.at_least(hall_id, item.seq))
                if updated is None:  # it left the queue; its own event is on its way, or was lost
                    updated = await load_view(ticket_id)
            else:
                continue
            if updated is not None and updated != view:
                view = updated
                yield sse("ticket", view, item.seq)
