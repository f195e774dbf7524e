"""Reading the outbox: delivery rate and latency per hall and day, for the administrator."""

from __future__ import annotations

import math
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from hallq.halls.models import Hall
from hallq.notifications.models import Notification, NotificationState


@dataclass(frozen=True, slots=True)
class DeliveryDay:
    hall_id: int | None
    hall_name: str
    day: date
    created: int
    sent: int
    failed: int
    # Neither sent nor failed yet: pending, or being sent.
    waiting: int
    # Seconds from the change that caused a notification to its delivery; None when none sent.
    latency_p50: float | None
    latency_p99: float | None

    @property
    def delivery_rate(self) -> float:
        return self.sent / self.created if self.created else 0.0


def percentile(sorted_values: list[float], fraction: float) -> float | None:
    """The nearest-rank percentile: a value that was observed, never an interpolation."""
    if not sorted_values:
        return None
    rank = max(math.ceil(fraction * len(sorted_values)), 1)
    return sorted_values[rank - 1]


def delivery_days(*, hall_ids: set[int] | None, since: datetime) -> list[DeliveryDay]:
    """Notifications created since ``since``, by hall and by day in the hall's own time zone
    (the server's for notifications of no hall); newest day first. ``hall_ids`` None: all."""
    rows = Notification.objects.filter(created_at__gte=since)
    halls = Hall.objects.all()
    if hall_ids is not None:
        rows = rows.filter(hall_id__in=hall_ids)
        halls = halls.filter(pk__in=hall_ids)
    names: dict[int | None, str] = {None: "-"}
    zones: dict[int | None, zoneinfo.ZoneInfo] = {None: zoneinfo.ZoneInfo("UTC")}
    for hall in halls.only("pk", "name", "time_zone"):
        names[hall.pk] = hall.name
        zones[hall.pk] = hall.zone
    counts: dict[tuple[int | None, date], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    latencies: dict[tuple[int | None, date], list[float]] = defaultdict(list)
    for of_hall, created_at, state, sent_at in rows.values_list(
        "hall_id", "created_at", "state", "sent_at"
    ).iterator(chunk_size=5000):
        zone = zones.get(of_hall, zones[None])
        key = (of_hall, created_at.astimezone(zone).date())
        counts[key][state] += 1
        if state == NotificationState.SENT and sent_at is not None:
            latencies[key].append((sent_at - created_at).total_seconds())
    days = []
    for (hall_id, day), by_state in counts.items():
        observed = sorted(latencies[hall_id, day])
        days.append(
            DeliveryDay(
                hall_id=hall_id,
                hall_name=names.get(hall_id, str(hall_id)),
                day=day,
                created=sum(by_state.values()),
                sent=by_state[NotificationState.SENT],
                failed=by_state[NotificationState.FAILED],
                waiting=by_state[NotificationState.PENDING] + by_state[NotificationState.SENDING],
                latency_p50=percentile(observed, 0.50),
                latency_p99=percentile(observed, 0.99),
            )
        )
    days.sort(key=lambda row: (-row.day.toordinal(), row.hall_name))
    return days
