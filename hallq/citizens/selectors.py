"""Reads about citizens."""

from __future__ import annotations

from datetime import datetime

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


def citizen_by_id_number(id_number: str) -> Citizen | None:
    """The registered citizen with this ID number (as typed at a kiosk), found by its blind
    index: the column itself is encrypted."""
    return Citizen.objects.filter(
        id_number_index=id_number_index(normalise_id_number(id_number))
    ).first()
