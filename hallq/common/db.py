"""Database access from async code (SSE streams)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from asgiref.sync import sync_to_async
from django.db import connection

P = ParamSpec("P")
R = TypeVar("R")


def db_read(function: Callable[P, R]) -> Callable[P, Coroutine[Any, Any, R]]:
    """Run a short synchronous database read from async code, in a worker thread.

    The thread gives its connection back (to PostgreSQL's pool) as soon as the read is done:
    a stream stays open for hours and must not hold a connection meanwhile. Not Django's async
    ORM, which would run in the request's own thread and keep its connection for the stream's
    whole life.
    """

    @functools.wraps(function)
    def read_and_release(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        finally:
            connection.close()

    return sync_to_async(read_and_release, thread_sensitive=False)
