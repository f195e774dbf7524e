"""The stream's ordering guarantees with the in-process bus: holes are filled from the log."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator
from datetime import UTC, datetime

import pytest
from django.db import transaction

from hallq.common import clock
from hallq.common.db import db_read
from hallq.halls.models import Hall, Organisation
from hallq.realtime.bus import EventMessage, InProcessBus
from hallq.realtime.models import Event
from hallq.realtime.services import NewEvent, event_record
from hallq.realtime.streams import hall_messages

pytestmark = pytest.mark.django_db(transaction=True)


def record_quietly(hall_id: int, count: int) -> list[EventMessage]:
    """Write events to the log as a transaction would, without publishing them."""
    messages = []
    for _ in range(count):
        with transaction.atomic():
            event = event_record(hall_id=hall_id, kind="ticket.issued", now=clock.now(), payload={})
            transaction.get_connection().run_on_commit.clear()
        messages.append(EventMessage.from_event(event))
    return messages


record_in_a_thread = db_read(record_quietly)


async def take(stream: AsyncGenerator[EventMessage | bytes], count: int) -> list[int]:
    seqs: list[int] = []
    while len(seqs) < count:
        item = await asyncio.wait_for(anext(stream), 5)
        if isinstance(item, EventMessage):
            seqs.append(item.seq)
    return seqs


def test_out_of_order_and_lost_deliveries_still_give_every_event_once_in_order(monkeypatch):
    hall = Hall.objects.create(organisation=Organisation.objects.create(name="机构"), name="大厅")
    bus = InProcessBus()
    monkeypatch.setattr("hallq.realtime.streams.get_bus", lambda: bus)
    record_quietly(hall.pk, 3)

    async def scenario() -> list[int]:
        stream = hall_messages(hall.pk, None, None)
        received: list[int] = []
        first = asyncio.ensure_future(take(stream, 2))
        await asyncio.sleep(0.2)  # the stream has subscribed and read the latest number (3)
        four, five = await record_in_a_thread(hall.pk, 2)
        bus.hub.deliver(five)  # 4 was published later than 5, or lost
        received += await first
        bus.hub.deliver(four)  # late duplicate: ignored
        (_six,) = await record_in_a_thread(hall.pk, 1)
        bus.hub.deliver_resync()  # e.g. Redis reconnected: read the log
        received += await take(stream, 1)
        await stream.aclose()
        return received

    assert asyncio.run(scenario()) == [4, 5, 6]
    assert bus.hub.subscriber_count() == 0
    assert Event.objects.filter(hall=hall).count() == 6


def test_a_new_events_message_is_the_message_of_its_row_and_crosses_the_bus_unchanged():
    hall = Hall.objects.create(organisation=Organisation.objects.create(name="机构"), name="大厅")
    new = NewEvent(
        kind="ticket.called",
        payload={"number": "A012", "counter_name": "3 号窗口", "at_ms": 1.5},
        ticket_id=7,
        service_id=3,
        counter_id=2,
    )
    now = datetime(2026, 11, 27, 8, 30, 0, 123456, tzinfo=UTC)

    message = new.message(hall.pk, 42, now)
    of_row = EventMessage.from_event(new.row(hall.pk, 42, now))

    assert message == of_row
    assert message.sse == of_row.sse
    assert message.sse.startswith(b"id: 42\nevent: ticket.called\ndata: {")
    # What the bus carries is the message's fields as JSON, and comes back the same message.
    assert json.loads(message.to_json()) == {
        "hall_id": hall.pk,
        "seq": 42,
        "kind": "ticket.called",
        "data": message.data,
    }
    assert "3 号窗口" in message.to_json()  # not escaped
    back = EventMessage.from_json(message.to_json())
    assert back == message
    assert back.sse == message.sse
