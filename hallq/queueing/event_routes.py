"""The hall and ticket event streams, served by a bare ASGI app in front of Django.

Through Django's handler every stream went through the middleware and Django's streaming
response, and was counted for its whole life against one of the request threads
(config/asgi.py). Here a stream is a coroutine and one small task that watches for the client
to leave, and its database reads run in worker threads through ``db_read``: about two thirds of
the memory per stream and twice the connect rate (bench/run.sh capacity, 10,000 streams).
Every other request — other paths and methods, and a ticket stream asked for without the
ticket's own token (staff bearer token, back-office session, a bad token) — goes to Django
unchanged, so its rules and answers still apply. The Django views of both routes stay, for that
and for the OpenAPI document.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from contextlib import aclosing
from functools import partial
from typing import Any
from urllib.parse import parse_qsl

from hallq.common.db import db_read
from hallq.queueing.api import hall_exists, hall_snapshot
from hallq.queueing.models import Ticket
from hallq.queueing.streams import ticket_stream
from hallq.queueing.tokens import ticket_token_valid
from hallq.realtime.streams import (
    SSE_CONTENT_TYPE,
    SSE_HEADERS,
    hall_messages,
    parse_last_event_id,
    prelude,
)

Scope = dict[str, Any]
Message = Mapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# The paths of queueing/api.py's halls_events and tickets_events under config/urls.py's
# "api/v1/" (a test checks they still agree). Numbers too long for a bigint are left to Django.
HALL_EVENTS = re.compile(r"/api/v1/halls/([0-9]{1,18})/events")
TICKET_EVENTS = re.compile(r"/api/v1/tickets/([0-9]{1,18})/events")

STREAM_HEADERS = [
    (b"content-type", SSE_CONTENT_TYPE.encode()),
    *((name.lower().encode(), value.encode()) for name, value in SSE_HEADERS.items()),
]
# What Django's HttpResponse(status=404) sends.
EMPTY_HEADERS = [(b"content-type", b"text/html; charset=utf-8"), (b"content-length", b"0")]


class EventRoutes:
    """ASGI: the two event-stream routes; everything else goes to ``django``."""

    def __init__(self, django: ASGIApp) -> None:
        self.django = django

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            if match := HALL_EVENTS.fullmatch(scope["path"]):
                await hall_events(int(match[1]), scope, receive, send)
                return
            if match := TICKET_EVENTS.fullmatch(scope["path"]):
                ticket_id = int(match[1])
                # Only the ticket's own token is checked here; it needs no database.
                if ticket_token_valid(ticket_id, query(scope).get("token")):
                    await ticket_events(ticket_id, receive, send)
                    return
        await self.django(scope, receive, send)


async def hall_events(hall_id: int, scope: Scope, receive: Receive, send: Send) -> None:
    """As queueing/api.py's halls_events: a snapshot or the events missed, then live ones."""
    if not await hall_exists(hall_id):
        await answer_empty(send, 404)
        return
    after = last_event_id(scope)

    async def chunks() -> AsyncGenerator[bytes]:
        yield await prelude()
        snapshot = partial(hall_snapshot, hall_id)
        async with aclosing(hall_messages(hall_id, after, snapshot)) as messages:
            async for item in messages:
                yield item if isinstance(item, bytes) else item.sse

    await send_stream(chunks(), receive, send)


@db_read
def ticket_hall_id(ticket_id: int) -> int | None:
    return Ticket.objects.filter(pk=ticket_id).values_list("hall_id", flat=True).first()


async def ticket_events(ticket_id: int, receive: Receive, send: Send) -> None:
    """As queueing/api.py's tickets_events, for a request that carries the ticket's token."""
    hall_id = await ticket_hall_id(ticket_id)
    if hall_id is None:
        await answer_empty(send, 404)
        return

    async def chunks() -> AsyncGenerator[bytes]:
        yield await prelude()
        async with aclosing(ticket_stream(ticket_id, hall_id)) as stream:
            async for chunk in stream:
                yield chunk

    await send_stream(chunks(), receive, send)


async def send_stream(chunks: AsyncGenerator[bytes], receive: Receive, send: Send) -> None:
    """Send an event stream until it ends or the client leaves, whichever comes first.

    uvicorn silently drops what is sent after the client has gone, so a stream must watch
    ``receive`` for ``http.disconnect`` itself: otherwise it would keep its subscription,
    sending keepalives to nobody, as long as the process lives.
    """
    await send({"type": "http.response.start", "status": 200, "headers": STREAM_HEADERS})
    sending = asyncio.create_task(send_body(chunks, send))
    leaving = asyncio.create_task(client_left(receive))
    try:
        await asyncio.wait((sending, leaving), return_when=asyncio.FIRST_COMPLETED)
    finally:
        sending.cancel()
        leaving.cancel()
        # Cancelling the sender closes the stream's generators, and so its subscription.
        await asyncio.wait((sending, leaving))
    if not sending.cancelled() and (error := sending.exception()) is not None:
        raise error


async def send_body(chunks: AsyncGenerator[bytes], send: Send) -> None:
    async with aclosing(chunks):
        async for chunk in chunks:
            if chunk:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def client_left(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def answer_empty(send: Send, status: int) -> None:
    await send({"type": "http.response.start", "status": status, "headers": EMPTY_HEADERS})
    await send({"type": "http.response.body", "body": b""})


def query(scope: Scope) -> dict[str, str]:
    """The query parameters; the last value of a repeated one, as Django's ``request.GET``."""
    return dict(parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True))


def last_event_id(scope: Scope) -> int | None:
    """As realtime/streams.py's ``last_event_id`` for a Django request: the header (repeated
    ones joined by commas, as Django does), else ``?last_event_id=``."""
    header = b",".join(value for name, value in scope["headers"] if name == b"last-event-id")
    return parse_last_event_id(header.decode("latin-1") or query(scope).get("last_event_id"))
