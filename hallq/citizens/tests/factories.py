"""Small builders for citizen tests."""

from __future__ import annotations

from datetime import datetime

from hallq.citizens.models import Citizen, id_number_index, mobile_index
from hallq.common import clock


def make_citizen(
    mobile: str = "13812345678",
    *,
    name: str = "",
    id_number: str = "",
    now: datetime | None = None,
) -> Citizen:
    now = now or clock.now()
    return Citizen.objects.create(
        mobile=mobile,
        mobile_index=mobile_index(mobile),
        name=name,
        id_number=id_number,
        id_number_index=id_number_index(id_number) if id_number else None,
        created_at=now,
        registered_at=now if id_number else None,
    )
