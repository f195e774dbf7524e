"""Database access outside the ORM's usual path: from async code (SSE streams), and columns
read by raw SQL."""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from asgiref.sync import sync_to_async
from django.db import connection
from django.db.models import Model

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


def column_value(model: type[Model], field_name: str, value: Any) -> Any:
    """A column read by raw SQL, as the ORM would have returned it: SQLite answers dates and
    times as text, and an encrypted field holds its ciphertext until its field opens it. Raw
    SQL is for the hottest statements, where compiling the ORM's query costs more than the
    database's work."""
    field = model._meta.get_field(field_name)
    column = field.cached_col  # type: ignore[union-attr]
    for convert in (
        *connection.ops.get_db_converters(column),
        *field.get_db_converters(connection),  # type: ignore[union-attr]
    ):
        value = convert(value, column, connection)
    return value
