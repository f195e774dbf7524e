"""Database access outside the ORM's usual path: from async code (SSE streams), and columns
read by raw SQL."""

from __future__ import annotations

import functools
import threading
import time
import weakref
from collections.abc import Callable, Coroutine, Iterable, Sequence
from typing import Any, ParamSpec, TypeVar

import psycopg
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Field, Model
from django.db.models.base import ModelState
from django.db.models.fields.related_descriptors import ForeignKeyDeferredAttribute
from django.db.models.query_utils import DeferredAttribute
from django.db.models.signals import post_init, pre_init

P = ParamSpec("P")
R = TypeVar("R")
M = TypeVar("M", bound=Model)


_request_thread = threading.local()


def keep_connection_between_requests(seconds: float) -> None:
    """Mark this thread as one that serves requests one after another (config/handlers.py): on
    PostgreSQL it keeps its pooled connection between them for up to ``seconds``
    (hallq.common.postgresql; 0 gives it back after every request, as other threads do)."""
    _request_thread.hold_seconds = seconds


def connection_hold_seconds() -> float:
    """How long this thread keeps a connection it takes from the pool; 0 for any thread not
    marked by ``keep_connection_between_requests``."""
    return float(getattr(_request_thread, "hold_seconds", 0.0))


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


def fetch_all(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """The rows of a hot read, run on PostgreSQL as a prepared statement of the connection.

    A hot read's own work is a few index lookups (tens of microseconds); planning it again on
    every execution cost PostgreSQL 0.2-1.7 ms (bench/NOTES.md). Prepared, the server plans it
    once per connection and keeps it while the pool keeps the connection (an hour at most).
    Only for statements of a fixed text (one text per query shape: arrays, not lists expanded
    into placeholders): psycopg keeps a prepared statement per text and parameter types (an
    ``int`` goes as int2, int4 or int8 by its size, so a text may have two or three), the last
    hundred per connection, and forgets them all at a rollback (the next execution prepares
    again). Nothing else is prepared (``prepare_threshold`` in settings), and these are planned
    once, generically (``plan_cache_mode`` there). Through Django's
    cursor wrapper, so execute wrappers see it, errors become Django's, and Django's query log
    has it. On SQLite, and with ``HALLQ_PREPARED_READS`` off, a plain execution.
    """
    # The connection itself, once: each attribute read through ``django.db.connection`` looks
    # this thread's connection up again (~2.5 µs).
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor != "postgresql" or not settings.HALLQ_PREPARED_READS:
        with db.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()
    db.ensure_connection()
    raw: Any = _PreparingCursor(db.connection)
    with db.make_cursor(raw) as cursor:
        started = time.monotonic()
        cursor.execute(sql, params)
        rows: list[tuple[Any, ...]] = cursor.fetchall()
    if db.queries_logged:
        # Django's debug cursor would log it as None: it reads the text from psycopg's
        # client-side cursors. As Django logs the others:
        db.queries_log.append(
            {
                "sql": db.ops.compose_sql(sql, params),  # type: ignore[attr-defined]
                "time": f"{time.monotonic() - started:.3f}",
            }
        )
    return rows


class _PreparingCursor(psycopg.Cursor[Any]):
    """Binds parameters on the server and prepares every statement it executes (Django's own
    cursors bind on the client, where nothing is prepared), and asks for the results in
    PostgreSQL's binary format.

    Binary results are read by psycopg's C loaders: a ``timestamptz`` in text goes through
    Django's loader, written in Python (an ISO parse, then the time zone set); an integer in
    text is parsed from its digits. The values are the same: datetimes aware in the session's
    time zone, which Django keeps at UTC (``timezone.utc``, as Django's loader gives), dates,
    integers, booleans, text, bytes, decimals. Not for ``json``/``jsonb`` or ``inet`` columns,
    which Django reads as text and binary loading would parse: no hot read has one (the
    fields of ``test_db`` hold the equality)."""

    def execute(self, query: Any, params: Any = None, **options: Any) -> Any:
        return super().execute(query, params, **{**options, "prepare": True, "binary": True})


def array_literal(values: Iterable[int | None]) -> str:
    """An array of integers as a parameter in PostgreSQL's text form (``{1,2,NULL}``), for a
    statement that casts it (``%s::bigint[]``). psycopg's own dumper of a list looks through
    it for the narrowest element type and writes each element (~5 µs a list, five in a call:
    bench/NOTES.md), and a list of small numbers and one of large ones are two prepared
    statements; text is one."""
    return "{" + ",".join("NULL" if value is None else str(int(value)) for value in values) + "}"


def column_value(model: type[Model], field_name: str, value: Any) -> Any:
    """A column read by raw SQL, as the ORM would have returned it: SQLite answers dates and
    times as text, and an encrypted field holds its ciphertext until its field opens it. Raw
    SQL is for the hottest statements, where compiling the ORM's query costs more than the
    database's work."""
    db = connections[DEFAULT_DB_ALIAS]
    column, converters = _row_converters(model, db)[_field_index(model, field_name)]
    for convert in converters:
        value = convert(value, column, db)
    return value


@functools.cache
def _field_index(model: type[Model], field_name: str) -> int:
    """Where a concrete field stands among its model's (``_row_converters``' order)."""
    field = model._meta.get_field(field_name)
    return list(model._meta.concrete_fields).index(field)  # type: ignore[arg-type]


def _converters_of(field: Field[Any, Any]) -> list[Any]:
    """What turns a column's raw value into the field's, as the ORM applies it."""
    return [
        *connection.ops.get_db_converters(field.cached_col),
        *field.get_db_converters(connection),
    ]


# Per database connection (each thread has its own) and model: the converters of each column.
_converters: weakref.WeakKeyDictionary[Any, dict[type[Model], list[tuple[Any, list[Any]]]]] = (
    weakref.WeakKeyDictionary()
)


def _row_converters(model: type[Model], db: Any) -> list[tuple[Any, list[Any]]]:
    per_model = _converters.setdefault(db, {})
    found = per_model.get(model)
    if found is None:
        found = [(field.cached_col, _converters_of(field)) for field in model._meta.concrete_fields]
        per_model[model] = found
    return found


# Per database connection and model: the columns that have converters, with their places.
_conversions: weakref.WeakKeyDictionary[
    Any, dict[type[Model], tuple[tuple[int, Any, tuple[Any, ...]], ...]]
] = weakref.WeakKeyDictionary()


def _columns_to_convert(
    model: type[Model], db: Any
) -> tuple[tuple[int, Any, tuple[Any, ...]], ...]:
    per_model = _conversions.get(db)
    if per_model is None:
        per_model = _conversions.setdefault(db, {})
    found = per_model.get(model)
    if found is None:
        found = tuple(
            (index, column, tuple(converters))
            for index, (column, converters) in enumerate(_row_converters(model, db))
            if converters
        )
        per_model[model] = found
    return found


def instance_from_row(model: type[M], values: Sequence[Any]) -> M:
    """A model instance from a raw row holding its concrete fields' columns in their order,
    converted as the ORM converts them (``column_value``), without compiling a query. Most
    columns have no converter (on PostgreSQL, all but encrypted and JSON ones): only those
    that have are looked at."""
    db = connections[DEFAULT_DB_ALIAS]
    attnames = _attnames(model)
    if len(values) != len(attnames):
        raise ValueError(f"{model.__name__} has {len(attnames)} columns, the row {len(values)}")
    converted = list(values)
    for index, column, converters in _columns_to_convert(model, db):
        value = converted[index]
        for convert in converters:
            value = convert(value, column, db)
        converted[index] = value
    if not _set_plainly(model) or pre_init.has_listeners(model) or post_init.has_listeners(model):
        return model.from_db(db.alias, attnames, converted)
    # What ``from_db`` makes of a whole row, without ``Model.__init__``'s walk over the fields
    # and their descriptors, ~5 % of a counter's call (bench/NOTES.md): the fields' values in
    # the instance's dictionary, where their descriptors keep them, and the state of a row
    # read from ``db``.
    instance = model.__new__(model)
    state = ModelState()
    state.adding, state.db = False, db.alias
    instance._state = state
    instance.__dict__.update(zip(attnames, converted, strict=True))
    return instance


def attach_related(instance: Model, name: str, related: Model) -> None:
    """``instance.<name> = related`` for a foreign key: the key's column and the related
    object remembered, as the field's descriptor sets them, without its checks of the object's
    model and of the database routers' consent (~6 µs each, and a counter's call made a dozen
    such: bench/NOTES.md). For objects this process has just read from its one database."""
    attname, cache_name, target = _foreign_key(type(instance), name)
    instance.__dict__[attname] = getattr(related, target)
    instance._state.fields_cache[cache_name] = related


@functools.cache
def _foreign_key(model: type[Model], name: str) -> tuple[str, str, str]:
    field = model._meta.get_field(name)
    if not field.many_to_one or len(field.related_fields) != 1:  # type: ignore[union-attr]
        raise ValueError(f"{model.__name__}.{name} is not a foreign key")
    return field.attname, field.cache_name, field.target_field.attname  # type: ignore[union-attr]


@functools.cache
def _attnames(model: type[Model]) -> list[str]:
    return [field.attname for field in model._meta.concrete_fields]


@functools.cache
def _set_plainly(model: type[Model]) -> bool:
    """Whether ``Model.__init__`` sets each of the model's fields by storing the value in the
    instance's dictionary and nothing more: fields read through ``DeferredAttribute``, and
    foreign keys' ids, whose descriptor also forgets a related object a new instance has not
    got. A field with a descriptor of its own (files, say) is set by ``Model.__init__``, and
    so is a model that overrides ``from_db``."""
    if model.from_db.__func__ is not Model.from_db.__func__:  # type: ignore[attr-defined]
        return False
    return all(
        type(model.__dict__.get(field.attname)) in (DeferredAttribute, ForeignKeyDeferredAttribute)
        for field in model._meta.concrete_fields
    )


@functools.cache
def columns_of(model: type[Model], alias: str) -> str:
    """The concrete fields' columns of ``model``, qualified by ``alias``, in their order: the
    select list ``instance_from_row`` reads."""
    return ", ".join(f"{alias}.{field.column}" for field in model._meta.concrete_fields)
