"""Server-sent event streams: a snapshot or the missed events, then live events, in order.

A hall's events are numbered without holes (``HallEventCounter``), so a stream that receives
event n+2 after n knows that n+1 exists and reads it from the log before going on. The same
read serves a client that reconnects with ``Last-Event-ID``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable

from django.conf import settings
from django.http import HttpRequest, StreamingHttpResponse

from hallq.common.db import db_read
from hallq.realtime.bus import EventMessage, RedisBus, get_bus
from hallq.realtime.models import Event

# Further back than this, a reconnecting client gets a fresh snapshot instead of a replay.
REPLAY_LIMIT = 500


# The response headers of every event stream; ``X-Accel-Buffering`` keeps nginx from holding
# events back.
SSE_CONTENT_TYPE = "text/event-stream; charset=utf-8"
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def parse_last_event_id(raw: str | None) -> int | None:
    """The event number a reconnecting client last received; None for a first connection (or
    a value that is not a number, which EventSource never sends)."""
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def last_event_id(request: HttpRequest) -> int | None:
    return parse_last_event_id(
        request.headers.get("Last-Event-ID") or request.GET.get("last_event_id")
    )


@db_read
def events_after(hall_id: int, after: int, up_to: int | None) -> list[EventMessage]:
    query = Event.objects.filter(hall_id=hall_id, seq__gt=after).order_by("seq")
    if up_to is not None:
        query = query.filter(seq__lte=up_to)
    return [EventMessage.from_event(e) for e in query[: REPLAY_LIMIT + 1]]


@db_read
def latest_seq(hall_id: int) -> int:
    latest = Event.objects.filter(hall_id=hall_id).order_by("-seq").values_list("seq", flat=True)
    return latest.first() or 0


def comment(text: str) -> bytes:
    return f": {text}\n\n".encode()


async def hall_messages(
    hall_id: int, after: int | None, on_snapshot: Callable[[int], Awaitable[bytes]] | None
) -> AsyncGenerator[EventMessage | bytes]:
    """Every event of a hall after ``after``, then live ones, in order and without holes.

    Without ``after`` (a first connection) or when ``after`` is too far behind, it starts with
    the bytes ``on_snapshot(seq)`` renders for the state at ``seq`` instead of a replay.
    """
    bus = get_bus()
    subscription = bus.subscribe(hall_id)
    try:
        if isinstance(bus, RedisBus):
            await bus.wait_ready()
        last = after
        if last is not None:
            missed = await events_after(hall_id, last, None)
            if len(missed) > REPLAY_LIMIT:
                last = None
            else:
                for message in missed:
                    yield message
                    last = message.seq
        if last is None:
            last = await latest_seq(hall_id)
            if on_snapshot is not None:
                yield await on_snapshot(last)
        keepalive = settings.HALLQ_SSE_KEEPALIVE_SECONDS
        while True:
            try:
                # Not asyncio.wait_for: it makes a Task per message per subscriber.
                async with asyncio.timeout(keepalive):
                    delivered = await subscription.get()
            except TimeoutError:
                yield comment("keepalive")
                continue
            if delivered is None:  # the bus may have lost messages
                for message in await events_after(hall_id, last, None):
                    yield message
                    last = message.seq
                continue
            if delivered.seq <= last:
                continue
            if delivered.seq > last + 1:
                for message in await events_after(hall_id, last, delivered.seq - 1):
                    yield message
                    last = message.seq
            yield delivered
            last = delivered.seq
    finally:
        subscription.close()


def sse_response(stream: AsyncIterator[bytes]) -> StreamingHttpResponse:
    return StreamingHttpResponse(stream, content_type=SSE_CONTENT_TYPE, headers=SSE_HEADERS)


async def prelude() -> bytes:
    # Tell EventSource to retry quickly after a drop.
    return b"retry: 2000\n\n"
