"""Small builders for queue tests: a hall with services and counters, without the demo's size."""

from __future__ import annotations

from datetime import datetime

from hallq.halls.models import Counter, CounterService, CounterState, Hall, Organisation, Service


def make_hall(name: str = "测试大厅", time_zone: str = "Asia/Shanghai") -> Hall:
    organisation = Organisation.objects.create(name=f"{name}所属机构")
    return Hall.objects.create(organisation=organisation, name=name, time_zone=time_zone)


def make_service(hall: Hall, prefix: str, name: str | None = None, seconds: int = 300) -> Service:
    return Service.objects.create(
        hall=hall, prefix=prefix, name=name or f"业务{prefix}", average_service_seconds=seconds
    )


def make_counter(
    hall: Hall,
    number: int,
    services: list[Service],
    state: str = CounterState.OPEN,
    **options: object,
) -> Counter:
    counter = Counter.objects.create(hall=hall, number=number, state=state, **options)
    for priority, service in enumerate(services):
        CounterService.objects.create(counter=counter, service=service, priority=priority)
    return counter


def at(hour: int, minute: int = 0, *, day: int = 2) -> datetime:
    """A moment on 2026-03-<day> in Shanghai time, as an aware datetime."""
    import zoneinfo

    return datetime(2026, 3, day, hour, minute, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))
