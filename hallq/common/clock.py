"""The one place interfaces read the time; services and the domain take ``now`` as an argument."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime

from django.utils import timezone


def now() -> datetime:
    return timezone.now()


def local_date(moment: datetime, zone: zoneinfo.ZoneInfo) -> date:
    return moment.astimezone(zone).date()
