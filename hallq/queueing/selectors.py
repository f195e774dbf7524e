"""Reads of the queue: what a counter, a ticket page, a display or a progress page shows."""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet

from hallq.common.db import (
    array_literal,
    attach_related,
    columns_of,
    fetch_all,
    instance_from_row,
)
from hallq.common.memo import Memo
from hallq.halls.models import Counter, CounterService, CounterState, Hall, Service
from hallq.halls.selectors import hall_by_id
from hallq.queueing.domain.calling import people_ahead_all
from hallq.queueing.domain.estimates import (
    busyness,
    estimate_wait_seconds,
    typical_service_seconds,
)
from hallq.queueing.domain.model import CounterPolicy, TicketKind, WaitingTicket
from hallq.queueing.models import ACTIVE_AT_COUNTER, PLAIN_WALK_IN_KINDS, Ticket, TicketState

# Service times older than this say little about today's pace.
SERVICE_TIME_WINDOW = timedelta(days=14)


WAITING_FIELDS = (
    "id",
    "service_id",
    "kind",
    "queue_time",
    "slot_start",
    "checked_in_at",
    "reinstated_at",
)


def waiting_tickets(
    *, hall_id: int, service_date: date, service_ids: Iterable[int] | None = None
) -> list[WaitingTicket]:
    query = Ticket.objects.filter(
        hall_id=hall_id, state=TicketState.WAITING, service_date=service_date
    )
    if service_ids is not None:
        query = query.filter(service_id__in=list(service_ids))
    return _as_waiting(query)


def _as_waiting(query: QuerySet[Ticket]) -> list[WaitingTicket]:
    return [
        WaitingTicket(
            id=row["id"],
            service_id=row["service_id"],
            kind=TicketKind(row["kind"]),
            queue_time=row["queue_time"],
            slot_start=row["slot_start"],
            checked_in_at=row["checked_in_at"],
            reinstated_at=row["reinstated_at"],
        )
        for row in query.values(*WAITING_FIELDS)
    ]


def as_waiting(ticket: Ticket) -> WaitingTicket:
    return WaitingTicket(
        id=ticket.pk,
        service_id=ticket.service_id,
        kind=TicketKind(ticket.kind),
        queue_time=ticket.queue_time,
        slot_start=ticket.slot_start,
        checked_in_at=ticket.checked_in_at,
        reinstated_at=ticket.reinstated_at,
    )


def call_candidates(
    *,
    hall_id: int,
    service_date: date,
    service_ids: Iterable[int],
    per_service: int,
) -> list[Ticket]:
    """The waiting tickets that can be next at a counter, without reading the whole queue.

    Every reinstated or appointment ticket, and the first ``per_service`` plain walk-ins of each
    service: walk-ins of one service are called in issue order, so no later one can come first.
    One statement (the heads of the services' queues through the ``ticket_waiting_in_order``
    index); the calling rules themselves stay in the domain (``choose_next``).
    """
    service_ids = list(service_ids)
    if not service_ids:
        return []
    if connection.vendor == "postgresql":
        sql, params = _candidates_sql_postgresql(hall_id, service_date, service_ids, per_service)
    else:
        sql, params = _candidates_sql(hall_id, service_date, service_ids, per_service)
    return [instance_from_row(Ticket, row) for row in fetch_all(sql, params)]


@functools.cache
def _candidates_parts() -> tuple[str, str, str, str]:
    """The table, its columns in ``instance_from_row``'s order, and the two conditions: the
    waiting tickets that are not plain walk-ins, as the partial index ticket_waiting_priority
    says it (so that it is used), and the plain walk-ins, as ticket_waiting_in_order says it."""
    plain = ", ".join(f"'{kind}'" for kind in PLAIN_WALK_IN_KINDS)
    return (
        Ticket._meta.db_table,
        ", ".join(str(field.column) for field in Ticket._meta.concrete_fields),
        f"state = 'waiting' AND (NOT (kind IN ({plain})) OR reinstated_at IS NOT NULL)",
        f"state = 'waiting' AND kind IN ({plain}) AND reinstated_at IS NULL",
    )


def _candidates_sql(
    hall_id: int, service_date: date, service_ids: list[int], per_service: int
) -> tuple[str, list[Any]]:
    """SQLite: one branch per service for its head."""
    table, columns, priority, plain = _candidates_parts()
    in_services = ", ".join(["%s"] * len(service_ids))
    parts = [
        f"SELECT {columns} FROM {table} "  # noqa: S608
        f"WHERE hall_id = %s AND service_date = %s AND service_id IN ({in_services}) "
        f"AND {priority}"
    ]
    params: list[Any] = [hall_id, service_date, *service_ids]
    for index, service_id in enumerate(service_ids):
        parts.append(
            f"SELECT * FROM (SELECT {columns} FROM {table} "  # noqa: S608
            f"WHERE service_id = %s AND service_date = %s AND hall_id = %s AND {plain} "
            f"ORDER BY queue_time, id LIMIT %s) AS head_{index}"
        )
        params += [service_id, service_date, hall_id, per_service]
    return " UNION ALL ".join(parts), params


def _candidates_sql_postgresql(
    hall_id: int, service_date: date, service_ids: list[int], per_service: int
) -> tuple[str, list[Any]]:
    """PostgreSQL: one text whatever the number of services (the services as an array, each
    one's head by a lateral join), run as a prepared statement (``fetch_all``): planning the
    branch-per-service form cost PostgreSQL 0.4 ms for one service and 1.8 ms for five, its
    execution 0.03-0.05 ms."""
    return _candidates_text_postgresql(per_service), _candidates_params_postgresql(
        hall_id, service_date, service_ids
    )


def _candidates_params_postgresql(
    hall_id: int, service_date: date, service_ids: list[int]
) -> list[Any]:
    """The parameters of ``_candidates_text_postgresql``, in its order."""
    services = array_literal(service_ids)
    return [hall_id, service_date, services, services, service_date, hall_id]


@functools.cache
def _candidates_text_postgresql(per_service: int) -> str:
    """``per_service`` is written into the text, an integer of the code's: with it as a
    parameter the server found its generic plan dearer and planned every execution again (it
    still did for the services' array until connections asked for generic plans: settings'
    ``plan_cache_mode``)."""
    table, columns, priority, plain = _candidates_parts()
    return (
        f"SELECT {columns} FROM {table} "  # noqa: S608
        "WHERE hall_id = %s::bigint AND service_date = %s::date "
        f"AND service_id = ANY(%s::bigint[]) AND {priority} "
        "UNION ALL SELECT head.* FROM unnest(%s::bigint[]) AS wanted(service_id) "
        f"CROSS JOIN LATERAL (SELECT {columns} FROM {table} "
        "WHERE service_id = wanted.service_id AND service_date = %s::date "
        f"AND hall_id = %s::bigint AND {plain} "
        f"ORDER BY queue_time, id LIMIT {int(per_service)}) AS head"
    )


def walk_in_position(
    *, hall_id: int, service_id: int, service_date: date, now: datetime
) -> tuple[int, int]:
    """(people ahead, waiting) for a walk-in joining the service's queue at ``now``: one COUNT.

    The SQL form of the domain's ``people_ahead`` for a new walk-in (the test suite checks the two
    agree): reinstated tickets and appointments whose slot has started come first, then the
    walk-ins already in the queue; appointments checked in before their slot come after.
    """
    at = connection.ops.adapt_datetimefield_value(now)
    sql = (
        "SELECT COUNT(*), COALESCE(SUM(CASE "  # noqa: S608
        "WHEN reinstated_at IS NOT NULL THEN 1 "
        "WHEN kind = %s AND slot_start IS NOT NULL THEN "
        "  (CASE WHEN slot_start <= %s THEN 1 ELSE 0 END) "
        "WHEN queue_time <= %s THEN 1 ELSE 0 END), 0) "
        f"FROM {Ticket._meta.db_table} "
        "WHERE hall_id = %s AND service_id = %s AND service_date = %s AND state = 'waiting'"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql, [TicketKind.APPOINTMENT.value, at, at, hall_id, service_id, service_date]
        )
        waiting, ahead = cursor.fetchone()
    return int(ahead), int(waiting)


# Which services a counter calls changes a few times a day; every call reads it
# (hallq/common/memo.py: changes in this process are seen at once, others' within this).
MEMO_SECONDS = 5
_counter_services: Memo[tuple[int, ...]] = Memo(MEMO_SECONDS)
_counter_halls: Memo[int] = Memo(3600)


def counter_at_work(counter_id: int) -> tuple[Counter, Ticket | None]:
    """The counter and the ticket called to or served at it, as they are now, in one statement
    and without a lock: what a counter action decides on before a function checks, under the
    counter's lock, that none of it changed (migration 0006). Raw SQL with the hall from this
    process's memo: the ORM's compiling of the read cost more than the database's work."""
    rows = fetch_all(_counter_at_work_text(), [counter_id])
    if not rows:
        raise Counter.DoesNotExist(f"No counter {counter_id}.")
    return counter_and_ticket(rows[0])


@functools.cache
def _counter_at_work_text() -> str:
    active = ", ".join(f"'{state.value}'" for state in ACTIVE_AT_COUNTER)
    return (
        f"SELECT {columns_of(Counter, 'counter')}, {columns_of(Ticket, 'ticket')} "  # noqa: S608
        f"FROM {Counter._meta.db_table} AS counter "
        f"LEFT JOIN {Ticket._meta.db_table} AS ticket "
        f"ON ticket.counter_id = counter.id AND ticket.state IN ({active}) "
        "WHERE counter.id = %s::bigint"
    )


def counter_at_work_and_candidates(
    *,
    counter_id: int,
    hall_id: int,
    service_date: date,
    service_ids: Sequence[int],
    per_service: int,
) -> tuple[Counter, Ticket | None, list[Ticket]]:
    """``counter_at_work`` and ``call_candidates`` on PostgreSQL in one statement: a call's two
    reads, one round trip and one execution through the cursor instead of two. The counter's
    row comes with its current ticket's columns; each candidate's row has the counter's columns
    empty and the candidate's in the ticket's place. ``hall_id`` and ``service_ids`` are this
    process's memos of the counter's (a counter never changes hall; a change of its services
    is seen as ``counter_service_ids`` sees it)."""
    if connection.vendor != "postgresql":  # as counter_at_work, which it includes
        raise NotImplementedError("counter_at_work_and_candidates reads on PostgreSQL only")
    if not service_ids:
        return (*counter_at_work(counter_id), [])
    candidates_params = _candidates_params_postgresql(hall_id, service_date, list(service_ids))
    rows = fetch_all(
        _counter_at_work_and_candidates_text(per_service), [counter_id, *candidates_params]
    )
    split = len(Counter._meta.concrete_fields)
    found: Sequence[Any] | None = None
    candidates = []
    for row in rows:
        if row[0] is None:
            candidates.append(instance_from_row(Ticket, row[split:]))
        else:
            found = row
    if found is None:
        raise Counter.DoesNotExist(f"No counter {counter_id}.")
    return (*counter_and_ticket(found), candidates)


@functools.cache
def _counter_at_work_and_candidates_text(per_service: int) -> str:
    empty = ", ".join(
        f"NULL::{field.db_type(connection)}" for field in Counter._meta.concrete_fields
    )
    return (
        f"{_counter_at_work_text()} UNION ALL SELECT {empty}, candidate.* "  # noqa: S608
        f"FROM ({_candidates_text_postgresql(per_service)}) AS candidate"
    )


def counter_and_ticket(row: Sequence[Any]) -> tuple[Counter, Ticket | None]:
    """A counter (with its hall from this process's memo) and a ticket or none, from a row of
    their columns (``columns_of``), the counter's first."""
    split = len(Counter._meta.concrete_fields)
    counter = instance_from_row(Counter, row[:split])
    hall = hall_by_id(counter.hall_id)
    if hall is not None:
        attach_related(counter, "hall", hall)
    ticket = instance_from_row(Ticket, row[split:]) if row[split] is not None else None
    return counter, ticket


def counter_service_ids(counter_id: int) -> tuple[int, ...]:
    """The active services a counter calls, in its priority order."""

    def read() -> tuple[int, ...]:
        return tuple(
            CounterService.objects.filter(counter_id=counter_id, service__active=True)
            .order_by("priority", "service_id")
            .values_list("service_id", flat=True)
        )

    return _counter_services.remembered(counter_id, read)


def counter_policy(counter: Counter, service_ids: tuple[int, ...] | None = None) -> CounterPolicy:
    """The counter's calling settings; its services read now unless given (as read already)."""
    return CounterPolicy(
        service_ids=counter_service_ids(counter.pk) if service_ids is None else service_ids,
        use_service_priority=counter.use_service_priority,
        interleave_after=counter.interleave_after,
    )


def recent_service_seconds(
    *, hall_id: int, now: datetime, service_ids: Iterable[int] | None = None
) -> dict[int, list[float]]:
    """The last samples of real service time per service (§4.6)."""
    limit = settings.HALLQ_SERVICE_TIME_SAMPLES
    query = Ticket.objects.filter(
        hall_id=hall_id,
        finished_at__gte=now - SERVICE_TIME_WINDOW,
        service_seconds__isnull=False,
    )
    if service_ids is not None:
        query = query.filter(service_id__in=list(service_ids))
    samples: dict[int, list[float]] = defaultdict(list)
    for service_id, seconds in query.order_by("-finished_at").values_list(
        "service_id", "service_seconds"
    )[: limit * 20]:
        if len(samples[service_id]) < limit:
            samples[service_id].append(float(seconds or 0))
    return samples


@dataclass(frozen=True, slots=True)
class ServiceQueue:
    service_id: int
    waiting: int
    open_counters: int
    idle_counters: int
    service_seconds: float

    def estimate(self, people_ahead: int) -> int | None:
        return estimate_wait_seconds(
            people_ahead, self.open_counters, self.service_seconds, self.idle_counters
        )


@dataclass(frozen=True, slots=True)
class QueueSnapshot:
    """The whole waiting queue of a hall at one moment, with people ahead of every ticket."""

    hall_id: int
    at: datetime
    ahead: dict[int, int]
    services: dict[int, ServiceQueue]

    def people_ahead(self, ticket_id: int) -> int | None:
        return self.ahead.get(ticket_id)

    def estimate(self, ticket_id: int, service_id: int) -> int | None:
        ahead = self.ahead.get(ticket_id)
        queue = self.services.get(service_id)
        if ahead is None or queue is None:
            return None
        return queue.estimate(ahead)


@dataclass(frozen=True, slots=True)
class Capacity:
    open_counters: int = 0
    idle_counters: int = 0


def counter_capacity(
    *, hall_id: int, service_ids: Iterable[int] | None = None
) -> dict[int, Capacity]:
    """Per service (every service of the hall when none are named): its open counters, and how
    many of them have nobody at them (one query)."""
    wanted = None if service_ids is None else list(service_ids)
    if wanted == []:
        return {}
    in_services = (
        "" if wanted is None else f"AND link.service_id IN ({', '.join(['%s'] * len(wanted))}) "
    )
    active = ", ".join(f"'{state.value}'" for state in ACTIVE_AT_COUNTER)
    sql = (
        "SELECT link.service_id, COUNT(*), SUM(CASE WHEN EXISTS ("  # noqa: S608
        f"  SELECT 1 FROM {Ticket._meta.db_table} AS ticket "
        f"  WHERE ticket.counter_id = counter.id AND ticket.state IN ({active})"
        ") THEN 0 ELSE 1 END) "
        f"FROM {CounterService._meta.db_table} AS link "
        f"JOIN {Counter._meta.db_table} AS counter ON counter.id = link.counter_id "
        f"WHERE counter.hall_id = %s AND counter.state = %s {in_services}"
        "GROUP BY link.service_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [hall_id, CounterState.OPEN.value, *(wanted or ())])
        rows = cursor.fetchall()
    return {
        service_id: Capacity(open_counters=int(open_), idle_counters=int(idle))
        for service_id, open_, idle in rows
    }


# Which counters are open, and which of them idle, changes with every call; a new ticket's first
# estimate (§4.6) reads it at most this old. A counter action in this process forgets it
# (locks.lock_counter_at_work, and the one-statement actions of services.py), so only other
# processes' actions are seen that much later.
CAPACITY_MEMO_SECONDS = 1.0
_hall_capacity: Memo[dict[int, Capacity]] = Memo(CAPACITY_MEMO_SECONDS)


def recent_capacity(hall_id: int) -> dict[int, Capacity]:
    """``counter_capacity`` of every service of the hall, as of at most a second ago."""
    return _hall_capacity.remembered(hall_id, lambda: counter_capacity(hall_id=hall_id))


def forget_capacity(hall_id: int) -> None:
    _hall_capacity.forget(hall_id)


# Service times move slowly; one read per hall and process every half minute serves every
# estimate (a memo: no round trip to a shared cache for it either).
SERVICE_SECONDS_MEMO_SECONDS = 30
_service_seconds: Memo[dict[int, float]] = Memo(SERVICE_SECONDS_MEMO_SECONDS)


def typical_seconds(
    *, hall_id: int, now: datetime, service_ids: Iterable[int] | None = None
) -> dict[int, float]:
    """Per active service of the hall: the service time estimates are based on (§4.6).

    Remembered for half a minute; a service missing from the remembered answer (just created)
    makes it read again.
    """

    def compute() -> dict[int, float]:
        defaults = dict(
            Service.objects.filter(hall_id=hall_id, active=True).values_list(
                "id", "average_service_seconds"
            )
        )
        samples = recent_service_seconds(hall_id=hall_id, now=now, service_ids=defaults)
        return {
            service_id: typical_service_seconds(samples.get(service_id, []), float(default or 0))
            for service_id, default in defaults.items()
        }

    known = _service_seconds.get(hall_id, compute) or {}
    if service_ids is not None and not set(service_ids) <= set(known):
        _service_seconds.forget(hall_id)
        known = _service_seconds.get(hall_id, compute) or {}
    return known


def service_queue(
    *, service_id: int, waiting: int, capacity: Capacity | None, seconds: float
) -> ServiceQueue:
    capacity = capacity or Capacity()
    return ServiceQueue(
        service_id=service_id,
        waiting=waiting,
        open_counters=capacity.open_counters,
        idle_counters=capacity.idle_counters,
        service_seconds=seconds,
    )


def queue_snapshot(
    *, hall: Hall, now: datetime, service_ids: Iterable[int] | None = None
) -> QueueSnapshot:
    service_date = now.astimezone(hall.zone).date()
    wanted = list(service_ids) if service_ids is not None else None
    seconds = typical_seconds(hall_id=hall.pk, now=now, service_ids=wanted)
    if wanted is None:
        wanted = list(seconds)
    waiting = waiting_tickets(hall_id=hall.pk, service_date=service_date, service_ids=wanted)
    capacity = counter_capacity(hall_id=hall.pk, service_ids=wanted)
    waiting_count: dict[int, int] = defaultdict(int)
    for ticket in waiting:
        waiting_count[ticket.service_id] += 1
    queues = {
        service_id: service_queue(
            service_id=service_id,
            waiting=waiting_count[service_id],
            capacity=capacity.get(service_id),
            seconds=seconds[service_id],
        )
        for service_id in wanted
        if service_id in seconds
    }
    return QueueSnapshot(
        hall_id=hall.pk, at=now, ahead=people_ahead_all(waiting, now), services=queues
    )


@dataclass(frozen=True, slots=True)
class ServiceProgress:
    service_id: int
    name: str
    prefix: str
    now_serving: list[str]
    waiting: int
    open_counters: int
    estimated_wait_seconds: int | None
    idle: bool


@dataclass(frozen=True, slots=True)
class HallProgress:
    hall_id: int
    name: str
    waiting: int
    open_counters: int
    idle: bool
    services: list[ServiceProgress]


def hall_progress(*, hall: Hall, now: datetime) -> HallProgress:
    """Per service: now serving, waiting, open counters, the wait a new ticket would face (§4.7)."""
    snapshot = queue_snapshot(hall=hall, now=now)
    service_date = now.astimezone(hall.zone).date()
    serving: dict[int, list[str]] = defaultdict(list)
    for service_id, number in (
        Ticket.objects.filter(hall=hall, service_date=service_date, state__in=ACTIVE_AT_COUNTER)
        .order_by("called_at")
        .values_list("service_id", "number")
    ):
        serving[service_id].append(number)
    services = []
    for service in Service.objects.filter(hall=hall, active=True):
        queue = snapshot.services[service.pk]
        services.append(
            ServiceProgress(
                service_id=service.pk,
                name=service.name,
                prefix=service.prefix,
                now_serving=serving[service.pk],
                waiting=queue.waiting,
                open_counters=queue.open_counters,
                estimated_wait_seconds=queue.estimate(queue.waiting),
                idle=busyness(queue.waiting, queue.open_counters, hall.busy_threshold).idle,
            )
        )
    open_total = Counter.objects.filter(hall=hall, state=CounterState.OPEN).count()
    waiting_total = sum(s.waiting for s in services)
    return HallProgress(
        hall_id=hall.pk,
        name=hall.name,
        waiting=waiting_total,
        open_counters=open_total,
        idle=busyness(waiting_total, open_total, hall.busy_threshold).idle,
        services=services,
    )


def counter_hall_id(counter_id: int) -> int | None:
    """The hall a counter belongs to; remembered, as counters never move between halls."""
    return _counter_halls.get(
        counter_id,
        lambda: Counter.objects.filter(pk=counter_id).values_list("hall_id", flat=True).first(),
    )


def counter_active_ticket(counter: Counter) -> Ticket | None:
    return (
        Ticket.objects.filter(counter=counter, state__in=ACTIVE_AT_COUNTER)
        .select_related("service")
        .first()
    )


def recent_calls(*, hall: Hall, now: datetime, limit: int = 10) -> list[Ticket]:
    service_date = now.astimezone(hall.zone).date()
    return list(
        Ticket.objects.filter(hall=hall, service_date=service_date, called_at__isnull=False)
        .select_related("counter", "service")
        .order_by("-called_at")[:limit]
    )
