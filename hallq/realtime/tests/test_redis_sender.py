"""The Redis bus's sender thread: every message handed over reaches Redis once, in the order each
thread handed them over, and Redis being away fails no request."""

from __future__ import annotations

import json
import threading
import time
import uuid

import redis

from hallq.common.testing import redis_url
from hallq.realtime.bus import EventMessage, RedisBus


def message(hall_id: int, seq: int) -> EventMessage:
    return EventMessage.build(hall_id, seq, "ticket.issued", {"seq": seq})


def test_messages_from_many_threads_reach_redis_once_each_in_each_threads_order(settings):
    settings.HALLQ_REDIS_PREFIX = f"test-{uuid.uuid4().hex}"
    url = redis_url()
    bus = RedisBus(url)
    listener = redis.Redis.from_url(url).pubsub(ignore_subscribe_messages=True)
    listener.psubscribe(f"{bus.channel_prefix}*")
    while listener.get_message(timeout=1) is not None:
        pass  # the subscription's confirmation
    threads, per_thread = 8, 250

    def hand_over(hall_id: int) -> None:
        for seq in range(1, per_thread + 1, 2):  # one message, then a transaction's two
            bus.publish(message(hall_id, seq))
            bus.publish_all([message(hall_id, seq + 1)])

    workers = [threading.Thread(target=hand_over, args=(hall,)) for hall in range(1, threads + 1)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert bus.flush(timeout=10)

    received: dict[int, list[int]] = {hall: [] for hall in range(1, threads + 1)}
    deadline = time.monotonic() + 10
    while sum(map(len, received.values())) < threads * per_thread and time.monotonic() < deadline:
        raw = listener.get_message(timeout=1)
        if raw is not None:
            data = json.loads(raw["data"])
            received[data["hall_id"]].append(data["seq"])
    listener.close()
    assert received == {hall: list(range(1, per_thread + 1)) for hall in received}


def test_with_redis_away_publishing_fails_nothing(settings, caplog):
    settings.HALLQ_REDIS_PREFIX = f"test-{uuid.uuid4().hex}"
    bus = RedisBus("redis://127.0.0.1:1/0")  # nothing listens there

    bus.publish_all([message(1, 1), message(1, 2)])

    assert bus.flush(timeout=10)
    assert "could not publish events [(1, 1), (1, 2)] to Redis" in caplog.text


def test_a_connection_redis_closed_is_opened_again_and_nothing_is_lost(settings):
    settings.HALLQ_REDIS_PREFIX = f"test-{uuid.uuid4().hex}"
    url = redis_url()
    bus = RedisBus(url)
    admin = redis.Redis.from_url(url)
    listener = admin.pubsub(ignore_subscribe_messages=True)
    listener.psubscribe(f"{bus.channel_prefix}*")
    while listener.get_message(timeout=1) is not None:
        pass
    bus.publish_all([message(1, 1)])
    assert bus.flush(timeout=10)
    host, port = bus._connection._sock.getsockname()[:2]
    admin.client_kill(f"{host}:{port}")  # as a Redis restart would leave it

    bus.publish_all([message(1, 2), message(1, 3)])

    assert bus.flush(timeout=10)
    seqs: list[int] = []
    deadline = time.monotonic() + 10
    while len(seqs) < 3 and time.monotonic() < deadline:
        raw = listener.get_message(timeout=1)
        if raw is not None:
            seqs.append(json.loads(raw["data"])["seq"])
    listener.close()
    assert seqs == [1, 2, 3]
