"""Reads of halls and services that hot requests make every time."""

from __future__ import annotations

from hallq.common.memo import Memo
from hallq.halls.models import Hall, Service

# Every ticket issued, call made and booking read their service and hall, which change a few
# times a year. A change made in this process forgets them at once (signals in apps.py,
# hallq/common/memo.py); one made in another process is seen within this time.
SERVICE_MEMO_SECONDS = 5
_services: Memo[Service] = Memo(SERVICE_MEMO_SECONDS)


def service_with_hall(service_id: int) -> Service | None:
    """The service, with its hall loaded (active or not: callers decide)."""
    return _services.get(
        service_id, lambda: Service.objects.select_related("hall").filter(pk=service_id).first()
    )


_halls: Memo[Hall] = Memo(SERVICE_MEMO_SECONDS)


def hall_by_id(hall_id: int) -> Hall | None:
    """The hall (its time zone decides every service day), remembered as services are."""
    return _halls.get(hall_id, lambda: Hall.objects.filter(pk=hall_id).first())
