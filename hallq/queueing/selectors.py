"""Reads of the queue: what a counter, a ticket page, a display or a progress page shows."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Exists, OuterRef, QuerySet

from hallq.halls.models import Counter, CounterService, CounterState, Hall, Service
from hallq.queueing.domain.calling import people_ahead_all
from hallq.queueing.domain.estimates import (
    busyness,
    estimate_wait_seconds,
    typical_service_seconds,
)
from hallq.queueing.domain.model import CounterPolicy, TicketKind, WaitingTicket
from hallq.queueing.models import ACTIVE_AT_COUNTER, Ticket, TicketState

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


PLAIN_WALK_IN_KINDS = (TicketKind.WALK_IN, TicketKind.REMOTE)


def call_candidates(
    *, hall_id: int, service_date: date, service_ids: Iterable[int], per_service: int
) -> list[WaitingTicket]:
    """The waiting tickets that can be next at a counter, without reading the whole queue.

    Every reinstated or appointment ticket, and the first ``per_service`` plain walk-ins of each
    service: walk-ins of one service are called in issue order, so no later one can come first.
    The calling rules themselves stay in the domain (``choose_next``), which gets these.
    """
    waiting = Ticket.objects.filter(
        hall_id=hall_id, state=TicketState.WAITING, service_date=service_date
    )
    service_ids = list(service_ids)
    candidates = _as_waiting(
        waiting.filter(service_id__in=service_ids).exclude(
            kind__in=PLAIN_WALK_IN_KINDS, reinstated_at__isnull=True
        )
    )
    for service_id in service_ids:
        heads = waiting.filter(
            service_id=service_id, kind__in=PLAIN_WALK_IN_KINDS, reinstated_at__isnull=True
        ).order_by("queue_time", "id")[:per_service]
        candidates += _as_waiting(heads)
    return candidates


def counter_policy(counter: Counter) -> CounterPolicy:
    service_ids = tuple(
        CounterService.objects.filter(counter=counter, service__active=True)
        .order_by("priority", "service_id")
        .values_list("service_id", flat=True)
    )
    return CounterPolicy(
        service_ids=service_ids,
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


def counter_capacity(*, hall_id: int, service_ids: Iterable[int]) -> dict[int, Capacity]:
    """Per service: its open counters, and how many of them have nobody at them (one query)."""
    busy = Ticket.objects.filter(counter_id=OuterRef("counter_id"), state__in=ACTIVE_AT_COUNTER)
    tally: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for service_id, is_busy in (
        CounterService.objects.filter(
            counter__hall_id=hall_id,
            counter__state=CounterState.OPEN,
            service_id__in=list(service_ids),
        )
        .annotate(is_busy=Exists(busy))
        .values_list("service_id", "is_busy")
    ):
        tally[service_id][0] += 1
        tally[service_id][1] += 0 if is_busy else 1
    return {sid: Capacity(open_counters=o, idle_counters=i) for sid, (o, i) in tally.items()}


# Service times move slowly; one read per hall every half minute serves every estimate.
SERVICE_SECONDS_CACHE_SECONDS = 30


def typical_seconds(
    *, hall_id: int, now: datetime, service_ids: Iterable[int] | None = None
) -> dict[int, float]:
    """Per active service of the hall: the service time estimates are based on (§4.6).

    Cached for half a minute (per process, or in Redis when configured); a service missing from
    the cached answer (just created) makes it read again.
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

    key = f"hallq:service-seconds:{hall_id}"
    cached: dict[int, float] | None = cache.get(key)
    if cached is None or (service_ids is not None and not set(service_ids) <= set(cached)):
        cached = compute()
        cache.set(key, cached, SERVICE_SECONDS_CACHE_SECONDS)
    return cached


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
    """The hall a counter belongs to; cached, as counters never move between halls."""
    key = f"hallq:counter-hall:{counter_id}"
    hall_id: int | None = cache.get(key)
    if hall_id is None:
        hall_id = Counter.objects.filter(pk=counter_id).values_list("hall_id", flat=True).first()
        if hall_id is not None:
            cache.set(key, hall_id, 3600)
    return hall_id


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
