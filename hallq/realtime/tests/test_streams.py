"""Event streams against real server processes: resumption, ordering and cross-process fan-out."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from hallq.common.testing import redis_url
from hallq.conftest import Server, start_server, stop_server
from hallq.realtime.tests.sse_client import SseReader

pytestmark = [pytest.mark.server, pytest.mark.django_db(transaction=True)]

STREAM_HEADER_NAMES = ["content-type", "cache-control", "x-accel-buffering", "x-frame-options"]


class Hall:
    """Drives the demo's first hall through the HTTP API, as the kiosk and a counter would."""

    def __init__(self, server: Server, demo: dict[str, Any]) -> None:
        self.url = server.url
        hall = demo["halls"][0]
        self.id = hall["id"]
        self.kiosk = {"Authorization": f"Bearer {hall['kiosk_token']}"}
        staff = hall["staff"][0]
        token = httpx.post(f"{self.url}/api/v1/auth/token", json=staff).json()["token"]
        self.staff = {"Authorization": f"Bearer {token}"}
        services = httpx.get(f"{self.url}/api/v1/halls/{self.id}/services").json()
        self.service_a = next(s["id"] for s in services if s["prefix"] == "A")
        counters = httpx.get(f"{self.url}/api/v1/halls/{self.id}/counters").json()
        self.counter = next(c["id"] for c in counters if c["service_ids"] == [self.service_a])

    def use(self, server: Server) -> Hall:
        self.url = server.url
        return self

    def issue(self) -> dict[str, Any]:
        response = httpx.post(
            f"{self.url}/api/v1/halls/{self.id}/tickets",
            json={"service_id": self.service_a},
            headers=self.kiosk,
        )
        assert response.status_code == 201, response.text
        return response.json()

    def counter_action(self, action: str) -> httpx.Response:
        response = httpx.post(
            f"{self.url}/api/v1/counters/{self.counter}/{action}", headers=self.staff
        )
        assert response.status_code in (200, 204), response.text
        return response

    def call_and_start(self) -> str:
        number = self.counter_action("call-next").json()["number"]
        self.counter_action("start")
        return number

    def events_url(self) -> str:
        return f"{self.url}/api/v1/halls/{self.id}/events"


def test_a_reconnecting_subscriber_receives_every_call_it_missed(asgi_server, demo):
    hall = Hall(asgi_server, demo)
    hall.counter_action("open")
    for _ in range(6):
        hall.issue()

    reader = SseReader(hall.events_url())
    snapshot = reader.next()
    assert snapshot.event == "snapshot"
    assert snapshot.data["progress"]["hall_id"] == hall.id
    first = hall.call_and_start()
    seen = reader.until("ticket.serving")
    called = [e for e in seen if e.event == "ticket.called"]
    assert [e.data["number"] for e in called] == [first]
    last_id = seen[-1].id
    assert last_id is not None
    reader.close()

    missed = [hall.call_and_start() for _ in range(3)]

    resumed = SseReader(hall.events_url(), last_event_id=last_id)
    replay = [resumed.next() for _ in range(9)]  # done, called, serving for each of 3 calls
    resumed.close()
    assert [e.id for e in replay] == list(range(last_id + 1, last_id + 10))
    assert [e.data["number"] for e in replay if e.event == "ticket.called"] == missed
    assert all(e.event != "snapshot" for e in replay)


def test_the_live_stream_continues_after_the_replay_in_order(asgi_server, demo):
    hall = Hall(asgi_server, demo)
    hall.counter_action("open")
    hall.issue()
    hall.issue()
    reader = SseReader(hall.events_url(), last_event_id=0)
    replayed = reader.until("ticket.issued")
    replayed += reader.until("ticket.issued")
    number = hall.call_and_start()
    live = reader.until("ticket.serving")
    reader.close()
    ids = [e.id for e in replayed + live]
    assert ids == list(range(1, len(ids) + 1))
    assert [e.data["number"] for e in live if e.event == "ticket.called"] == [number]


def test_the_ticket_stream_shows_people_ahead_and_then_the_call(asgi_server, demo):
    hall = Hall(asgi_server, demo)
    hall.counter_action("open")
    first = hall.issue()
    second = hall.issue()
    url = f"{hall.url}/api/v1/tickets/{second['id']}/events?token={second['token']}"
    reader = SseReader(url)
    initial = reader.next()
    assert initial.event == "ticket"
    assert (initial.data["state"], initial.data["people_ahead"]) == ("waiting", 1)
    assert hall.call_and_start() == first["number"]
    assert reader.next().data["people_ahead"] == 0
    assert hall.call_and_start() == second["number"]
    while (event := reader.next()).data["state"] != "called":
        pass
    reader.close()
    assert event.data["counter_number"] is not None
    assert event.data["number"] == second["number"]


def test_a_ticket_stream_needs_the_tickets_own_token(asgi_server, demo):
    hall = Hall(asgi_server, demo)
    ticket = hall.issue()
    forged = httpx.get(f"{hall.url}/api/v1/tickets/{ticket['id']}/events?token=0000")
    assert forged.status_code == 403


def test_staff_follow_a_ticket_stream_with_their_own_token(asgi_server, demo):
    # Not the ticket's token: the event route hands the request to Django, which checks staff.
    hall = Hall(asgi_server, demo)
    hall.issue()
    ticket = hall.issue()
    reader = SseReader(f"{hall.url}/api/v1/tickets/{ticket['id']}/events", headers=hall.staff)
    initial = reader.next()
    reader.close()
    assert initial.event == "ticket"
    assert (initial.data["id"], initial.data["people_ahead"]) == (ticket["id"], 1)
    assert reader.response_headers is not None
    assert reader.response_headers["x-frame-options"] == "DENY"  # Django's middleware answered


@pytest.mark.parametrize("stream", ["hall", "ticket"])
def test_event_streams_are_sent_unbuffered_and_uncached(asgi_server, demo, stream):
    hall = Hall(asgi_server, demo)
    ticket = hall.issue()
    if stream == "hall":
        url = hall.events_url()
    else:
        url = f"{hall.url}/api/v1/tickets/{ticket['id']}/events?token={ticket['token']}"
    reader = SseReader(url)
    assert reader.next().event == ("snapshot" if stream == "hall" else "ticket")
    reader.close()
    assert reader.response_headers is not None
    assert {name: reader.response_headers.get(name) for name in STREAM_HEADER_NAMES} == {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache",
        "x-accel-buffering": "no",
        "x-frame-options": None,  # the event route answered, not Django's middleware
    }


def test_the_stream_of_an_unknown_hall_is_not_found(asgi_server):
    response = httpx.get(f"{asgi_server.url}/api/v1/halls/987654321/events")
    assert (response.status_code, response.content) == (404, b"")
    assert "x-frame-options" not in response.headers  # the event route answered


def test_with_redis_an_event_made_in_one_process_reaches_a_subscriber_on_another(
    transactional_db, demo, tmp_path: Path
):
    env = {"REDIS_URL": redis_url(), "HALLQ_REDIS_PREFIX": f"test-{uuid.uuid4().hex}"}
    producer = start_server(tmp_path / "producer.log", env)
    consumer = start_server(tmp_path / "consumer.log", env)
    try:
        hall = Hall(producer, demo)
        reader = SseReader(Hall(consumer, demo).events_url())
        assert reader.next().event == "snapshot"
        hall.counter_action("open")
        ticket = hall.issue()
        number = hall.call_and_start()
        called = [e for e in reader.until("ticket.called") if e.event == "ticket.called"]
        assert number == ticket["number"]
        assert [e.data["number"] for e in called] == [number]
        # The next call finishes the first ticket in the same change: both events arrive, in
        # their order, with the numbers that follow each other.
        following = hall.issue()
        hall.call_and_start()
        arrived = [e for e in reader.until("ticket.done") if e.event.startswith("ticket.")]
        reader.close()
        called_next, done = arrived[-2:]
        assert (called_next.event, called_next.data["number"]) == (
            "ticket.called",
            following["number"],
        )
        assert (done.event, done.data["number"]) == ("ticket.done", number)
        assert called_next.id is not None
        assert done.id == called_next.id + 1
    finally:
        stop_server(producer)
        stop_server(consumer)


def test_open_streams_hold_no_database_connection(transactional_db, demo, tmp_path: Path):
    # With a pool of 2 connections, 12 open streams must all still get the call: a stream
    # that kept its connection would starve the others (and the call itself) of the pool. The
    # one request thread keeps one of the two between requests; the streams share the other.
    server = start_server(
        tmp_path / "server.log",
        {"HALLQ_DB_POOL_MAX": "2", "HALLQ_DB_POOL_MIN": "1", "HALLQ_REQUEST_THREADS": "1"},
    )
    readers: list[SseReader] = []
    try:
        hall = Hall(server, demo)
        for _ in range(12):
            reader = SseReader(hall.events_url())
            assert reader.next().event == "snapshot"
            readers.append(reader)
        hall.counter_action("open")
        ticket = hall.issue()
        hall.call_and_start()
        for reader in readers:
            called = [e for e in reader.until("ticket.called") if e.event == "ticket.called"]
            assert [e.data["number"] for e in called] == [ticket["number"]]
    finally:
        for reader in readers:
            reader.close()
        stop_server(server)
