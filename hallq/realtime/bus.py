"""Event fan-out to the subscribers of this process, and between processes through Redis.

Every process holds one :class:`Hub` of local subscribers (SSE streams). ``publish`` is called
after commit, from any thread. With REDIS_URL set, messages go through Redis pub/sub (sent by one
thread per process, many requests' events per round trip) and every process (the publisher
included) delivers what it receives; without it, the hub delivers directly. Delivery is best
effort by design: a subscriber that sees a hole in a hall's event numbers, or is told the bus
reconnected, reads what it missed from the event log.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from django.conf import settings

from hallq.common import jsontext

if TYPE_CHECKING:
    from hallq.realtime.models import Event

logger = logging.getLogger(__name__)

SUBSCRIBER_QUEUE_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class EventMessage:
    hall_id: int
    seq: int
    kind: str
    data: dict[str, Any]
    # Rendered once per process, not once per subscriber (``build``).
    sse: bytes = field(compare=False, repr=False)
    # ``data`` as JSON, made once for the stream and for the bus.
    body: str = field(compare=False, repr=False)

    @classmethod
    def build(cls, hall_id: int, seq: int, kind: str, data: dict[str, Any]) -> EventMessage:
        body = jsontext.dumps(data)
        sse = f"id: {seq}\nevent: {kind}\ndata: {body}\n\n".encode()
        return cls(hall_id=hall_id, seq=seq, kind=kind, data=data, sse=sse, body=body)

    @classmethod
    def of(
        cls,
        hall_id: int,
        seq: int,
        kind: str,
        ticket_id: int | None,
        service_id: int | None,
        counter_id: int | None,
        at: datetime,
        payload: dict[str, Any],
    ) -> EventMessage:
        """The message of an event of the log, from its columns."""
        data = {
            "seq": seq,
            "kind": kind,
            "hall_id": hall_id,
            "ticket_id": ticket_id,
            "service_id": service_id,
            "counter_id": counter_id,
            "at": at.isoformat(),
            **payload,
        }
        return cls.build(hall_id, seq, kind, data)

    @classmethod
    def from_event(cls, event: Event) -> EventMessage:
        return cls.of(
            hall_id=event.hall_id,
            seq=event.seq,
            kind=event.kind,
            ticket_id=event.ticket_id,
            service_id=event.service_id,
            counter_id=event.counter_id,
            at=event.created_at,
            payload=event.payload,
        )

    def to_json(self) -> str:
        """What the bus carries: the message's fields, ``data`` as already rendered."""
        kind = json.dumps(self.kind, ensure_ascii=False)
        return f'{{"hall_id":{self.hall_id},"seq":{self.seq},"kind":{kind},"data":{self.body}}}'

    @classmethod
    def from_json(cls, raw: str | bytes) -> EventMessage:
        value = json.loads(raw)
        return cls.build(value["hall_id"], value["seq"], value["kind"], value["data"])


# A subscriber receives messages, or RESYNC when it may have missed some.
RESYNC = None
Delivery = EventMessage | None


class Subscription:
    def __init__(self, hub: Hub, hall_id: int, loop: asyncio.AbstractEventLoop) -> None:
        self.hub = hub
        self.hall_id = hall_id
        self.loop = loop
        self.queue: asyncio.Queue[Delivery] = asyncio.Queue(maxsize=SUBSCRIBER_QUEUE_LIMIT)

    def offer(self, item: Delivery) -> None:
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            # A slow reader: drop what is queued and tell it to re-read the log.
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(RESYNC)

    async def get(self) -> Delivery:
        return await self.queue.get()

    def close(self) -> None:
        self.hub.unsubscribe(self)


class Hub:
    """This process's subscribers, grouped by event loop and hall."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_loop: dict[asyncio.AbstractEventLoop, dict[int, set[Subscription]]] = {}

    def subscribe(self, hall_id: int) -> Subscription:
        loop = asyncio.get_running_loop()
        subscription = Subscription(self, hall_id, loop)
        with self._lock:
            self._by_loop.setdefault(loop, {}).setdefault(hall_id, set()).add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            halls = self._by_loop.get(subscription.loop, {})
            group = halls.get(subscription.hall_id)
            if group is not None:
                group.discard(subscription)
                if not group:
                    del halls[subscription.hall_id]
            if not halls:
                self._by_loop.pop(subscription.loop, None)

    def subscriber_count(self) -> int:
        with self._lock:
            return sum(len(g) for halls in self._by_loop.values() for g in halls.values())

    def deliver(self, message: EventMessage) -> None:
        """Hand a message to every local subscriber of its hall; callable from any thread."""
        with self._lock:
            loops = [loop for loop, halls in self._by_loop.items() if message.hall_id in halls]
        for loop in loops:
            self._on_loop(loop, self._deliver_here, loop, message)

    def deliver_resync(self) -> None:
        with self._lock:
            loops = list(self._by_loop)
        for loop in loops:
            self._on_loop(loop, self._resync_here, loop)

    @staticmethod
    def _on_loop(
        loop: asyncio.AbstractEventLoop, callback: Callable[..., None], *args: Any
    ) -> None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            callback(*args)
        elif not loop.is_closed():
            loop.call_soon_threadsafe(callback, *args)

    def _deliver_here(self, loop: asyncio.AbstractEventLoop, message: EventMessage) -> None:
        with self._lock:
            group = list(self._by_loop.get(loop, {}).get(message.hall_id, ()))
        for subscription in group:
            subscription.offer(message)

    def _resync_here(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            groups = [list(g) for g in self._by_loop.get(loop, {}).values()]
        for group in groups:
            for subscription in group:
                subscription.offer(RESYNC)


class Bus(Protocol):
    hub: Hub

    def publish(self, message: EventMessage) -> None: ...

    def publish_all(self, messages: Sequence[EventMessage]) -> None: ...

    def subscribe(self, hall_id: int) -> Subscription: ...


class InProcessBus:
    """One process: the publisher hands the message straight to the hub."""

    def __init__(self) -> None:
        self.hub = Hub()

    def publish(self, message: EventMessage) -> None:
        self.hub.deliver(message)

    def publish_all(self, messages: Sequence[EventMessage]) -> None:
        for message in messages:
            self.hub.deliver(message)

    def subscribe(self, hall_id: int) -> Subscription:
        return self.hub.subscribe(hall_id)


class RedisBus:
    """Many processes: publish to Redis; one listener task per event loop feeds the hub."""

    def __init__(self, url: str) -> None:
        import redis

        self.url = url
        self.hub = Hub()
        self._publisher = redis.Redis.from_url(url)
        self.channel_prefix = f"{settings.HALLQ_REDIS_PREFIX}:events:"
        self._listeners: dict[asyncio.AbstractEventLoop, asyncio.Task[None]] = {}
        self._ready: dict[asyncio.AbstractEventLoop, asyncio.Event] = {}
        # What requests hand over, in order: lists of messages, and a flush's mark. A C queue,
        # not a condition and a list: its put and get cost a request and the sender far less.
        self._handed: queue.SimpleQueue[Sequence[EventMessage] | threading.Event] = (
            queue.SimpleQueue()
        )
        self._sender: threading.Thread | None = None
        self._sender_lock = threading.Lock()
        self._connection: Any = None  # the sender thread's (redis.connection.Connection)

    def publish(self, message: EventMessage) -> None:
        self.publish_all([message])

    def publish_all(self, messages: Sequence[EventMessage]) -> None:
        """Hand the messages to this process's sender thread, which sends whatever has gathered
        in one write (one round trip to Redis for many requests' events, in their order), so
        that no request waits for Redis."""
        if self._sender is None:
            self._start_sender()
        self._handed.put(tuple(messages))

    def _start_sender(self) -> None:
        with self._sender_lock:
            if self._sender is None:
                sender = threading.Thread(
                    target=self._send_forever, name="hallq-event-sender", daemon=True
                )
                sender.start()
                atexit.register(self.flush)
                self._sender = sender

    def flush(self, timeout: float = 2.0) -> bool:
        """Wait until every message handed over before this call has been sent (or failed);
        False on timeout."""
        if self._sender is None:
            return True
        sent = threading.Event()
        self._handed.put(sent)
        return sent.wait(timeout)

    def _send_forever(self) -> None:
        while True:
            handed = [self._handed.get()]
            while True:
                try:
                    handed.append(self._handed.get_nowait())
                except queue.Empty:
                    break
            batch = [m for item in handed if not isinstance(item, threading.Event) for m in item]
            if batch:
                try:
                    self._send(batch)
                except Exception:
                    # Subscribers recover from the log at the next event or reconnect; the
                    # changes themselves are committed and must not fail because Redis is away.
                    logger.exception(
                        "could not publish events %s to Redis", [(m.hall_id, m.seq) for m in batch]
                    )
            for item in handed:
                if isinstance(item, threading.Event):
                    item.set()

    def _send(self, batch: list[EventMessage]) -> None:
        """One write of every ``PUBLISH`` of the batch, then their replies, on the sender
        thread's own connection: straight, rather than through redis-py's pipeline and its
        connection pool, whose bookkeeping per batch cost more than the commands
        (bench/NOTES.md). A connection found broken (Redis restarted) is opened again once:
        what the first try may have published is published twice, and subscribers pass over
        event numbers they have seen."""
        from redis.exceptions import ConnectionError, TimeoutError

        commands = [
            ("PUBLISH", f"{self.channel_prefix}{message.hall_id}", message.to_json())
            for message in batch
        ]
        if self._connection is None:
            self._connection = self._publisher.connection_pool.make_connection()
        connection = self._connection
        for attempt in (1, 2):
            try:
                connection.send_packed_command(connection.pack_commands(commands))
                for _command in commands:
                    connection.read_response()
                return
            except (ConnectionError, TimeoutError):
                connection.disconnect()  # the next command connects again
                if attempt == 2:
                    raise
            except BaseException:
                connection.disconnect()  # replies may be left unread on it
                raise

    def subscribe(self, hall_id: int) -> Subscription:
        loop = asyncio.get_running_loop()
        if loop not in self._listeners or self._listeners[loop].done():
            self._ready[loop] = asyncio.Event()
            self._listeners[loop] = loop.create_task(self._listen(loop))
        return self.hub.subscribe(hall_id)

    async def wait_ready(self) -> None:
        """Wait until this loop's listener is subscribed (so nothing published after is missed)."""
        await self._ready[asyncio.get_running_loop()].wait()

    async def _listen(self, loop: asyncio.AbstractEventLoop) -> None:
        import redis.asyncio as aioredis

        delay = 0.2
        while True:
            client = aioredis.Redis.from_url(self.url)
            try:
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                await pubsub.psubscribe(f"{self.channel_prefix}*")
                self._ready[loop].set()
                delay = 0.2
                # Whatever was published while we were away is in the log.
                self.hub.deliver_resync()
                async for raw in pubsub.listen():
                    if raw.get("type") == "pmessage":
                        self.hub.deliver(EventMessage.from_json(raw["data"]))
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("Redis event listener lost its connection; reconnecting")
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            finally:
                await client.aclose()


_bus: Bus | None = None
_bus_lock = threading.Lock()


def get_bus() -> Bus:
    global _bus
    if _bus is None:
        with _bus_lock:
            if _bus is None:
                _bus = RedisBus(settings.REDIS_URL) if settings.REDIS_URL else InProcessBus()
    return _bus
