"""Hall-local wall-clock times as instants."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def local_instant(day: date, wall_time: time, zone: ZoneInfo) -> datetime:
    """The instant at which clocks in ``zone`` show ``wall_time`` on ``day``.

    A wall time that occurs twice (autumn) is its first occurrence. A wall time that never
    occurs (the spring gap) becomes the first instant after the gap, when the clocks resume:
    a slot at 02:30 on a night the clocks jump from 02:00 to 03:00 starts at 03:00.
    The result is normalised through UTC, so its offset is the one in force at that instant.

    Compare such instants in UTC: by PEP 495, Python never finds a wall time of the autumn
    overlap equal to a datetime of another zone (a UTC value read from the database, say).
    """
    earlier = datetime.combine(day, wall_time, tzinfo=zone)  # fold=0: the first occurrence
    instant = earlier.astimezone(UTC).astimezone(zone)
    if (instant.date(), instant.time()) == (day, wall_time):
        return instant
    return _end_of_gap(earlier, zone)


def _end_of_gap(wall: datetime, zone: ZoneInfo) -> datetime:
    # Read with the offset after the gap, the wall time falls before the transition; with the
    # offset before it, after. The transition lies between: find it to the second.
    before = wall.replace(fold=1).astimezone(UTC)
    after = wall.replace(fold=0).astimezone(UTC)
    offset_after = after.astimezone(zone).utcoffset()
    while after - before > timedelta(seconds=1):
        middle = before + (after - before) // 2
        middle = middle.replace(microsecond=0)
        if middle.astimezone(zone).utcoffset() == offset_after:
            after = middle
        else:
            before = middle
    return after.astimezone(zone)
