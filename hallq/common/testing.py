"""What the tests of every context share: racing real threads against the real database."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pytest
import redis
from django.db import connection

T = TypeVar("T")


def race(workers: int, job: Callable[[int], T]) -> list[T]:
    """Run ``job(0) … job(workers - 1)`` in as many threads, released together by a barrier so
    their transactions really overlap. Each thread has its own database connection, as separate
    web processes would, and closes it when done."""
    barrier = threading.Barrier(workers)

    def run(index: int) -> T:
        try:
            barrier.wait(timeout=30)
            return job(index)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(run, range(workers)))


def redis_url() -> str:
    """The Redis the tests use (HALLQ_TEST_REDIS_URL); skipped without one, except in CI."""
    url = os.environ.get("HALLQ_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        if os.environ.get("HALLQ_REQUIRE_POSTGRES"):  # CI: every service must be there
            raise
        pytest.skip(f"Redis is not reachable at {url}")
    return url


def prepared_plans(fragment: str) -> list[tuple[int, int]]:
    """(generic plans, custom plans) of this connection's prepared statements whose text
    contains ``fragment``: PostgreSQL only."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
            "WHERE statement LIKE %s",
            [f"%{fragment}%"],
        )
        return cursor.fetchall()
