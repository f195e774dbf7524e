"""Reads about citizens."""

from __future__ import annotations

from datetime import datetime

from django.core.cache import cache

from hallq.citizens.domain.identity import normalise_id_number
from hallq.citizens.models import Agreement, BlacklistEntry, Citizen, id_number_index


def blacklisted_until(*, citizen_id: int, now: datetime) -> datetime | None:
    """The end of the citizen's current blacklisting, or None."""
    return (
        BlacklistEntry.objects.filter(
            citizen_id=citizen_id, lifted_at=None, starts_at__lte=now, ends_at__gt=now
        )
        .order_by("-ends_at")
        .values_list("ends_at", flat=True)
        .first()
    )


def current_agreement() -> Agreement | None:
    return Agreement.objects.order_by("-version").first()


AGREEMENT_VERSION_KEY = "agreement-version"
# Every booking checks the version; a new version reaches other processes within this time
# (at once with a shared Redis cache).
AGREEMENT_CACHE_SECONDS = 10


def current_agreement_version() -> int:
    """The version every citizen must have accepted (0: there is no agreement)."""
    version: int | None = cache.get(AGREEMENT_VERSION_KEY)
    if version is None:
        version = (
            Agreement.objects.order_by("-version").values_list("version", flat=True).first() or 0
        )
        cache.set(AGREEMENT_VERSION_KEY, version, AGREEMENT_CACHE_SECONDS)
    return version


def citizen_by_id_number(id_number: str) -> Citizen | None:
    """The registered citizen with this ID number (as typed at a kiosk), found by its blind
    index: the column itself is encrypted."""
    return Citizen.objects.filter(
        id_number_index=id_number_index(normalise_id_number(id_number))
    ).first()
