"""The event-stream routes in front of Django, driven in-process as uvicorn would drive them.

The server tests (hallq/realtime/tests/test_streams.py) show the streams' content end to end;
these show what only the ASGI side decides: which requests it answers itself, what it answers,
and that a stream ends, and gives up its subscription, when its client leaves.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from django.urls import reverse

from hallq.common import clock
from hallq.halls.models import Hall
from hallq.queueing import services
from hallq.queueing.event_routes import HALL_EVENTS, TICKET_EVENTS, EventRoutes, Message
from hallq.queueing.models import Channel, Ticket
from hallq.queueing.tests.factories import make_counter, make_hall, make_service
from hallq.queueing.tokens import ticket_token
from hallq.realtime.bus import InProcessBus

STREAM_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


class Django:
    """Stands in for the Django application behind the routes; records what it was handed."""

    def __init__(self) -> None:
        self.calls: list[tuple[dict[str, Any], Any, Any]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.calls.append((scope, receive, send))


class Client:
    """The client side of one request: what the app sent, and a way to leave."""

    def __init__(self) -> None:
        self.sent: asyncio.Queue[Message] = asyncio.Queue()
        self.gone = asyncio.Event()
        self.requested = False

    async def receive(self) -> Message:
        if not self.requested:
            self.requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self.gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        self.sent.put_nowait(message)

    async def next(self) -> Message:
        return await asyncio.wait_for(self.sent.get(), 5)

    async def body(self) -> bytes:
        message = await self.next()
        assert message["type"] == "http.response.body"
        return bytes(message["body"])

    def leave(self) -> None:
        self.gone.set()


def http_scope(
    path: str,
    query: str = "",
    method: str = "GET",
    headers: list[tuple[bytes, bytes]] | None = None,
) -> dict[str, Any]:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": query.encode(),
        "headers": headers or [],
    }


@asynccontextmanager
async def streaming(app: EventRoutes, scope: dict[str, Any]) -> AsyncIterator[Client]:
    """A request in progress; on leaving the block its client leaves and the app must end."""
    client = Client()
    request = asyncio.create_task(app(scope, client.receive, client.send))
    try:
        yield client
    finally:
        client.leave()
        await asyncio.wait_for(request, 2)


@pytest.fixture
def bus(monkeypatch: pytest.MonkeyPatch) -> InProcessBus:
    """A bus of this test's own, whose subscribers the test can count."""
    bus = InProcessBus()
    monkeypatch.setattr("hallq.realtime.streams.get_bus", lambda: bus)
    return bus


@pytest.fixture
def hall(transactional_db: None) -> Hall:
    hall = make_hall()
    make_counter(hall, 1, [make_service(hall, "A")])
    return hall


@pytest.fixture
def ticket(hall: Hall) -> Ticket:
    service = hall.services.get()
    return services.ticket_issue(hall=hall, service=service, channel=Channel.KIOSK, now=clock.now())


@pytest.fixture
def quick_keepalive(settings: Any) -> None:
    settings.HALLQ_SSE_KEEPALIVE_SECONDS = 0.05


def test_the_routes_are_the_django_urls_of_the_stream_views():
    assert HALL_EVENTS.fullmatch(reverse("api-v1:halls_events", kwargs={"hall_id": 12}))
    assert TICKET_EVENTS.fullmatch(reverse("api-v1:tickets_events", kwargs={"ticket_id": 7}))


def test_a_hall_stream_sends_the_prelude_a_snapshot_then_keepalives(bus, hall, quick_keepalive):
    django = Django()

    async def scenario() -> list[Message | bytes]:
        scope = http_scope(f"/api/v1/halls/{hall.pk}/events")
        async with streaming(EventRoutes(django), scope) as client:
            return [await client.next(), *[await client.body() for _ in range(3)]]

    start, prelude, snapshot, keepalive = asyncio.run(scenario())
    assert start == {"type": "http.response.start", "status": 200, "headers": STREAM_HEADERS}
    assert prelude == b"retry: 2000\n\n"
    assert isinstance(snapshot, bytes)
    assert snapshot.startswith(b"id: 0\nevent: snapshot\ndata: ")
    assert keepalive == b": keepalive\n\n"
    assert django.calls == []


@pytest.mark.parametrize(
    "how", ["header", "query", "header over query", "repeated header is no number"]
)
def test_a_reconnecting_hall_stream_replays_what_it_missed(bus, ticket, how):
    issued = services.ticket_issue(
        hall=ticket.hall, service=ticket.service, channel=Channel.KIOSK, now=clock.now()
    )
    headers, query = {
        "header": ([(b"last-event-id", b"1")], ""),
        "query": ([], "last_event_id=1"),
        "header over query": ([(b"last-event-id", b"1")], "last_event_id=0"),
        "repeated header is no number": ([(b"last-event-id", b"1"), (b"last-event-id", b"1")], ""),
    }[how]
    scope = http_scope(f"/api/v1/halls/{ticket.hall_id}/events", query, headers=headers)

    async def scenario() -> bytes:
        async with streaming(EventRoutes(Django()), scope) as client:
            await client.next()
            await client.body()  # the prelude
            return await client.body()

    first = asyncio.run(scenario())
    if how == "repeated header is no number":  # Django joins them: "1,1", so a fresh snapshot
        assert first.startswith(b"id: 2\nevent: snapshot\n")
    else:
        assert first.startswith(b"id: 2\nevent: ticket.issued\n")
        assert issued.number.encode() in first


@pytest.mark.parametrize("stream", ["hall", "ticket"])
def test_a_stream_ends_and_unsubscribes_when_its_client_leaves(bus, ticket, stream):
    if stream == "hall":
        scope = http_scope(f"/api/v1/halls/{ticket.hall_id}/events")
    else:
        scope = http_scope(
            f"/api/v1/tickets/{ticket.pk}/events", f"token={ticket_token(ticket.pk)}"
        )

    async def scenario() -> tuple[int, int]:
        # Without watching for the disconnect the app would never end: uvicorn silently drops
        # what a stream sends after its client has gone.
        async with streaming(EventRoutes(Django()), scope) as client:
            assert (await client.next())["status"] == 200
            await client.body()  # the prelude
            await client.body()  # the snapshot, or the ticket's state
            while_open = bus.hub.subscriber_count()
        return while_open, bus.hub.subscriber_count()

    assert asyncio.run(scenario()) == (1, 0)


@pytest.mark.parametrize("stream", ["hall", "ticket"])
def test_unknown_halls_and_tickets_are_not_found_without_django(bus, transactional_db, stream):
    unknown = 987654321
    if stream == "hall":
        scope = http_scope(f"/api/v1/halls/{unknown}/events")
    else:
        scope = http_scope(f"/api/v1/tickets/{unknown}/events", f"token={ticket_token(unknown)}")
    django = Django()

    async def scenario() -> list[Message]:
        client = Client()
        await asyncio.wait_for(EventRoutes(django)(scope, client.receive, client.send), 5)
        return [client.sent.get_nowait() for _ in range(client.sent.qsize())]

    start, body = asyncio.run(scenario())
    assert start["status"] == 404
    assert dict(start["headers"])[b"content-length"] == b"0"
    assert body == {"type": "http.response.body", "body": b""}
    assert django.calls == []


@pytest.mark.parametrize(
    "scope",
    [
        # A ticket stream without the ticket's own token: Django checks staff and sessions.
        pytest.param(http_scope("/api/v1/tickets/5/events", "token=0000"), id="bad token"),
        pytest.param(
            http_scope("/api/v1/tickets/5/events", f"token={ticket_token(6)}"),
            id="another ticket's token",
        ),
        pytest.param(http_scope("/api/v1/tickets/5/events"), id="no token"),
        pytest.param(
            http_scope("/api/v1/tickets/5/events", headers=[(b"authorization", b"Bearer x")]),
            id="staff bearer token",
        ),
        pytest.param(
            http_scope("/api/v1/tickets/5/events", headers=[(b"cookie", b"sessionid=x")]),
            id="back-office session",
        ),
        # Other methods, paths and protocols.
        pytest.param(http_scope("/api/v1/halls/1/events", method="HEAD"), id="HEAD"),
        pytest.param(http_scope("/api/v1/halls/1/events", method="POST"), id="POST"),
        pytest.param(http_scope("/api/v1/halls/1/events/"), id="trailing slash"),
        pytest.param(http_scope("/api/v1/halls/abc/events"), id="not a number"),
        pytest.param(http_scope(f"/api/v1/halls/{'9' * 19}/events"), id="too long a number"),
        pytest.param(http_scope("/api/v1/halls/1/progress"), id="another API path"),
        pytest.param(http_scope("/static/hallq/display.js"), id="a static file"),
        pytest.param({"type": "lifespan"}, id="lifespan"),
    ],
)
def test_every_other_request_goes_to_django_unchanged(scope):
    django = Django()

    async def receive() -> Message:
        raise AssertionError("the request's body belongs to Django")

    async def send(message: Message) -> None:
        raise AssertionError("Django answers this request")

    asyncio.run(EventRoutes(django)(scope, receive, send))
    assert django.calls == [(scope, receive, send)]
