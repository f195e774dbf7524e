"""The one place interfaces read the time; services and the domain take ``now`` as an argument."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone


def now() -> datetime:
    return timezone.now()
